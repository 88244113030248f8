/**
 * Draws from Beta and Gamma distributions with an injected uniform rng
 * (core/ has no randomness of its own). Used by the router's Thompson
 * sampling. Marsaglia–Tsang for Gamma(k ≥ 1), boosted for k < 1.
 */

function normal(rng: () => number): number {
  // Box–Muller; 1 − u keeps the log argument in (0, 1].
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function sampleGamma(rng: () => number, k: number): number {
  if (!(k > 0)) return 0;
  if (k < 1) return sampleGamma(rng, k + 1) * Math.pow(1 - rng(), 1 / k);
  const d = k - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (let i = 0; i < 64; i += 1) {
    const x = normal(rng);
    const v0 = 1 + c * x;
    if (v0 <= 0) continue;
    const v = v0 * v0 * v0;
    const u = 1 - rng();
    if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
  return k; // a degenerate rng (constant output) must not loop forever: the mean
}

/** One draw of Beta(a, b); a, b > 0. */
export function sampleBeta(rng: () => number, a: number, b: number): number {
  const x = sampleGamma(rng, a);
  const y = sampleGamma(rng, b);
  return x + y > 0 ? x / (x + y) : a / (a + b);
}

/**
 * How strong a LAN access code is. The code is the only thing between a LAN
 * stranger and the user app, so it must carry real entropy: codes are
 * compared without case, spaces or dashes (see server/user/deps.ts), and the
 * estimate counts only what survives that normalisation. Pure.
 */
export const MIN_CODE_BITS = 40;

export function normaliseAccessCode(code: string): string {
  return code
    .trim()
    .toUpperCase()
    .replace(/[\s-]+/g, '');
}

/** A conservative entropy estimate: length × log2(alphabet of the classes used), capped by the distinct characters. */
export function accessCodeBits(code: string): number {
  const c = normaliseAccessCode(code);
  if (c.length === 0) return 0;
  let alphabet = 0;
  if (/[0-9]/.test(c)) alphabet += 10;
  if (/[A-Z]/.test(c)) alphabet += 26;
  if (/[^0-9A-Z]/.test(c)) alphabet += 32;
  const distinct = new Set(c).size;
  // "AAAAAAAAAAAA" or "121212121212" is not 40 bits whatever its length.
  if (distinct < 4) return distinct * Math.log2(alphabet);
  return c.length * Math.log2(alphabet);
}

/** null when the code is strong enough, else a message saying why and how to fix it. */
export function accessCodeProblem(code: string): string | null {
  const bits = accessCodeBits(code);
  if (bits >= MIN_CODE_BITS) return null;
  return `the LAN access code is too weak (~${Math.floor(bits)} bits, need ≥ ${MIN_CODE_BITS}): use at least 9 letters, 8 mixed letters and digits, or 13 digits, not a repeated pattern — or run with --lan-code auto`;
}

/**
 * An informative complexity score for a task text, 0 (trivial) .. 1 (hard).
 *
 * DESIGN §11: the old score started at 0.5 and moved ±0.1 per keyword from two
 * short lists, so 21 of 24 real tasks sat at the default. Here every feature
 * is a graded value in 0..1 (not a yes/no), keywords carry their own weights,
 * and the result lists each feature's contribution so the UI can show why.
 *
 *   score = clamp(BASE + Σ weight_i · value_i, 0, 1)
 *
 * Linear on purpose: a contribution reads as "refactor + race condition added
 * 0.30", which a logistic squash would hide. Pure and allocation-light: the
 * router calls it on every decision (bench: well under 50 µs).
 */

export interface ComplexityFeature {
  name: string;
  value: number; // normalised 0..1
  weight: number; // signed; easy keywords pull the score down
  contribution: number; // weight · value
  detail?: string; // what matched, for the explanation
}

export interface ComplexityResult {
  score: number;
  bucket: ComplexityBucket;
  features: ComplexityFeature[];
}

export const COMPLEXITY_BUCKETS = ['trivial', 'easy', 'medium', 'hard', 'very_hard'] as const;
export type ComplexityBucket = (typeof COMPLEXITY_BUCKETS)[number];

/** Score of a task with no signal at all (short text, no keywords). */
export const COMPLEXITY_BASE = 0.3;

const WEIGHTS = {
  length: 0.16,
  code_refs: 0.08,
  files: 0.14,
  stack_trace: 0.14,
  hard_keywords: 0.36,
  feature_keywords: 0.12,
  easy_keywords: -0.34,
  steps: 0.12,
  depends_on_depth: 0.06,
} as const;

// [pattern, strength]. Strengths add up and saturate (see keywordValue), so
// "refactor" alone is a nudge while "refactor + race condition" is decisive.
const HARD_TERMS: ReadonlyArray<readonly [RegExp, number]> = [
  [/\brace conditions?\b|\bdata races?\b/, 1.0],
  [/\bdeadlocks?\b|\blivelock\b/, 1.0],
  [/\bmemory leaks?\b/, 0.9],
  [/\barchitect(?:ure|ural)?\b|\bredesign\b/, 0.8],
  [/\bdistributed\b|\bconsensus\b|\breplication\b|\bsharding\b/, 0.8],
  [/\bconcurren(?:cy|t)\b|\bthread[- ]safe\b|\bparallel(?:ism|ize)?\b/, 0.7],
  [/\bsecurity\b|\bvulnerab\w*/, 0.7],
  [/\bcsrf\b|\bxss\b|\binjection\b|\brebinding\b|\bhijack\w*|\battacker\b/, 0.5],
  [/\broot cause\b/, 0.6],
  [/\bintermittent(?:ly)?\b|\bflaky\b|\bnon-?deterministic\b/, 0.7],
  [/\bmigrat(?:e|ion|ing)\b/, 0.6],
  [/\brefactor(?:ing)?\b|\brewrite\b|\brestructure\b/, 0.6],
  [/\bbackwards?[- ]compatib\w*|\bzero[- ]downtime\b/, 0.6],
  [/\bdebug(?:ging)?\b|\binvestigate\b|\bdiagnose\b|\bprofil(?:e|ing)\b/, 0.5],
  [/\boptimi[sz](?:e|ation)\b|\bperformance\b/, 0.5],
  [/\blatency\b|\bthroughput\b|\bbottleneck\b|\bunder load\b|\blinear\b|\bquadratic\b|\bo\(n/, 0.4],
  [/\bencrypt(?:ion)?\b|\bcrypto\w*|\bsignatures?\b|\bsigned\b|\bauth(?:entication|orization)?\b/, 0.4],
  [/\btransactions?\b|\batomic(?:ally)?\b|\bidempoten\w*|\bconsistency\b/, 0.5],
  [/\bleases?\b|\bheartbeats?\b|\bretries\b|\bbackoff\b/, 0.3],
  [/\bprotocol\b|\balgorithm\b|\bstate machine\b|\bscheduler\b|\bparser\b|\bcompiler\b/, 0.4],
  [/\bacross (?:the )?(?:codebase|repo(?:sitory)?|services|modules)\b|\bend[- ]to[- ]end\b/, 0.5],
  [/\bcrash(?:es|ing)?\b|\bsegfault\b|\bcorrupt(?:ion|ed)?\b|\bregression\b|\bleaks?\b/, 0.5],
  [/\bimplement\b|\bdesign\b/, 0.3],
];

// Ordinary feature work: not hard, but more than a one-line fix.
const FEATURE_TERMS: ReadonlyArray<readonly [RegExp, number]> = [
  [/\bendpoints?\b|\broutes?\b|\bget \/|\bpost \/|\/api\//, 0.4],
  [/\btests?\b|\bcoverage\b/, 0.3],
  [/\bvalidat(?:e|ion)\b|\bschema\b/, 0.3],
  [/\bflag\b|\boption\b|\bcommand\b|\bscript\b|\bcli\b/, 0.3],
  [/\bpaginat\w*|\bfilter\b|\bsort(?:ing)?\b|\bcursor\b|\bcsv\b|\bjson\b/, 0.3],
  [/\bdashboard\b|\blayout\b|\bui\b|\bscreen\b|\bcomponent\b/, 0.3],
  [/\breturns? (?:a )?\d{3}\b|\berror handling\b|\bhandle\b|\bedge cases?\b/, 0.3],
  [/\bintegrat(?:e|ion)\b|\bsupport for\b|\bfeature\b/, 0.3],
];

const EASY_TERMS: ReadonlyArray<readonly [RegExp, number]> = [
  [/\btypos?\b|\bspelling\b|\bmisspell(?:ed|ing)?\b/, 1.0],
  [/\brename\b/, 0.7],
  [/\breformat\b|\bformat(?:ting)?\b|\bprettier\b|\bwhitespace\b|\bindent(?:ation)?\b/, 0.7],
  [/\bdocstrings?\b|\bjsdoc\b|\bcomments?\b/, 0.6],
  [/\blint(?:er|ing)?\b|\beslint\b|\bunused imports?\b|\bsort imports\b/, 0.6],
  [/\breadme\b|\bchangelog\b|\bdocumentation\b/, 0.5],
  [/\bbump\b|\bversion number\b/, 0.6],
  [/\btrivial\b|\bone[- ]line(?:r)?\b|\bsmall change\b|\bquick(?:ly)?\b|\bsimple\b/, 0.5],
  [/\bexplain\b|\bsummari[sz]e\b|\bwhat does\b|\blist (?:the|all)\b/, 0.5],
  [/\badd (?:a )?log(?:ging)? (?:line|statement)\b|\bprint statement\b/, 0.5],
  [/\bcopyright\b|\blicen[sc]e header\b|\bgitignore\b/, 0.5],
];

const FILE_RE =
  /(?:^|[\s`'"(])((?:[\w.-]+\/)*[\w-]+\.(?:ts|tsx|js|jsx|mjs|cjs|py|rs|go|java|kt|rb|php|c|h|cc|cpp|hpp|cs|swift|sql|json|ya?ml|toml|md|sh|css|scss|html|vue|svelte|proto|tf|lock|txt|csv|xml|ini|cfg|conf|gradle|mk))\b/g;
const CODE_RE = /`[^`\n]+`|\b[a-z]+[A-Z]\w*\b|\b\w+\(\)|\b[a-z]+_[a-z_]+\b|--[a-z][\w-]+/g;
const TRACE_LINE_RE =
  /^\s*at .+[:(]\d+|^\s*File ".+", line \d+|Traceback \(most recent call last\)|^\s*\w+(?:Error|Exception)(?::|\s+at\b)|^panic:|^\s*goroutine \d+|^error\[E\d+\]|^\s*#\d+ 0x[0-9a-f]+/gim;
const STEP_RE = /^\s*(?:[-*•]|\d+[.)])\s+\S/gm;
const THEN_RE = /\b(?:then|after that|afterwards|finally|and also)\b/g;

export interface ComplexityInput {
  prompt: string;
  depends_on_depth?: number;
}

export function scoreComplexity(input: ComplexityInput): ComplexityResult {
  const text = input.prompt;
  const lower = text.toLowerCase();
  const features: ComplexityFeature[] = [];
  const add = (name: keyof typeof WEIGHTS, value: number, detail?: string): void => {
    const v = clamp01(value);
    const weight = WEIGHTS[name];
    const f: ComplexityFeature = { name, value: round3(v), weight, contribution: round3(weight * v) };
    if (detail) f.detail = detail;
    features.push(f);
  };

  // Length on a log scale: ~40 chars → 0, ~2,000 chars → 1.
  const len = text.trim().length;
  add('length', len <= 40 ? 0 : Math.log(len / 40) / Math.log(50), `${len} chars`);

  const files = new Set(mentionedFiles(text));
  const codeRefs = (text.match(CODE_RE) ?? []).length + files.size;
  add('code_refs', codeRefs / 6, codeRefs ? `${codeRefs} code reference(s)` : undefined);
  // One named file is ordinary; each further file widens the change.
  add('files', (files.size - 1) / 4, files.size > 1 ? [...files].slice(0, 4).join(', ') : undefined);

  const traceLines = (text.match(TRACE_LINE_RE) ?? []).length;
  add('stack_trace', traceLines / 3, traceLines ? `${traceLines} trace line(s)` : undefined);

  const hard = keywordValue(lower, HARD_SET, 1.4);
  add('hard_keywords', hard.value, hard.matched.join(', ') || undefined);
  const feature = keywordValue(lower, FEATURE_SET, 1.0);
  add('feature_keywords', feature.value, feature.matched.join(', ') || undefined);
  const easy = keywordValue(lower, EASY_SET, 1.0);
  add('easy_keywords', easy.value, easy.matched.join(', ') || undefined);

  const steps = (text.match(STEP_RE) ?? []).length + (lower.match(THEN_RE) ?? []).length;
  add('steps', steps / 6, steps ? `${steps} step(s)` : undefined);

  const depth = Math.max(0, input.depends_on_depth ?? 0);
  add('depends_on_depth', depth / 4, depth ? `depth ${depth}` : undefined);

  const sum = features.reduce((s, f) => s + f.contribution, COMPLEXITY_BASE);
  const score = round3(clamp01(sum));
  return { score, bucket: bucketOf(score), features };
}

/** File paths named in a task text ("src/a.ts", `b.py`), in order, without duplicates. */
export function mentionedFiles(text: string): string[] {
  const files = new Set<string>();
  for (const m of text.matchAll(FILE_RE)) if (m[1]) files.add(m[1]);
  return [...files];
}

/** Task class used by the adaptive router: five equal bands of the score. */
export function bucketOf(score: number): ComplexityBucket {
  const i = Math.min(COMPLEXITY_BUCKETS.length - 1, Math.max(0, Math.floor(score * COMPLEXITY_BUCKETS.length)));
  return COMPLEXITY_BUCKETS[i] ?? 'medium';
}

/** The features that moved the score most, for a one-line explanation: "hard_keywords +0.32 (refactor, race condition)". */
export function topFeatures(result: ComplexityResult, n = 3): string {
  return [...result.features]
    .filter((f) => f.contribution !== 0)
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
    .slice(0, n)
    .map((f) => `${f.name} ${f.contribution > 0 ? '+' : ''}${f.contribution.toFixed(2)}${f.detail ? ` (${f.detail})` : ''}`)
    .join(', ');
}

/**
 * One regex per list, each term a capture group, so a text is scanned once
 * per list instead of once per term (the router scores every decision).
 */
interface TermSet {
  re: RegExp;
  strengths: number[];
}

function termSet(terms: ReadonlyArray<readonly [RegExp, number]>): TermSet {
  for (const [re] of terms) {
    // Terms must not capture on their own, or the group numbering below breaks.
    if (new RegExp(`${re.source}|`).exec('')!.length !== 1) throw new Error(`complexity term ${re} has a capturing group`);
  }
  return { re: new RegExp(terms.map(([re]) => `(${re.source})`).join('|'), 'g'), strengths: terms.map(([, s]) => s) };
}

const HARD_SET = termSet(HARD_TERMS);
const FEATURE_SET = termSet(FEATURE_TERMS);
const EASY_SET = termSet(EASY_TERMS);

function keywordValue(lower: string, set: TermSet, saturation: number): { value: number; matched: string[] } {
  let total = 0;
  const found: { text: string; strength: number }[] = [];
  const seen = new Set<number>();
  set.re.lastIndex = 0;
  for (let m = set.re.exec(lower); m; m = set.re.exec(lower)) {
    let i = 1;
    while (i < m.length && m[i] === undefined) i += 1;
    if (!seen.has(i)) {
      seen.add(i);
      const strength = set.strengths[i - 1] ?? 0;
      total += strength;
      found.push({ text: m[0], strength });
    }
    if (m[0] === '') set.re.lastIndex += 1;
  }
  // Strongest first: the explanation names what mattered most.
  const matched = found.sort((a, b) => b.strength - a.strength).map((f) => f.text);
  return { value: Math.min(1, total / saturation), matched };
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : Number.isFinite(x) ? x : 0);
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

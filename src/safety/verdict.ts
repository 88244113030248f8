/**
 * Shared vocabulary of the safety checks: a rule is data (id, severity,
 * description, regexes); a verdict names the rule and the excerpt that matched
 * so an auditor can see *why* without re-running the check.
 *
 * Severity maps to a verdict in one place: high → deny, medium →
 * needs_approval. There are no bypass words: nothing in the text can switch a
 * rule off (DESIGN §11); only the config can disable a whole check.
 */
import { foldConfusables, squashedView, wordsView } from './fold.js';

export type VerdictKind = 'allow' | 'deny' | 'needs_approval';
export type Severity = 'high' | 'medium';

export interface PatternRule {
  readonly id: string;
  readonly severity: Severity;
  readonly description: string;
  /** Any one matching is a hit. Must not use the `g` or `y` flags (stateful lastIndex). */
  readonly patterns: readonly RegExp[];
  /** Phrase families matched on the folded words view (and the squashed view); see fold.ts and phrases.ts. */
  readonly phrases?: { readonly words: readonly RegExp[]; readonly squashed: readonly RegExp[] };
}

export interface RuleHit {
  rule: string;
  severity: Severity;
  description: string;
  excerpt: string; // the matched text, control characters made visible, at most ~100 chars
  encoded?: 'base64'; // the hit was inside a base64 blob that decodes to text
}

export interface Verdict {
  verdict: VerdictKind;
  reason?: string;
  rule?: string; // id of the worst hit
  hits: RuleHit[];
}

export function severityVerdict(s: Severity): VerdictKind {
  return s === 'high' ? 'deny' : 'needs_approval';
}

const RANK: Record<VerdictKind, number> = { allow: 0, needs_approval: 1, deny: 2 };

export function worseOf(a: VerdictKind, b: VerdictKind): VerdictKind {
  return RANK[b] > RANK[a] ? b : a;
}

/**
 * Invisible characters that change how text reads without being seen:
 * zero-width space/non-joiner/word-joiner, soft hyphen, Mongolian vowel
 * separator, BOM (anywhere but offset 0), bidi embeddings/overrides/isolates
 * (Trojan Source, CVE-2021-42574) and Unicode tag characters (which smuggle
 * ASCII invisibly). The zero-width joiner is only counted next to ASCII, so
 * emoji sequences (👩‍💻) are left alone.
 */
export const INVISIBLE_RE =
  /[\u200B\u200C\u2060-\u2064\u00AD\u180E\u034F\u115F\u1160\u17B4\u17B5\u3164\uFFA0\u200E\u200F\u202A-\u202E\u2066-\u2069]|(?<!^)\uFEFF|[\u{E0000}-\u{E007F}]|(?<=[\x21-\x7E])\u200D|\u200D(?=[\x21-\x7E])/gu;

/** Removes invisible/format characters (see INVISIBLE_RE) and C0/C1 controls other than tab and newlines. */
export function stripInvisible(text: string): string {
  return text.replace(INVISIBLE_RE, '').replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g, '');
}

/**
 * The text the rules also run on, so cheap obfuscation does not dodge them:
 * NFKC (fullwidth/compatibility letters → ASCII), invisible characters
 * removed, runs of horizontal whitespace collapsed. Newlines are kept because
 * several rules are line-anchored. Matching on both views can only add hits.
 */
export function detectionView(text: string): string {
  return stripInvisible(text.normalize('NFKC')).replace(/[^\S\n]+/g, ' ');
}

/** Makes an excerpt safe to log and show: escapes invisible and control characters, caps length. */
export function excerptOf(s: string, max = 100): string {
  const shown = s.length > max ? `${s.slice(0, max)}…` : s;
  return shown.replace(
    /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]|[\u200B-\u200F\u202A-\u202E\u2060-\u2069\u00AD\u180E\uFEFF]|[\u{E0000}-\u{E007F}]/gu,
    (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`,
  );
}

/** Every rule that matches `text` (raw, its detection view, look-alikes folded, or for phrase rules the words view), at most one hit per rule. */
export function matchRules(text: string, rules: readonly PatternRule[]): RuleHit[] {
  const view = detectionView(text);
  const folded = foldConfusables(view);
  const views = [...new Set([text, view, folded])];
  let words: string | null = null;
  let squashed: string | null | undefined;
  const hits: RuleHit[] = [];
  for (const rule of rules) {
    let found: string | null = null;
    for (const re of rule.patterns) {
      for (const v of views) {
        const m = re.exec(v);
        if (m) {
          found = m[0];
          break;
        }
      }
      if (found !== null) break;
    }
    if (found === null && rule.phrases) {
      words ??= wordsView(text);
      found = firstMatch(words, rule.phrases.words);
      if (found === null) {
        if (squashed === undefined) squashed = squashedView(words);
        if (squashed !== null) found = firstMatch(squashed, rule.phrases.squashed);
      }
    }
    if (found !== null) {
      hits.push({ rule: rule.id, severity: rule.severity, description: rule.description, excerpt: excerptOf(found) });
    }
  }
  return hits;
}

function firstMatch(text: string, patterns: readonly RegExp[]): string | null {
  for (const re of patterns) {
    const m = re.exec(text);
    if (m) return m[0].trim();
  }
  return null;
}

/** Folds hits into one verdict; the reason names the worst rule, its excerpt and how many others hit. */
export function verdictFromHits(check: string, hits: RuleHit[]): Verdict {
  if (hits.length === 0) return { verdict: 'allow', hits };
  const worst = hits.find((h) => h.severity === 'high') ?? hits[0];
  if (!worst) return { verdict: 'allow', hits };
  const where = worst.encoded ? ' (inside base64-encoded text)' : '';
  const more =
    hits.length > 1
      ? `; ${hits.length - 1} more rule(s) matched: ${hits
          .filter((h) => h !== worst)
          .map((h) => h.rule)
          .join(', ')}`
      : '';
  return {
    verdict: severityVerdict(worst.severity),
    rule: worst.rule,
    reason: `${check} rule ${worst.rule} (${worst.description}) matched "${worst.excerpt}"${where}${more}`,
    hits,
  };
}

const B64_BLOB = /[A-Za-z0-9+/_-]{16,}={0,2}/g;
const MAX_BLOBS = 16;
const MAX_BLOB_CHARS = 16 * 1024;

/**
 * Decodes base64 blobs found in the text (bounded: at most 16 blobs of 16 KiB
 * each, one level deep) and returns those that decode to mostly printable
 * text, so rules can run on what a model would read after decoding.
 */
export function decodedBase64Blobs(text: string): string[] {
  const out: string[] = [];
  let count = 0;
  for (const m of text.matchAll(B64_BLOB)) {
    if (++count > MAX_BLOBS) break;
    const blob = m[0];
    if (blob.length > MAX_BLOB_CHARS) continue;
    // Mixed case or digits: plain long identifiers (all lower case words) are not worth decoding.
    if (!/[A-Z]/.test(blob) || !/[a-z]/.test(blob)) continue;
    const decoded = Buffer.from(blob.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    if (decoded.length < 6) continue;
    const printable = decoded.replace(/[^\x20-\x7E\n\r\t]/g, '').length;
    if (printable / decoded.length >= 0.9) out.push(decoded);
  }
  return out;
}

/** matchRules over the text plus its decoded base64 blobs (hits from blobs are marked `encoded`). */
export function matchRulesDeep(text: string, rules: readonly PatternRule[]): RuleHit[] {
  const hits = matchRules(text, rules);
  const seen = new Set(hits.map((h) => h.rule));
  for (const decoded of decodedBase64Blobs(text)) {
    for (const h of matchRules(decoded, rules)) {
      if (seen.has(h.rule)) continue;
      seen.add(h.rule);
      hits.push({ ...h, encoded: 'base64' });
    }
  }
  return hits;
}

/** Turns config strings into rules; an invalid regex is reported with its index so the admin can fix it. */
export function compilePatternRules(prefix: string, severity: Severity, patterns: readonly string[]): { rules: PatternRule[]; problems: string[] } {
  const rules: PatternRule[] = [];
  const problems: string[] = [];
  patterns.forEach((p, i) => {
    try {
      rules.push({ id: `${prefix}.${i}`, severity, description: `configured pattern /${p}/`, patterns: [new RegExp(p, 'i')] });
    } catch (e) {
      problems.push(`${prefix}[${i}]: invalid regular expression /${p}/: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  return { rules, problems };
}

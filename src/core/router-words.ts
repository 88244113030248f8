/**
 * Explicit engine or model choices written in a task's text ("use groq",
 * "run it with claude-opus-4-5"): the router's second rule, after a forced
 * engine. Pure.
 */
import type { ProviderConfig } from './config.js';

interface Option {
  engine: string;
  model: string | null;
}

interface WordsContext {
  providers: Readonly<Record<string, ProviderConfig>>;
  claude_default_model: string;
}

// "use groq", "via ollama", "run it on claude", "engine: groq"; not "don't use groq". Bare
// "with"/"on" are left out: "fix the integration with Claude" is about Claude, not a choice of engine.
const VERB = String.raw`(?:use|using|via|run\s+(?:it\s+|this\s+)?(?:on|with)|engine\s*[:=])\s+`;
const NEGATED = /(?:\bdon'?t|\bdo not|\bnever|\bnot|\bavoid|\bwithout|\bno)\s+(?:use\s+|using\s+)?$/;
const ALIAS_RE = new RegExp(String.raw`\b(?:${VERB}|model\s*[:=]?\s*)(?:claude\s+)?(haiku|sonnet|opus)\b`, 'i');
const CLAUDE_ID_RE = /\bclaude-(?:opus|sonnet|haiku|fable)-[\w.-]*\w/i;
const patternCache = new Map<string, RegExp>();

function enginePattern(names: readonly string[]): RegExp {
  const key = names.join('|');
  let re = patternCache.get(key);
  if (!re) {
    const alts = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    // Not followed by "-x" or ".x": "use claude-opus-4-5" names a model, matched separately.
    re = new RegExp(String.raw`\b${VERB}(${alts})(?![-\w]|\.\w)`, 'gi');
    patternCache.set(key, re);
  }
  return re;
}

/**
 * Explicit engine or model words in the task text. Bare Claude aliases count
 * only after a verb ("use opus") because "write a haiku" is not a request for
 * a model; full model ids ("llama-3.3-70b", "claude-opus-4-5") count anywhere.
 */
export function explicitFromText(prompt: string, ctx: WordsContext): (Option & { phrase: string }) | null {
  const providers = Object.entries(ctx.providers);
  const engines = ['claude', ...providers.map(([n]) => n)];
  const notNegated = (index: number): boolean => !NEGATED.test(prompt.slice(Math.max(0, index - 16), index).toLowerCase());

  // Every mention found; the earliest wins, and at one position the longer phrase ("use claude opus").
  const found: (Option & { phrase: string; index: number })[] = [];
  const consider = (o: Option, phrase: string, index: number): void => {
    if (notNegated(index)) found.push({ ...o, phrase, index });
  };

  const re = enginePattern(engines);
  re.lastIndex = 0;
  for (let m = re.exec(prompt); m; m = re.exec(prompt)) {
    const engine = (m[1] ?? '').toLowerCase();
    const model = engine === 'claude' ? ctx.claude_default_model : (ctx.providers[engine]?.default_model ?? null);
    consider({ engine, model }, m[0].trim(), m.index);
  }

  const lower = prompt.toLowerCase();
  for (const [name, p] of providers) {
    for (const id of p.models) {
      // "llama-3.3-70b" names "llama-3.3-70b-versatile": match the id up to its size suffix.
      const short = id.toLowerCase().replace(/^(.*?-\d+(?:\.\d+)?b)\b.*$/, '$1');
      const at = lower.indexOf(short);
      if (at >= 0 && !/[\w.-]/.test(lower[at - 1] ?? ' ')) consider({ engine: name, model: id }, prompt.slice(at, at + short.length), at);
    }
  }
  const claudeId = CLAUDE_ID_RE.exec(prompt);
  if (claudeId) consider({ engine: 'claude', model: claudeId[0].toLowerCase() }, claudeId[0], claudeId.index);
  const alias = ALIAS_RE.exec(prompt);
  if (alias?.[1]) consider({ engine: 'claude', model: alias[1].toLowerCase() }, alias[0], alias.index);

  found.sort((a, b) => a.index - b.index || b.phrase.length - a.phrase.length);
  const best = found[0];
  return best ? { engine: best.engine, model: best.model, phrase: best.phrase } : null;
}

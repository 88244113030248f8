/**
 * Prompt-injection screen, for two inputs: the task text a user submitted, and
 * content pulled from files into a model's context (README, issues, source).
 *
 * DESIGN §11: the old sanitizer cleaned a copy while the original was used.
 * Here `screenForUse` returns the text to use *and* the verdict computed on
 * that exact text (plus signals only visible in the raw input, such as the
 * invisible characters that were removed). Callers must send `text` onward,
 * never the input they passed in.
 */
import { excerptOf, matchRulesDeep, stripInvisible, verdictFromHits, type PatternRule, type RuleHit, type Verdict } from './verdict.js';
import { DISREGARD_RULES, IGNORE_PREVIOUS, PROMPT_LEAK, ROLE_REASSIGN } from './phrases.js';

const re = (source: string, flags = 'i'): RegExp => new RegExp(source, flags);
const AI = String.raw`(?:ai|assistant|agent|llm|language\s+model|claude|gpt|chatgpt|copilot|model)`;
const IMPERATIVE = String.raw`(?:must|should|instead|ignore|secretly|do\s+not\s+(?:tell|mention|reveal)|don't\s+(?:tell|mention|reveal)|execute|run|send|delete)`;
const IN_COMMENT = String.raw`(?:(?!-->)[\s\S]){0,2000}?`;
const PLACEHOLDER = String.raw`(?:\{[^}\s]{1,60}\}|\$\{?[A-Za-z_]\w*|%7B|<[A-Z_ ]{3,40}>|\[[A-Z_ ]{3,40}\])`;

export const INJECTION_RULES: readonly PatternRule[] = Object.freeze([
  {
    id: 'inject.ignore-previous',
    severity: 'high',
    description: 'tells the model to ignore its previous instructions',
    patterns: [
      re(
        String.raw`\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|the\s+|your\s+|my\s+|of\s+){0,8}(?:previous|prior|above|earlier|preceding|former|original|initial|system)\s+(?:instructions?|prompts?|rules|directions|directives|guidelines|messages?|context|commands?)\b`,
      ),
      // "override the system prompt" is configuration talk; override/skip/discard count only with a temporal qualifier.
      re(
        String.raw`\b(?:override|skip|discard)\s+(?:all\s+|any\s+|the\s+|your\s+|my\s+|of\s+){0,8}(?:previous|prior|above|earlier|preceding|former)\s+(?:instructions?|prompts?|directives|guidelines)\b`,
      ),
    ],
    phrases: IGNORE_PREVIOUS, // every language and phrasing family (phrases.ts), on folded text
  },
  {
    id: 'inject.disregard-rules',
    severity: 'high',
    description: 'tells the model to disregard its rules or guidelines',
    patterns: [
      re(
        String.raw`\b(?:disregard|ignore|forget|abandon|bypass|override|violate)\s+(?:all\s+(?:of\s+)?)?(?:your|its)\s+(?:rules|guidelines|instructions|programming|training|safety|restrictions|constraints|policies|guardrails|system\s+prompt|principles)\b`,
      ),
    ],
    phrases: DISREGARD_RULES,
  },
  {
    id: 'inject.jailbreak',
    severity: 'high',
    description: 'jailbreak phrasing (DAN, developer mode, unrestricted persona)',
    patterns: [
      re(
        String.raw`\byou\s+are\s+(?:now\s+)?(?:no\s+longer\s+(?:bound|restricted|an?\s+ai)|free\s+(?:from|of)\s+(?:all\s+)?(?:rules|restrictions|guidelines)|unrestricted|unfiltered|jailbroken)\b`,
      ),
      re(String.raw`\bdo\s+anything\s+now\b|\b(?:DAN|developer|god)\s+mode\s+(?:enabled|activated|on)\b|\bjailbreak(?:ing)?\s+(?:mode|prompt|yourself)\b`),
      re(String.raw`\bact\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|jailbroken|evil)\b`),
    ],
  },
  {
    id: 'inject.role-reassign',
    severity: 'medium',
    description: 'reassigns the model a new role ("you are now ...", "from now on you ...")',
    patterns: [
      re(String.raw`\byou\s+are\s+now\s+(?:a|an|the|my|acting|going\s+to\s+act)\b`),
      re(String.raw`\bfrom\s+now\s+on,?\s+you\s+(?:are|will\s+(?:act|be|respond|ignore|only)|must\s+(?:act|ignore|obey))\b`),
      re(String.raw`\bpretend\s+(?:that\s+)?(?:you\s+are|to\s+be)\s+(?:a|an)\s+(?:different|new|unrestricted|evil)\b`),
    ],
    phrases: ROLE_REASSIGN,
  },
  {
    id: 'inject.fake-role-tag',
    severity: 'high',
    description: 'fake chat-template or system tags (<|im_start|>system, [SYSTEM], <<SYS>>, ### system:)',
    patterns: [
      re(String.raw`<\|(?:im_start|im_end|im_sep|system|endoftext|start_header_id|end_header_id|eot_id)\|>`),
      re(String.raw`\[\/?(?:SYSTEM|INST|SYS)\]|<<\/?SYS>>`, ''), // case-sensitive: "[system]" log prefixes are common
      re(String.raw`<\/?(?:system|system_prompt|sys|instructions?)>`),
      re(String.raw`^[ \t]*#{1,6}[ \t]*(?:system|assistant)(?:[ \t]+(?:prompt|message|instructions?))?[ \t]*:`, 'im'),
    ],
  },
  {
    id: 'inject.role-line',
    severity: 'medium',
    description: 'a line that impersonates a chat role ("System: ...", "Assistant: ...")',
    patterns: [re(String.raw`^[ \t]*(?:system|assistant)[ \t]*:[ \t]*\S`, 'im')],
  },
  {
    id: 'inject.new-instructions',
    severity: 'medium',
    description: 'announces replacement instructions or the end of the prompt',
    patterns: [
      re(String.raw`\b(?:new|updated|real|actual|hidden|secret)\s+instructions?\s*:|\bend\s+of\s+(?:the\s+)?(?:system\s+)?(?:prompt|instructions)\b`),
      // The same announcement in other languages (the colon keeps "add new installation instructions" out).
      re(
        String.raw`(?:nouvelles|vraies|v[ée]ritables)\s+(?:instructions|consignes)\s*[:：]|neue\s+(?:anweisungen|instruktionen)\s*[:：]|nuevas\s+instrucciones\s*[:：]|novas\s+instru[çc][õo]es\s*[:：]|nuove\s+istruzioni\s*[:：]|новые\s+(?:инструкции|указания)\s*[:：]|新(?:的)?(?:指令|指示)\s*[:：]|新しい(?:指示|命令)\s*[:：]`,
        'iu',
      ),
    ],
  },
  {
    id: 'inject.prompt-leak',
    severity: 'medium',
    description: 'asks the model to reveal its system prompt or repeat what came before (any language)',
    patterns: [
      re(
        String.raw`\b(?:reveal|print|show|leak|repeat|output)\s+(?:me\s+)?(?:the\s+|your\s+)(?:full\s+|entire\s+|hidden\s+)?(?:system\s+prompt|initial\s+instructions)\b`,
      ),
    ],
    phrases: PROMPT_LEAK,
  },
  {
    id: 'inject.hidden-comment',
    severity: 'medium',
    description: 'an HTML comment that addresses an AI with instructions (hidden when rendered)',
    patterns: [re(String.raw`<!--(?=${IN_COMMENT}\b${AI}\b)(?=${IN_COMMENT}\b${IMPERATIVE}\b)(?:(?!-->)[\s\S]){0,4000}?-->`)],
  },
  {
    id: 'inject.bidi-or-tag-chars',
    severity: 'high',
    description: 'bidirectional override or Unicode tag characters (text that reads differently than it runs)',
    patterns: [/[\u202A-\u202E\u2066-\u2069]|[\u{E0000}-\u{E007F}]/u],
  },
  {
    id: 'inject.zero-width',
    severity: 'medium',
    description: 'zero-width or invisible characters inside the text',
    patterns: [/[\u200B\u200C\u2060-\u2064\u00AD\u180E\u034F\u115F\u1160\u17B4\u17B5\u3164\uFFA0]|(?<!^)\uFEFF|(?<=[\x21-\x7E])\u200D|\u200D(?=[\x21-\x7E])/u],
  },
  {
    id: 'inject.markdown-exfil',
    severity: 'high',
    description: 'a markdown/HTML image whose URL carries a data placeholder (leaks data when rendered)',
    patterns: [
      re(String.raw`!\[[^\]\n]{0,200}\]\(\s*<?https?:\/\/[^)\s]{1,500}?[?&][^)\s=]{1,50}=[^)\s]{0,300}?${PLACEHOLDER}`),
      re(String.raw`<img\s[^>]{0,200}src\s*=\s*["']?https?:\/\/[^"'\s>]{1,500}?[?&][^"'\s>=]{1,50}=[^"'\s>]{0,300}?${PLACEHOLDER}`),
    ],
  },
  {
    id: 'inject.markdown-exfil-instruction',
    severity: 'medium',
    description: 'asks to put conversation data or secrets into a URL or image',
    patterns: [
      re(
        String.raw`\b(?:append|add|include|encode|put|embed)\b[^\n]{0,60}\b(?:conversation|chat\s+history|secrets?|api\s+keys?|passwords?|credentials|environment\s+variables|previous\s+messages)\b[^\n]{0,40}\b(?:to|in|into)\s+(?:the\s+|this\s+|an?\s+)?(?:url|link|image(?:\s+url)?|query(?:\s+string)?)\b`,
      ),
    ],
  },
]);

/** Rules for file content: chat transcripts and fixtures legitimately start lines with "System:". */
export const FILE_INJECTION_RULES: readonly PatternRule[] = Object.freeze(INJECTION_RULES.filter((r) => r.id !== 'inject.role-line'));

/**
 * Removes zero-width, bidi, tag and control characters (tab and newlines are
 * kept). Visible text is unchanged, so what the admin reads is what runs.
 */
export function neutralise(text: string): string {
  return stripInvisible(text);
}

export interface ScreenedText {
  text: string; // the text the caller must use from now on
  verdict: Verdict;
  neutralised: boolean; // true when `text` differs from the input
}

function mergeHits(a: RuleHit[], b: RuleHit[]): RuleHit[] {
  const seen = new Set(a.map((h) => h.rule));
  return [...a, ...b.filter((h) => !seen.has(h.rule))];
}

/**
 * Screens `raw` for use: picks the text to use (neutralised or not), then
 * screens that exact text and the raw input (so removed invisible characters
 * are still reported). Works for any rule set, so the gateway uses it for the
 * intent rules too.
 */
export function screenForUse(raw: string, opts: { neutralise: boolean; rules: readonly PatternRule[]; check: string }): ScreenedText {
  const text = opts.neutralise ? neutralise(raw) : raw;
  const hits = text === raw ? matchRulesDeep(text, opts.rules) : mergeHits(matchRulesDeep(text, opts.rules), matchRulesDeep(raw, opts.rules));
  return { text, verdict: verdictFromHits(opts.check, hits), neutralised: text !== raw };
}

/** Injection screen for task text, exactly as given (use screenForUse to also neutralise). */
export function screenInjection(text: string, rules: readonly PatternRule[] = INJECTION_RULES): Verdict {
  return verdictFromHits('injection', matchRulesDeep(text, rules));
}

const MAX_FILE_CHARS = 2_000_000;

/**
 * Injection screen for content pulled from a file into a model's context.
 * Returns the neutralised content to include and a verdict naming the file.
 * Suggested use by engines: deny → leave the file out and say so; needs_approval
 * → include it fenced as untrusted data and flag the task. Files over 2 M chars
 * are screened on their first and last million characters (bounded cost).
 */
export function screenFileContent(content: string, path: string, rules: readonly PatternRule[] = FILE_INJECTION_RULES): ScreenedText {
  const sample = content.length > MAX_FILE_CHARS ? `${content.slice(0, MAX_FILE_CHARS / 2)}\n${content.slice(-MAX_FILE_CHARS / 2)}` : content;
  const screened = screenForUse(sample, { neutralise: true, rules, check: `injection (file ${excerptOf(path, 200)})` });
  const text = sample === content ? screened.text : neutralise(content);
  return { ...screened, text, neutralised: text !== content };
}

/**
 * Text folding for the screens, so that the rules are written once against a
 * canonical form instead of once per obfuscation:
 *
 * - `skeleton`: confusable letters folded per word. A word that is Latin
 *   except for Cyrillic/Greek look-alikes ("ignоrе" with Cyrillic о/е) becomes
 *   all Latin; a Cyrillic word with Latin look-alikes ("игнoрируй" with a
 *   Latin o) becomes all Cyrillic. Real Russian or Greek text is left as is.
 * - `wordsView`: for phrase rules. NFKC, every invisible/format character
 *   removed (zero-width, joiners, variation selectors, tags, bidi), skeleton,
 *   lower case, Latin diacritics removed (é→e, ü→u, ç→c, ß→ss), ё→е, digits
 *   inside letter words read as letters (1gn0re → ignore), camelCase and any
 *   punctuation/underscore/dash runs turned into single spaces.
 * - `squashedView`: the words view without spaces, computed only for text
 *   with letter-spaced runs ("i g n o r e  a l l ...").
 *
 * Pure.
 */

/** Every character that renders as nothing (or nearly) and can split a word without being seen. */
export const INVISIBLE_ALL =
  /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF9-\uFFFB]|[\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\u{E0000}-\u{E007F}\u{E0100}-\u{E01EF}]/gu;

// Cyrillic and Greek letters that look like Latin ones (lower and upper case), after NFKC.
const TO_LATIN: Record<string, string> = {
  а: 'a',
  е: 'e',
  ё: 'e',
  о: 'o',
  р: 'p',
  с: 'c',
  у: 'y',
  х: 'x',
  ѕ: 's',
  і: 'i',
  ї: 'i',
  ј: 'j',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  һ: 'h',
  ӏ: 'l',
  ɡ: 'g',
  ɑ: 'a',
  ı: 'i',
  ȷ: 'j',
  ո: 'n',
  ս: 'u',
  օ: 'o',
  ց: 'g',
  հ: 'h',
  А: 'A',
  В: 'B',
  Е: 'E',
  К: 'K',
  М: 'M',
  Н: 'H',
  О: 'O',
  Р: 'P',
  С: 'C',
  Т: 'T',
  У: 'Y',
  Х: 'X',
  Ѕ: 'S',
  І: 'I',
  Ј: 'J',
  Ԛ: 'Q',
  Ԝ: 'W',
  Ӏ: 'I',
  α: 'a',
  β: 'b',
  ε: 'e',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  γ: 'y',
  ω: 'w',
  ϲ: 'c',
  ϳ: 'j',
  Α: 'A',
  Β: 'B',
  Ε: 'E',
  Ζ: 'Z',
  Η: 'H',
  Ι: 'I',
  Κ: 'K',
  Μ: 'M',
  Ν: 'N',
  Ο: 'O',
  Ρ: 'P',
  Τ: 'T',
  Υ: 'Y',
  Χ: 'X',
  Ϲ: 'C',
};
// Latin letters that look like Cyrillic ones (for Cyrillic words spelled with a Latin o, a, e, ...).
const TO_CYRILLIC: Record<string, string> = {
  a: 'а',
  e: 'е',
  o: 'о',
  p: 'р',
  c: 'с',
  y: 'у',
  x: 'х',
  i: 'і',
  s: 'ѕ',
  j: 'ј',
  A: 'А',
  E: 'Е',
  O: 'О',
  P: 'Р',
  C: 'С',
  Y: 'У',
  X: 'Х',
  K: 'К',
  M: 'М',
  H: 'Н',
  T: 'Т',
  B: 'В',
};

// Letters that are evidence of a script (look-alikes are not: they carry no evidence).
const LAT_EV = /[bdfghklmnqrtuvwzDFGIJLNQRSUVWZ\u00C0-\u024F\u1E00-\u1EFF]/;
const CYR_EV = /[бвгджзийклмнптфцчшщъыьэюяБГДЖЗИЙЛПФЦЧШЩЪЫЬЭЮЯЁєґїЄҐЇ]/;
const GREEK_EV = /[δζηθλμξπσςφψΓΔΘΛΞΠΣΦΨΩάέήίόύώ]/;
const ASCII_LETTER = /[A-Za-z]/;

type Script = 'latin' | 'cyrillic' | 'greek' | 'ambiguous';

function wordScript(word: string): Script {
  const lat = LAT_EV.test(word);
  if (lat) return 'latin';
  if (CYR_EV.test(word)) return 'cyrillic';
  if (GREEK_EV.test(word)) return 'greek';
  return 'ambiguous';
}

/** The script of the nearest evidence around `at` (look-alike-only words such as "Не" or "у" take it). */
function nearestScript(text: string, start: number, end: number): Script {
  for (let d = 1; d <= 80; d++) {
    const b = text[start - d];
    if (b !== undefined) {
      if (CYR_EV.test(b)) return 'cyrillic';
      if (LAT_EV.test(b)) return 'latin';
    }
    const a = text[end + d - 1];
    if (a !== undefined) {
      if (CYR_EV.test(a)) return 'cyrillic';
      if (LAT_EV.test(a)) return 'latin';
    }
    if (b === undefined && a === undefined) break;
  }
  return 'latin';
}

// Words that contain a Cyrillic, Greek, IPA or Armenian letter: the only ones that can need folding.
const NON_ASCII_WORD = /[\p{L}\p{M}]*[\u0370-\u052F\u0250-\u02AF\u0531-\u058F\u0131\u0237][\p{L}\p{M}]*/gu;

/**
 * Folds look-alike letters to the script each word really uses (see the file
 * comment). A word made only of look-alikes ("Не", "у", "ее") takes the script
 * of the nearest letter that is evidence, so Russian stays Russian.
 */
export function skeleton(text: string): string {
  if (!/[\u0370-\u052F\u0250-\u02AF\u0531-\u058F\u0131\u0237]/.test(text)) return text; // pure Latin or CJK: nothing to fold
  return text.replace(NON_ASCII_WORD, (word: string, at: number) => {
    let script = wordScript(word);
    if (script === 'cyrillic' && !ASCII_LETTER.test(word)) return word; // plain Russian: nothing to fold
    if (script === 'greek') return word;
    if (script === 'ambiguous') script = nearestScript(text, at, at + word.length);
    let out = '';
    const map = script === 'cyrillic' ? TO_CYRILLIC : TO_LATIN;
    for (const c of word) out += map[c] ?? c;
    return out;
  });
}

const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', $: 's' };

/** Digits and @/$ inside an (ASCII, lower-case) word that also has letters read as the letters they imitate. */
function unLeet(text: string): string {
  return text.replace(/[a-z0-9@$]*(?:[a-z][0-9@$]|[0-9@$][a-z])[a-z0-9@$]*/g, (w) => w.replace(/[0134579@$]/g, (c) => LEET[c] ?? c));
}

/** Latin letters lose their accents (é→e, ü→u, ç→c); other scripts keep their marks (Japanese dakuten, Cyrillic й). */
function stripLatinMarks(text: string): string {
  return text
    .normalize('NFD')
    .replace(/([A-Za-z])\p{M}+/gu, '$1')
    .normalize('NFC');
}

/** The phrase-rule view (see the file comment). Words are separated by exactly one space; no leading/trailing space. */
export function wordsView(text: string): string {
  let t = text.normalize('NFKC').replace(INVISIBLE_ALL, '');
  t = skeleton(t);
  t = t.replace(/([a-z])([A-Z])/g, '$1 $2'); // camelCase → camel case
  t = t.toLowerCase();
  if (/[^\x00-\x7F]/.test(t)) t = stripLatinMarks(t).replace(/ß/g, 'ss').replace(/ё/g, 'е');
  t = unLeet(t);
  return t.replace(/[^\p{L}\p{N}\p{M}]+/gu, ' ').trim();
}

const SPACED_LETTERS = /(?:^|\s)(?:\p{L}\s){4,}\p{L}(?=\s|$)/u;

/** The words view without spaces when the text spells words out letter by letter; else null. */
export function squashedView(words: string): string | null {
  return SPACED_LETTERS.test(words) ? words.replace(/ /g, '') : null;
}

/** Detection view for structural rules: invisible characters removed and look-alike letters folded. */
export function foldConfusables(text: string): string {
  return skeleton(text.replace(INVISIBLE_ALL, ''));
}

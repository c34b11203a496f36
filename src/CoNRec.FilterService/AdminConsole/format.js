// Number and time formatting, and a small element builder. Text always goes in through textContent:
// nothing the server or a file says is ever parsed as HTML.

/** 0.0312 → "3.1%"; null/undefined → "—". */
export function pct(x) {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—';
}

/** A threshold or weight: up to 4 decimals, trailing zeros dropped (0.9 → "0.9", 0.87340003 → "0.8734"). */
export function num(x, decimals = 4) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
  const s = x.toFixed(decimals).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

/** An integer count with grouping: 12345 → "12,345" (in the browser's locale). */
export function count(x) {
  return typeof x === 'number' && Number.isFinite(x) ? x.toLocaleString() : '—';
}

/** A rate or duration with one decimal: 812.34 → "812.3". */
export function fixed1(x) {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(1) : '—';
}

/** Builds an element: h('td', {class: 'num', dataset: {scene: 'x'}}, 'text', child, …). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A <time> in the browser's local time, with the ISO timestamp in datetime and title. Null → "—". */
export function timeEl(iso) {
  if (!iso) return document.createTextNode('—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return document.createTextNode(String(iso));
  return h('time', { datetime: iso, title: iso }, d.toLocaleString());
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren(...children.flat().filter(c => c !== null && c !== undefined && c !== false));
}

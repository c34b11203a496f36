// Inline SVG charts: the tuning operating curve and the health sparklines. No library.
// The geometry helpers are pure and exported for tests; drawing needs a DOM.

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const pct = x => (typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—');
const thr = x => (Math.round(x * 10000) / 10000).toString();

/**
 * The curve point that stands for the current threshold: the one with the smallest threshold ≥ current
 * (rejection is score > threshold, so it rejects what the current threshold rejects, or just less).
 * @returns {number} its index in `curve`, or -1 when none is ≥ current ("not on curve").
 */
export function currentPointIndex(curve, current) {
  if (typeof current !== 'number' || !Number.isFinite(current)) return -1;
  let best = -1;
  for (let i = 0; i < curve.length; i++) {
    const t = curve[i].threshold;
    if (t >= current && (best < 0 || t < curve[best].threshold)) best = i;
  }
  return best;
}

/** Index of the recommended point in the curve (same threshold), or -1. */
export function pointIndex(curve, point) {
  if (!point) return -1;
  return curve.findIndex(p => p.threshold === point.threshold);
}

/** The tooltip and accessible name of a curve point. */
export function pointLabel(p) {
  const precision = typeof p.precision === 'number' ? pct(p.precision) : 'n/a';
  return `threshold ${thr(p.threshold)}: disliked ${pct(p.disliked_reject_rate)}, liked ${pct(p.liked_reject_rate)}, precision ${precision}`;
}

/** Evenly spaced ticks from 0 to max (inclusive), `n` intervals. */
export function ticks(max, n = 5) {
  return Array.from({ length: n + 1 }, (_, i) => Math.round((max * i / n) * 1e9) / 1e9);
}

/** Scales `values` into a sparkline polyline's points within width × height (min at the bottom). */
export function sparkPoints(values, width, height, pad = 2) {
  const finite = values.filter(v => typeof v === 'number' && Number.isFinite(v));
  if (finite.length === 0) return '';
  let min = Math.min(...finite), max = Math.max(...finite);
  if (max === min) { max += 1; min = Math.max(0, min - 1); }
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  const pts = [];
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return;
    const x = pad + i * step;
    const y = height - pad - ((v - min) / (max - min)) * (height - 2 * pad);
    pts.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  return pts.join(' ');
}

const W = 560, H = 380;
const M = { left: 60, right: 16, top: 14, bottom: 52 };
const PW = W - M.left - M.right, PH = H - M.top - M.bottom;

/**
 * Draws the operating curve into `container` (replacing its content) and returns a handle.
 * x: liked rejected (false reject rate), y: disliked rejected. Every point is a focusable circle; Enter, Space
 * or a click selects it; arrow keys move along the curve.
 *
 * @param {HTMLElement} container
 * @param {{curve: object[], xMax?: number, objectiveFr?: number|null, currentIndex: number,
 *          recommendedIndex: number, selectedIndex: number, onSelect: (index: number) => void}} o
 */
export function drawOperatingCurve(container, o) {
  const xMax = o.xMax ?? 1;
  const x = v => M.left + (Math.min(v, xMax) / xMax) * PW;
  const y = v => M.top + PH - v * PH;
  const visible = p => p.liked_reject_rate <= xMax + 1e-12;

  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`, class: 'curve-chart', role: 'group', 'data-testid': 'curve-chart',
    'aria-label': 'Operating curve: share of liked samples rejected (x) against share of disliked samples rejected (y). Each point is a threshold.',
  });
  const clipId = 'curve-clip';
  svg.append(s('defs', {}, s('clipPath', { id: clipId }, s('rect', { x: M.left - 6, y: M.top - 6, width: PW + 12, height: PH + 12 }))));

  // Grid, axes, ticks and labels.
  const axes = s('g', { class: 'axes', 'aria-hidden': 'true' });
  for (const t of ticks(xMax)) {
    axes.append(s('line', { class: 'grid', x1: x(t), x2: x(t), y1: M.top, y2: M.top + PH }));
    axes.append(s('text', { class: 'tick', x: x(t), y: M.top + PH + 18, 'text-anchor': 'middle' }, `${Math.round(t * 1000) / 10}%`));
  }
  for (const t of ticks(1)) {
    axes.append(s('line', { class: 'grid', x1: M.left, x2: M.left + PW, y1: y(t), y2: y(t) }));
    axes.append(s('text', { class: 'tick', x: M.left - 8, y: y(t) + 4, 'text-anchor': 'end' }, `${Math.round(t * 100)}%`));
  }
  axes.append(s('line', { class: 'axis', x1: M.left, x2: M.left + PW, y1: M.top + PH, y2: M.top + PH }));
  axes.append(s('line', { class: 'axis', x1: M.left, x2: M.left, y1: M.top, y2: M.top + PH }));
  axes.append(s('text', { class: 'axis-label', x: M.left + PW / 2, y: H - 10, 'text-anchor': 'middle' }, 'Liked rejected (false reject rate)'));
  axes.append(s('text', { class: 'axis-label', x: 16, y: M.top + PH / 2, 'text-anchor': 'middle', transform: `rotate(-90 16 ${M.top + PH / 2})` }, 'Disliked rejected'));
  svg.append(axes);

  // Objective: a dashed vertical line at max_false_reject_rate.
  if (typeof o.objectiveFr === 'number' && o.objectiveFr <= xMax) {
    svg.append(s('line', {
      class: 'objective-line', 'data-testid': 'objective-line', 'aria-hidden': 'true',
      x1: x(o.objectiveFr), x2: x(o.objectiveFr), y1: M.top, y2: M.top + PH,
    }));
  }

  // The curve, in threshold order (highest first: both rates grow as the threshold falls).
  const order = o.curve.map((_, i) => i).sort((a, b) => o.curve[b].threshold - o.curve[a].threshold);
  const pathPts = order.filter(i => visible(o.curve[i]))
    .map(i => `${x(o.curve[i].liked_reject_rate).toFixed(1)},${y(o.curve[i].disliked_reject_rate).toFixed(1)}`);
  if (pathPts.length > 1) svg.append(s('polyline', { class: 'curve-line', points: pathPts.join(' '), 'clip-path': `url(#${clipId})`, 'aria-hidden': 'true' }));

  // Points: focusable, selectable.
  const pointsGroup = s('g', { class: 'points' });
  const circles = new Map();
  const focusOrder = order.filter(i => visible(o.curve[i]));
  for (const i of focusOrder) {
    const p = o.curve[i];
    const c = s('circle', {
      class: 'curve-point', cx: x(p.liked_reject_rate).toFixed(1), cy: y(p.disliked_reject_rate).toFixed(1), r: 4,
      tabindex: 0, role: 'button', 'aria-pressed': 'false', 'aria-label': pointLabel(p),
      'data-testid': 'curve-point', 'data-threshold': String(p.threshold), 'data-index': String(i),
    }, s('title', {}, pointLabel(p)));
    c.addEventListener('click', () => o.onSelect(i));
    c.addEventListener('keydown', e => {
      if (e.key === 'Enter' || e.key === ' ' || e.key === 'Spacebar') { e.preventDefault(); o.onSelect(i); return; }
      const at = focusOrder.indexOf(i);
      const to = { ArrowRight: at + 1, ArrowUp: at + 1, ArrowLeft: at - 1, ArrowDown: at - 1, Home: 0, End: focusOrder.length - 1 }[e.key];
      if (to !== undefined && to >= 0 && to < focusOrder.length) { e.preventDefault(); circles.get(focusOrder[to]).focus(); }
    });
    circles.set(i, c);
    pointsGroup.append(c);
  }
  svg.append(pointsGroup);

  // Markers over the points; they never take the pointer, so the circle under them stays clickable.
  const markers = s('g', { class: 'markers', 'aria-hidden': 'true' });
  svg.append(markers);

  const marker = (kind, index) => {
    if (index < 0 || !circles.has(index)) return null;
    const p = o.curve[index];
    const cx = x(p.liked_reject_rate), cy = y(p.disliked_reject_rate);
    const attrs = { class: `marker marker-${kind}`, 'data-testid': `marker-${kind}`, 'data-threshold': String(p.threshold) };
    if (kind === 'current') return s('polygon', { ...attrs, points: `${cx},${cy - 9} ${cx + 9},${cy} ${cx},${cy + 9} ${cx - 9},${cy}` });
    if (kind === 'recommended') return s('rect', { ...attrs, x: cx - 7, y: cy - 7, width: 14, height: 14 });
    return s('circle', { ...attrs, cx, cy, r: 11 });
  };

  let current = o.currentIndex, selected = o.selectedIndex;
  const paint = () => {
    markers.replaceChildren(...[marker('current', current), marker('recommended', o.recommendedIndex), marker('selected', selected)].filter(Boolean));
    for (const [i, c] of circles) {
      c.setAttribute('aria-pressed', String(i === selected));
      const tags = [i === selected && 'selected', i === o.recommendedIndex && 'recommended', i === current && 'current threshold'].filter(Boolean);
      c.setAttribute('aria-label', pointLabel(o.curve[i]) + (tags.length ? ` (${tags.join(', ')})` : ''));
    }
  };
  paint();
  container.replaceChildren(svg);

  return {
    select(index) { selected = index; paint(); },
    setCurrent(index) { current = index; paint(); },
    focusPoint(index) { circles.get(index)?.focus(); },
    isVisible(index) { return circles.has(index); },
  };
}

/** One legend swatch (a tiny SVG) for the markers, so the legend matches the chart exactly. */
export function legendSwatch(kind) {
  const svg = s('svg', { viewBox: '0 0 24 24', width: 24, height: 24, class: 'swatch', 'aria-hidden': 'true', focusable: 'false' });
  if (kind === 'point') svg.append(s('circle', { class: 'curve-point', cx: 12, cy: 12, r: 4 }));
  else if (kind === 'current') svg.append(s('polygon', { class: 'marker marker-current', points: '12,3 21,12 12,21 3,12' }));
  else if (kind === 'recommended') svg.append(s('rect', { class: 'marker marker-recommended', x: 5, y: 5, width: 14, height: 14 }));
  else if (kind === 'selected') svg.append(s('circle', { class: 'marker marker-selected', cx: 12, cy: 12, r: 8 }));
  else if (kind === 'objective') svg.append(s('line', { class: 'objective-line', x1: 12, x2: 12, y1: 1, y2: 23 }));
  return svg;
}

/**
 * A sparkline of `values` (oldest first) into `container`, with an accessible summary.
 * @param {HTMLElement} container
 * @param {number[]} values
 * @param {{label: string, format: (v: number) => string}} o
 */
export function drawSparkline(container, values, o) {
  const w = 240, h = 48;
  const finite = values.filter(v => typeof v === 'number' && Number.isFinite(v));
  const summary = finite.length === 0 ? `${o.label}: no data yet`
    : `${o.label} over the last ${finite.length} polls: min ${o.format(Math.min(...finite))}, max ${o.format(Math.max(...finite))}, latest ${o.format(finite[finite.length - 1])}`;
  const svg = s('svg', { viewBox: `0 0 ${w} ${h}`, class: 'sparkline', role: 'img', 'aria-label': summary, width: w, height: h },
    s('title', {}, summary));
  svg.append(s('rect', { class: 'spark-bg', x: 0, y: 0, width: w, height: h }));
  const pts = sparkPoints(values, w, h, 4);
  if (pts) {
    svg.append(s('polyline', { class: 'spark-line', points: pts }));
    const last = pts.split(' ').pop().split(',');
    svg.append(s('circle', { class: 'spark-last', cx: last[0], cy: last[1], r: 2.5 }));
  }
  container.replaceChildren(svg);
}

import { scaleBand, scaleLinear, type ScaleLinear } from 'd3-scale';
import { area, line } from 'd3-shape';

/** A chart's title and its horizontal value grid with labelled ticks, shared by every chart. */
function titleAndValueGrid(
  title: string,
  y: ScaleLinear<number, number>,
  m: { left: number; right: number },
  width: number,
): string {
  let body = text(16, 24, title, { size: 15, weight: 'bold', max: width - 32 });
  for (const t of y.ticks(5)) {
    body += lineSeg(m.left, y(t), width - m.right, y(t), '#eee');
    body += text(m.left - 6, y(t) + 4, String(t), { size: 10, anchor: 'end', colour: '#666' });
  }
  return body;
}

/**
 * SVG building blocks for the hand-in report. Scales and paths come from d3-scale and
 * d3-shape (pure functions, no DOM); this file only lays out boxes and text. Every picture is
 * a self-contained SVG file: no fonts, scripts or links to fetch.
 */

export type Tone = 'ok' | 'bad' | 'warn' | 'none' | 'info';

export const COLOURS: Record<Tone, string> = {
  ok: '#1b7f3b',
  bad: '#c62828',
  warn: '#b26a00',
  none: '#757575',
  info: '#1f5fa8',
};
const FILL: Record<Tone, string> = {
  ok: '#e6f4ea',
  bad: '#fdecea',
  warn: '#fff4e0',
  none: '#f1f1f1',
  info: '#e8f0fb',
};

export const FONT = "font-family='Helvetica, Arial, sans-serif'";

export function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Rough text width without a browser: wide (CJK) characters count about twice. */
export function textWidth(s: string, size: number): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\uffff]/.test(ch) ? 1.0 : 0.56;
  return w * size;
}

/** Cut `s` to fit `px` at `size`, with an ellipsis. */
export function fit(s: string, px: number, size: number): string {
  if (textWidth(s, size) <= px) return s;
  let out = '';
  for (const ch of s) {
    if (textWidth(out + ch + '…', size) > px) break;
    out += ch;
  }
  return out + '…';
}

export function text(
  x: number,
  y: number,
  s: string,
  opts: {
    size?: number;
    anchor?: 'start' | 'middle' | 'end';
    weight?: 'bold' | 'normal';
    colour?: string;
    max?: number;
  } = {},
): string {
  const size = opts.size ?? 12;
  const body = opts.max ? fit(s, opts.max, size) : s;
  return `<text x='${r(x)}' y='${r(y)}' font-size='${size}' text-anchor='${opts.anchor ?? 'start'}'${opts.weight === 'bold' ? " font-weight='bold'" : ''} fill='${opts.colour ?? '#222'}'>${esc(body)}</text>`;
}

export function rect(
  x: number,
  y: number,
  w: number,
  h: number,
  opts: { fill?: string; stroke?: string; rx?: number; dash?: boolean } = {},
): string {
  return `<rect x='${r(x)}' y='${r(y)}' width='${r(Math.max(0, w))}' height='${r(Math.max(0, h))}' rx='${opts.rx ?? 0}' fill='${opts.fill ?? 'none'}' stroke='${opts.stroke ?? 'none'}'${opts.dash ? " stroke-dasharray='4 3'" : ''}/>`;
}

export function lineSeg(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  colour = '#999',
  dash = false,
): string {
  return `<line x1='${r(x1)}' y1='${r(y1)}' x2='${r(x2)}' y2='${r(y2)}' stroke='${colour}'${dash ? " stroke-dasharray='4 3'" : ''}/>`;
}

/** A status chip: coloured box with a label. */
export function chip(
  x: number,
  y: number,
  w: number,
  h: number,
  label: string,
  tone: Tone,
  size = 11,
): string {
  return (
    rect(x, y, w, h, { fill: FILL[tone], stroke: COLOURS[tone], rx: 4 }) +
    text(x + w / 2, y + h / 2 + size * 0.35, label, {
      size,
      anchor: 'middle',
      colour: COLOURS[tone],
      max: w - 6,
    })
  );
}

export function svg(width: number, height: number, title: string, body: string): string {
  return `<svg xmlns='http://www.w3.org/2000/svg' width='${width}' height='${height}' viewBox='0 0 ${width} ${height}' role='img' ${FONT}><title>${esc(title)}</title>${rect(0, 0, width, height, { fill: '#ffffff' })}${body}</svg>\n`;
}

const r = (n: number) => Math.round(n * 10) / 10;

/** A rows-of-settings panel: a mark, a label and the live value per row, coloured by status. */
export function panel(
  title: string,
  rows: Array<{ label: string; value: string; tone: Tone; mark: string }>,
  width = 760,
): string {
  const rowH = 24;
  const top = 40;
  const height = top + Math.max(1, rows.length) * rowH + 14;
  let body = text(16, 26, title, { size: 15, weight: 'bold', max: width - 32 });
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    body += rect(12, y, width - 24, rowH - 4, { fill: FILL[row.tone], rx: 3 });
    body += text(24, y + 15, row.mark, { size: 13, weight: 'bold', colour: COLOURS[row.tone] });
    body += text(44, y + 15, row.label, { size: 12, max: width * 0.38 });
    body += text(44 + width * 0.4, y + 15, row.value, {
      size: 12,
      colour: '#333',
      max: width * 0.55 - 44,
    });
  });
  return svg(width, height, title, body);
}

/** Vertical bars over named categories (the latency histogram). */
export function barChart(opts: {
  title: string;
  bars: Array<{ label: string; value: number; tone?: Tone }>;
  yLabel: string;
  markers?: Array<{ atIndex: number; label: string; tone: Tone }>;
  width?: number;
  height?: number;
}): string {
  const width = opts.width ?? 760;
  const height = opts.height ?? 320;
  const m = { top: 44, right: 20, bottom: 46, left: 64 };
  const x = scaleBand<string>()
    .domain(opts.bars.map((b) => b.label))
    .range([m.left, width - m.right])
    .padding(0.15);
  const max = Math.max(1, ...opts.bars.map((b) => b.value));
  const y = scaleLinear()
    .domain([0, max])
    .nice()
    .range([height - m.bottom, m.top]);
  let body = titleAndValueGrid(opts.title, y, m, width);
  body += text(14, m.top - 10, opts.yLabel, { size: 10, colour: '#666' });
  for (const b of opts.bars) {
    const bx = x(b.label)!;
    body += rect(bx, y(b.value), x.bandwidth(), y(0) - y(b.value), {
      fill: COLOURS[b.tone ?? 'info'],
    });
    if (b.value > 0)
      body += text(bx + x.bandwidth() / 2, y(b.value) - 3, String(b.value), {
        size: 9,
        anchor: 'middle',
        colour: '#444',
      });
    body += text(bx + x.bandwidth() / 2, height - m.bottom + 14, b.label, {
      size: 9,
      anchor: 'middle',
      colour: '#444',
      max: x.bandwidth() + 8,
    });
  }
  for (const mk of opts.markers ?? []) {
    const label = opts.bars[mk.atIndex]?.label;
    if (label === undefined) continue;
    const mx = x(label)! + x.bandwidth();
    body += lineSeg(mx, m.top - 4, mx, height - m.bottom, COLOURS[mk.tone], true);
    body += text(mx - 3, m.top + 6 + 12 * (opts.markers!.indexOf(mk) % 3), mk.label, {
      size: 10,
      anchor: 'end',
      colour: COLOURS[mk.tone],
    });
  }
  body += lineSeg(m.left, y(0), width - m.right, y(0), '#444');
  return svg(width, height, opts.title, body);
}

/** A value over time (requests per second), with an optional second series drawn as bars. */
export function timeSeries(opts: {
  title: string;
  points: Array<{ t: number; v: number }>;
  errors?: Array<{ t: number; v: number }>;
  xLabel: string;
  yLabel: string;
  legend: { value: string; errors?: string };
  width?: number;
  height?: number;
}): string {
  const width = opts.width ?? 760;
  const height = opts.height ?? 280;
  const m = { top: 44, right: 20, bottom: 42, left: 64 };
  const tMax = Math.max(1, ...opts.points.map((p) => p.t), ...(opts.errors ?? []).map((p) => p.t));
  const vMax = Math.max(1, ...opts.points.map((p) => p.v), ...(opts.errors ?? []).map((p) => p.v));
  const x = scaleLinear()
    .domain([0, tMax])
    .range([m.left, width - m.right]);
  const y = scaleLinear()
    .domain([0, vMax])
    .nice()
    .range([height - m.bottom, m.top]);
  let body = titleAndValueGrid(opts.title, y, m, width);
  for (const t of x.ticks(8))
    body += text(x(t), height - m.bottom + 14, String(t), {
      size: 10,
      anchor: 'middle',
      colour: '#666',
    });
  body += text(width - m.right, height - 8, opts.xLabel, {
    size: 10,
    anchor: 'end',
    colour: '#666',
  });
  body += text(14, m.top - 10, opts.yLabel, { size: 10, colour: '#666' });
  const fillPath = area<{ t: number; v: number }>()
    .x((p) => x(p.t))
    .y0(y(0))
    .y1((p) => y(p.v))(opts.points);
  const strokePath = line<{ t: number; v: number }>()
    .x((p) => x(p.t))
    .y((p) => y(p.v))(opts.points);
  if (fillPath) body += `<path d='${fillPath}' fill='${FILL.info}'/>`;
  if (strokePath)
    body += `<path d='${strokePath}' fill='none' stroke='${COLOURS.info}' stroke-width='2'/>`;
  const bw = Math.max(2, (x(1) - x(0)) * 0.6);
  for (const e of opts.errors ?? [])
    if (e.v > 0) body += rect(x(e.t) - bw / 2, y(e.v), bw, y(0) - y(e.v), { fill: COLOURS.bad });
  body += lineSeg(m.left, y(0), width - m.right, y(0), '#444');
  body +=
    rect(width - 210, 10, 10, 10, { fill: COLOURS.info }) +
    text(width - 196, 19, opts.legend.value, { size: 10, max: 190 });
  if (opts.legend.errors)
    body +=
      rect(width - 210, 24, 10, 10, { fill: COLOURS.bad }) +
      text(width - 196, 33, opts.legend.errors, { size: 10, max: 190 });
  return svg(width, height, opts.title, body);
}

/** Horizontal bars on a shared day (or second) axis: retention settings, teardown steps. */
export function spans(opts: {
  title: string;
  rows: Array<{
    label: string;
    from: number;
    to: number;
    tone: Tone;
    note?: string;
    marks?: Array<{ at: number; label: string }>;
  }>;
  axisLabel: string;
  width?: number;
  max?: number;
}): string {
  const width = opts.width ?? 760;
  const rowH = 26;
  const m = { top: 44, right: 20, bottom: 34, left: 230 };
  const height = m.top + Math.max(1, opts.rows.length) * rowH + m.bottom;
  const max = opts.max ?? Math.max(1, ...opts.rows.map((r) => r.to));
  const x = scaleLinear()
    .domain([0, max])
    .nice()
    .range([m.left, width - m.right]);
  let body = text(16, 24, opts.title, { size: 15, weight: 'bold', max: width - 32 });
  const bottom = height - m.bottom;
  for (const t of x.ticks(8)) {
    body += lineSeg(x(t), m.top - 4, x(t), bottom, '#eee');
    body += text(x(t), bottom + 14, String(t), { size: 10, anchor: 'middle', colour: '#666' });
  }
  body += text(width - m.right, height - 6, opts.axisLabel, {
    size: 10,
    anchor: 'end',
    colour: '#666',
  });
  opts.rows.forEach((row, i) => {
    const y = m.top + i * rowH;
    body += text(m.left - 8, y + 15, row.label, { size: 11, anchor: 'end', max: m.left - 16 });
    const x0 = x(row.from);
    const w = Math.max(3, x(row.to) - x0);
    body += rect(x0, y + 3, w, rowH - 8, {
      fill: FILL[row.tone],
      stroke: COLOURS[row.tone],
      rx: 3,
    });
    if (row.note) {
      const inside = textWidth(row.note, 10) < w - 8;
      body += text(inside ? x0 + 5 : x0 + w + 5, y + 16, row.note, {
        size: 10,
        colour: COLOURS[row.tone],
        max: inside ? w - 8 : width - m.right - x0 - w - 6,
      });
    }
    for (const mk of row.marks ?? []) {
      body += lineSeg(x(mk.at), y + 1, x(mk.at), y + rowH - 3, COLOURS[row.tone]);
      body += text(x(mk.at) + 3, y + rowH - 4, mk.label, { size: 8, colour: COLOURS[row.tone] });
    }
  });
  return svg(width, height, opts.title, body);
}

/** Lanes over time: each lane holds segments (states) and point events; markers cut across. */
export function lanes(opts: {
  title: string;
  lanes: Array<{
    label: string;
    segments: Array<{ from: number; to: number; tone: Tone; label?: string }>;
    events?: Array<{ at: number; label: string; tone: Tone }>;
  }>;
  markers: Array<{ at: number; label: string; tone: Tone }>;
  axisLabel: string;
  footer?: string;
  width?: number;
}): string {
  const width = opts.width ?? 760;
  const laneH = 46;
  const m = { top: 52, right: 24, bottom: opts.footer ? 54 : 36, left: 170 };
  const height = m.top + opts.lanes.length * laneH + m.bottom;
  const ends = opts.lanes.flatMap((l) => [
    ...l.segments.map((s) => s.to),
    ...(l.events ?? []).map((e) => e.at),
  ]);
  const tMax = Math.max(10, ...ends, ...opts.markers.map((mk) => mk.at)) * 1.05;
  const x = scaleLinear()
    .domain([0, tMax])
    .nice()
    .range([m.left, width - m.right]);
  let body = text(16, 24, opts.title, { size: 15, weight: 'bold', max: width - 32 });
  const bottom = m.top + opts.lanes.length * laneH;
  for (const t of x.ticks(10)) {
    body += lineSeg(x(t), m.top - 6, x(t), bottom, '#eee');
    body += text(x(t), bottom + 14, String(t), { size: 10, anchor: 'middle', colour: '#666' });
  }
  body += text(width - m.right, bottom + 28, opts.axisLabel, {
    size: 10,
    anchor: 'end',
    colour: '#666',
  });
  opts.lanes.forEach((lane, i) => {
    const y = m.top + i * laneH;
    body += text(m.left - 8, y + 20, lane.label, { size: 11, anchor: 'end', max: m.left - 14 });
    for (const s of lane.segments) {
      const x0 = x(s.from);
      const w = Math.max(2, x(s.to) - x0);
      body += rect(x0, y + 8, w, 18, { fill: FILL[s.tone], stroke: COLOURS[s.tone], rx: 3 });
      if (s.label && textWidth(s.label, 10) < w - 6)
        body += text(x0 + 4, y + 21, s.label, { size: 10, colour: COLOURS[s.tone] });
    }
    for (const e of lane.events ?? []) {
      body += `<circle cx='${r(x(e.at))}' cy='${y + 17}' r='4' fill='${COLOURS[e.tone]}'/>`;
      body += text(x(e.at), y + 40, e.label, {
        size: 9,
        anchor: 'middle',
        colour: COLOURS[e.tone],
        max: 150,
      });
    }
  });
  opts.markers.forEach((mk, i) => {
    body += lineSeg(x(mk.at), m.top - 10, x(mk.at), bottom, COLOURS[mk.tone], true);
    body += text(x(mk.at) + 3, m.top - 12 - (i % 2) * 11, mk.label, {
      size: 10,
      weight: 'bold',
      colour: COLOURS[mk.tone],
    });
  });
  if (opts.footer)
    body += text(16, height - 12, opts.footer, { size: 11, colour: '#333', max: width - 32 });
  return svg(width, height, opts.title, body);
}

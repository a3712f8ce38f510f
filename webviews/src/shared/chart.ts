// A small SVG line chart for streaming training curves. Lines live in data coordinates inside a group
// whose transform maps data to pixels (with non-scaling strokes), so a new point is one appended SVG
// point and a change of scale is one new transform plus new ticks: nothing is redrawn per point.
// Colours come from the theme (`--vscode-charts-*`) through CSS classes; labels are set as text.
import './chart.css';

const SVG_NS = 'http://www.w3.org/2000/svg';
const MARGIN = { top: 10, right: 14, bottom: 28, left: 52 };
/** How many theme colours the stylesheet defines (`.chart-colour-0` … `-7`). */
export const CHART_COLOURS = 8;

export interface SeriesStyle {
  label: string;
  colour: number;
  dashed?: boolean;
}

interface Series {
  style: SeriesStyle;
  line: SVGPolylineElement;
  count: number;
  legend: HTMLElement;
}

interface Domain {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

let chartCount = 0;

function extend(e: Domain | null, x: number, y: number): Domain {
  return e
    ? { x0: Math.min(e.x0, x), x1: Math.max(e.x1, x), y0: Math.min(e.y0, y), y1: Math.max(e.y1, y) }
    : { x0: x, x1: x, y0: y, y1: y };
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

/** A round step (1, 2 or 5 times a power of ten) that cuts [lo, hi] into about `count` parts. */
function tickStep(lo: number, hi: number, count: number): number {
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
}

/** The round values in [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step = tickStep(lo, hi, count);
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** Round bounds around [lo, hi], so a few more points rarely change the scale. */
export function niceBounds(lo: number, hi: number): [number, number] {
  if (hi === lo) {
    const pad = Math.abs(lo) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }
  const step = tickStep(lo, hi, 5);
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

export class LineChart {
  /** The chart's root: a legend above an SVG. */
  readonly element: HTMLElement;
  private readonly svgRoot: SVGSVGElement;
  private readonly plot: SVGGElement;
  private readonly xAxis: SVGGElement;
  private readonly yAxis: SVGGElement;
  private readonly legendRow: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly series = new Map<string, Series>();
  private width = 0;
  private readonly height: number;
  private domain: Domain | null = null;
  /** Data extent seen so far, kept so a rescale never needs to walk the points. */
  private extent: Domain | null = null;
  private minXSpan = 0;

  constructor(options: { title: string; height?: number; emptyText?: string }) {
    this.height = options.height ?? 200;
    const id = `chart-${++chartCount}`;
    this.element = document.createElement('figure');
    this.element.className = 'chart';
    const caption = document.createElement('figcaption');
    caption.className = 'chart-title';
    caption.textContent = options.title;
    this.legendRow = document.createElement('div');
    this.legendRow.className = 'chart-legend';
    caption.append(this.legendRow);
    this.svgRoot = svg('svg', { class: 'chart-svg', height: String(this.height), role: 'img' });
    this.svgRoot.setAttribute('aria-label', options.title);
    const clip = svg('clipPath', { id: `${id}-clip` });
    clip.append(svg('rect', { class: 'chart-clip-rect' }));
    const defs = svg('defs');
    defs.append(clip);
    this.xAxis = svg('g', { class: 'chart-axis chart-axis-x' });
    this.yAxis = svg('g', { class: 'chart-axis chart-axis-y' });
    const clipped = svg('g', { 'clip-path': `url(#${id}-clip)` });
    this.plot = svg('g', { class: 'chart-plot' });
    clipped.append(this.plot);
    this.svgRoot.append(defs, this.yAxis, this.xAxis, clipped);
    this.empty = document.createElement('div');
    this.empty.className = 'chart-empty';
    this.empty.textContent = options.emptyText ?? 'No data yet';
    this.element.append(caption, this.svgRoot, this.empty);
    new ResizeObserver(() => this.resize()).observe(this.element);
  }

  /** The x range drawn is at least [0, span] (e.g. a job's total steps), so progress reads at a glance. */
  setMinXSpan(span: number): void {
    if (span === this.minXSpan) return;
    this.minXSpan = span;
    this.rescale(true);
  }

  hasSeries(id: string): boolean {
    return this.series.has(id);
  }

  /** Points drawn in series `id` (0 when there is no such series). */
  count(id: string): number {
    return this.series.get(id)?.count ?? 0;
  }

  /** Creates or replaces series `id` with `points`. */
  setSeries(id: string, style: SeriesStyle, points: ReadonlyArray<readonly [number, number]>): void {
    const replaced = this.series.has(id);
    this.removeSeries(id, false);
    const line = svg('polyline', {
      class: `chart-line chart-colour-${style.colour % CHART_COLOURS}${style.dashed ? ' chart-dashed' : ''}`,
    });
    const legend = document.createElement('span');
    legend.className = `chart-legend-item chart-colour-${style.colour % CHART_COLOURS}`;
    const swatch = document.createElement('span');
    swatch.className = `chart-swatch${style.dashed ? ' chart-dashed' : ''}`;
    const label = document.createElement('span');
    label.textContent = style.label;
    legend.append(swatch, label);
    // A series shows in the legend once it has a point (a run without evaluation has no eval line).
    legend.hidden = true;
    this.legendRow.append(legend);
    this.plot.append(line);
    this.series.set(id, { style, line, count: 0, legend });
    this.appendPoints(id, points);
    if (replaced) this.recomputeExtent();
    else this.rescale(true);
  }

  /** Adds points to the end of series `id`; non-finite values are skipped. */
  appendPoints(id: string, points: ReadonlyArray<readonly [number, number]>): void {
    const s = this.series.get(id);
    if (!s) return;
    for (const [x, y] of points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      const p = this.svgRoot.createSVGPoint();
      p.x = x;
      p.y = y;
      s.line.points.appendItem(p);
      s.count++;
      s.legend.hidden = false;
      this.extent = extend(this.extent, x, y);
    }
    this.rescale(false);
  }

  removeSeries(id: string, rescale = true): void {
    const s = this.series.get(id);
    if (!s) return;
    s.line.remove();
    s.legend.remove();
    this.series.delete(id);
    if (rescale) this.recomputeExtent();
  }

  clear(): void {
    for (const id of [...this.series.keys()]) this.removeSeries(id, false);
    this.recomputeExtent();
  }

  seriesIds(): string[] {
    return [...this.series.keys()];
  }

  private recomputeExtent(): void {
    let extent: Domain | null = null;
    for (const s of this.series.values()) {
      const list = s.line.points;
      for (let i = 0; i < list.numberOfItems; i++) {
        const { x, y } = list.getItem(i);
        extent = extend(extent, x, y);
      }
    }
    this.extent = extent;
    this.rescale(true);
  }

  private resize(): void {
    const width = Math.max(200, Math.floor(this.element.clientWidth));
    if (width === this.width) return;
    this.width = width;
    this.svgRoot.setAttribute('width', String(width));
    this.rescale(true);
  }

  /** Widens the domain when the extent leaves it (or always when `force`), then moves the plot and the ticks. */
  private rescale(force: boolean): void {
    const e = this.extent;
    this.empty.hidden = e !== null;
    this.svgRoot.classList.toggle('chart-svg-empty', e === null);
    if (e === null || this.width === 0) return;
    const d = this.domain;
    const xHi = Math.max(e.x1, this.minXSpan);
    const inside = d !== null && e.x0 >= d.x0 && xHi <= d.x1 && e.y0 >= d.y0 && e.y1 <= d.y1;
    // A scale set from one point (or a flat start, like a learning rate warming up from 0) is far too
    // loose for the curve that follows: tighten it once the data fill under a quarter of its height.
    const loose = d !== null && e.y1 > e.y0 && e.y1 - e.y0 < (d.y1 - d.y0) / 4;
    if (inside && !loose && !force) return;
    const [y0, y1] = niceBounds(e.y0, e.y1);
    const x0 = Math.min(0, e.x0);
    const x1 = xHi > x0 ? niceBounds(x0, xHi)[1] : x0 + 1;
    this.domain = { x0, x1, y0, y1 };
    this.layout();
  }

  private layout(): void {
    const d = this.domain!;
    const w = this.width - MARGIN.left - MARGIN.right;
    const h = this.height - MARGIN.top - MARGIN.bottom;
    const sx = w / (d.x1 - d.x0);
    const sy = h / (d.y1 - d.y0);
    // Data (x, y) -> pixels (left + (x - x0) * sx, top + h - (y - y0) * sy).
    this.plot.setAttribute(
      'transform',
      `matrix(${sx} 0 0 ${-sy} ${MARGIN.left - d.x0 * sx} ${MARGIN.top + h + d.y0 * sy})`,
    );
    const rect = this.svgRoot.querySelector('.chart-clip-rect')!;
    rect.setAttribute('x', String(MARGIN.left));
    rect.setAttribute('y', String(MARGIN.top - 2));
    rect.setAttribute('width', String(w));
    rect.setAttribute('height', String(h + 4));
    this.xAxis.replaceChildren(
      svg('line', {
        x1: String(MARGIN.left),
        x2: String(MARGIN.left + w),
        y1: String(MARGIN.top + h),
        y2: String(MARGIN.top + h),
      }),
    );
    for (const t of niceTicks(d.x0, d.x1, Math.max(2, Math.floor(w / 80)))) {
      const x = MARGIN.left + (t - d.x0) * sx;
      const label = svg('text', { x: String(x), y: String(MARGIN.top + h + 16), 'text-anchor': 'middle' });
      label.textContent = formatTick(t);
      this.xAxis.append(
        svg('line', { x1: String(x), x2: String(x), y1: String(MARGIN.top + h), y2: String(MARGIN.top + h + 4) }),
        label,
      );
    }
    this.yAxis.replaceChildren();
    for (const t of niceTicks(d.y0, d.y1, Math.max(2, Math.floor(h / 40)))) {
      const y = MARGIN.top + h - (t - d.y0) * sy;
      const label = svg('text', { x: String(MARGIN.left - 6), y: String(y + 4), 'text-anchor': 'end' });
      label.textContent = formatTick(t);
      this.yAxis.append(
        svg('line', {
          class: 'chart-grid',
          x1: String(MARGIN.left),
          x2: String(MARGIN.left + w),
          y1: String(y),
          y2: String(y),
        }),
        label,
      );
    }
  }
}

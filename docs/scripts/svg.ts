/**
 * Small standalone SVG charts for the committed figures, readable in light and dark mode.
 *
 * Text, axes and grid take their colours from the VitePress theme's CSS variables when the SVG
 * is inlined in a page (`.vp-doc` sets `--vp-c-text-1`, ...), and from the reader's
 * `prefers-color-scheme` when the file is opened on its own; the background is transparent.
 * Series colours are mid-tones that read on white and on VitePress' dark background. Class names
 * start with `hsf-`: an inlined SVG's `<style>` applies to the whole page.
 */

/** One line of a chart. */
export interface Series {
  readonly label: string;
  readonly x: readonly number[];
  readonly y: readonly number[];
  /** A CSS colour, or `'text'` for the theme's text colour. */
  readonly color: string;
  readonly dashed?: boolean;
}

/** Labels and size of a chart. */
export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * Series colours that read on white and on VitePress' dark background (#1b1b1f): float32 is the
 * text colour; then orange, blue, green, magenta.
 */
export const PALETTE = ['text', '#e8590c', '#3b82f6', '#2f9e44', '#d6336c'] as const;

/** The `<style>` of every figure: theme-following text, axis and grid colours. */
export const STYLE = `<style>
.hsf { --hsf-fg: #1f2328; --hsf-muted: #59636e; --hsf-grid: #d8dee4; --hsf-frame: #8c959f; }
@media (prefers-color-scheme: dark) {
  .hsf { --hsf-fg: #e6edf3; --hsf-muted: #9198a1; --hsf-grid: #30363d; --hsf-frame: #656c76; }
}
.hsf text { fill: var(--vp-c-text-1, var(--hsf-fg)); font-family: Inter, ui-sans-serif, system-ui, sans-serif; }
.hsf .hsf-muted { fill: var(--vp-c-text-2, var(--hsf-muted)); }
.hsf .hsf-grid { stroke: var(--vp-c-divider, var(--hsf-grid)); }
.hsf .hsf-frame { stroke: var(--vp-c-border, var(--hsf-frame)); fill: none; }
.hsf .hsf-text-stroke { stroke: var(--vp-c-text-1, var(--hsf-fg)); }
.hsf .hsf-text-fill { fill: var(--vp-c-text-1, var(--hsf-fg)); }
</style>`;

export const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** `stroke="..."` or the class that gives the theme's text colour. */
export function strokeOf(color: string): string {
  return color === 'text' ? 'class="hsf-text-stroke"' : `stroke="${color}"`;
}

/** `fill="..."` or the class that gives the theme's text colour. */
export function fillOf(color: string): string {
  return color === 'text' ? 'class="hsf-text-fill"' : `fill="${color}"`;
}

/** The opening tag of a figure, with its title (for screen readers) and style. */
export function open(width: number, height: number, title: string, fontSize = 13): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="hsf" viewBox="0 0 ${width} ${height}" font-size="${fontSize}" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    STYLE,
  ].join('\n');
}

/** "Nice" tick values covering [lo, hi]: about `count` of them at 1, 2 or 5 times a power of 10. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

/** A tick label: `262,144` -> `262k`, small numbers with the decimals their step needs. */
export function tickLabel(value: number, step: number): string {
  if (Math.abs(value) >= 1e6 && step >= 1e5) return `${+(value / 1e6).toFixed(2)}M`;
  if (Math.abs(value) >= 1e3 && step >= 100) return `${+(value / 1e3).toFixed(1)}k`;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return value.toFixed(decimals);
}

/** Renders `series` as an SVG line chart with a logarithmic y axis (positive values only). */
export function logLineChart(series: readonly Series[], options: ChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const left = 70;
  const right = 210;
  const top = 36;
  const bottom = 52;
  const xs = series.flatMap((s) => s.x);
  const ys = series.flatMap((s) => s.y).filter((v) => v > 0);
  const xMax = Math.max(...xs);
  const yLo = Math.floor(Math.log10(Math.min(...ys)));
  const yHi = Math.ceil(Math.log10(Math.max(...ys)));
  const px = (x: number) => left + (x / xMax) * (width - left - right);
  const py = (y: number) => top + ((yHi - Math.log10(y)) / (yHi - yLo)) * (height - top - bottom);
  const parts: string[] = [
    open(width, height, options.title, 12),
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  for (let e = yLo; e <= yHi; e++) {
    const y = py(10 ** e).toFixed(1);
    parts.push(
      `<line class="hsf-grid" x1="${left}" x2="${width - right}" y1="${y}" y2="${y}"/>`,
      `<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">1e${e}</text>`,
    );
  }
  const xTicks = niceTicks(0, xMax, 4);
  const xStep = xTicks[1]! - xTicks[0]!;
  for (const value of xTicks) {
    const x = px(value).toFixed(1);
    parts.push(
      `<line class="hsf-grid" x1="${x}" x2="${x}" y1="${top}" y2="${height - bottom}"/>`,
      `<text x="${x}" y="${height - bottom + 16}" text-anchor="middle">${tickLabel(value, xStep)}</text>`,
    );
  }
  parts.push(
    `<rect class="hsf-frame" x="${left}" y="${top}" width="${width - left - right}" height="${height - top - bottom}"/>`,
    `<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(16 ${(top + height - bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const points = s.x
      .map((x, k) => [x, s.y[k]!] as const)
      .filter(([, y]) => y > 0)
      .map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`)
      .join(' ');
    const dash = s.dashed ? ' stroke-dasharray="5 4"' : '';
    parts.push(
      `<polyline points="${points}" fill="none" ${strokeOf(s.color)} stroke-width="1.8"${dash}/>`,
    );
    const ly = top + 10 + i * 20;
    parts.push(
      `<line x1="${width - right + 12}" x2="${width - right + 36}" y1="${ly}" y2="${ly}" ${strokeOf(s.color)} stroke-width="2"${dash}/>`,
      `<text x="${width - right + 42}" y="${ly}" dominant-baseline="middle">${escapeXml(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** One panel of {@link stackedLineChart}: its own y axis over the shared x axis. */
export interface Panel {
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Share of the plot height, 1 by default. */
  readonly weight?: number;
  /** A horizontal reference line (e.g. 0 on a difference panel). */
  readonly reference?: number;
  /** Write each line's last value at its end (values closer than a line of text are dropped). */
  readonly endLabels?: boolean;
}

/** A row of a legend: an optional title, then up to two line samples with their labels. */
export interface LegendRow {
  readonly title?: string;
  readonly items: readonly { label: string; color: string; dashed?: boolean }[];
}

/**
 * Line charts stacked over one linear x axis, with the legend above the plots (it stays inside
 * the figure at any width) and each line's last value written at its end.
 */
export function stackedLineChart(
  panels: readonly Panel[],
  options: {
    title: string;
    xLabel: string;
    width?: number;
    height?: number;
    digits?: number;
    legend?: readonly LegendRow[];
  },
): string {
  const width = options.width ?? 560;
  const height = options.height ?? 460;
  const digits = options.digits ?? 4;
  const left = 76;
  const right = 62;
  // Legend above the plots: one row per entry of `options.legend`, or two series a row.
  const legendRows: readonly LegendRow[] =
    options.legend ??
    Array.from({ length: Math.ceil(panels[0]!.series.length / 2) }, (_, row) => ({
      items: panels[0]!.series.slice(row * 2, row * 2 + 2),
    }));
  const top = 32 + legendRows.length * 20;
  const bottom = 50;
  const gap = 18;
  const xs = panels.flatMap((p) => p.series.flatMap((s) => s.x));
  const xMin = 0;
  const xMax = Math.max(...xs);
  const plotW = width - left - right;
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * plotW;
  const totalWeight = panels.reduce((sum, p) => sum + (p.weight ?? 1), 0);
  const plotH = height - top - bottom - gap * (panels.length - 1);
  const parts: string[] = [
    open(width, height, options.title),
    `<text x="${left}" y="18" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  const titleWidth = Math.max(0, ...legendRows.map((row) => (row.title ? 150 : 0)));
  legendRows.forEach((row, r) => {
    const y = 38 + r * 20;
    if (row.title) {
      parts.push(
        `<text x="${left}" y="${y}" dominant-baseline="middle">${escapeXml(row.title)}</text>`,
      );
    }
    row.items.forEach((item, i) => {
      const x = left + titleWidth + i * ((plotW - titleWidth) / 2);
      const dash = item.dashed ? ' stroke-dasharray="5 3"' : '';
      parts.push(
        `<line x1="${x}" x2="${x + 22}" y1="${y}" y2="${y}" ${strokeOf(item.color)} stroke-width="2.5"${dash}/>`,
        `<text x="${x + 28}" y="${y}" dominant-baseline="middle">${escapeXml(item.label)}</text>`,
      );
    });
  });
  let y0 = top;
  const xTicks = niceTicks(xMin, xMax, 4);
  const xStep = xTicks[1]! - xTicks[0]!;
  panels.forEach((panel, index) => {
    const h = (plotH * (panel.weight ?? 1)) / totalWeight;
    const ys = panel.series.flatMap((s) => s.y);
    if (panel.reference !== undefined) ys.push(panel.reference);
    let lo = Math.min(...ys);
    let hi = Math.max(...ys);
    const pad = (hi - lo) * 0.06 || Math.abs(hi) * 0.01 || 1e-3;
    lo -= pad;
    hi += pad;
    const yTicks = niceTicks(lo, hi, panel.weight !== undefined && panel.weight < 1 ? 3 : 5);
    const yStep = yTicks[1]! - yTicks[0]!;
    lo = Math.min(lo, yTicks[0]!);
    hi = Math.max(hi, yTicks.at(-1)!);
    const py = (y: number) => y0 + ((hi - y) / (hi - lo)) * h;
    for (const value of yTicks) {
      const y = py(value).toFixed(1);
      parts.push(
        `<line class="hsf-grid" x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}"/>`,
        `<text class="hsf-muted" x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${(value > 0 && panel.reference === 0 ? '+' : '') + tickLabel(value, yStep)}</text>`,
      );
    }
    for (const value of xTicks) {
      const x = px(value).toFixed(1);
      parts.push(`<line class="hsf-grid" x1="${x}" x2="${x}" y1="${y0}" y2="${y0 + h}"/>`);
    }
    if (panel.reference !== undefined) {
      const y = py(panel.reference).toFixed(1);
      parts.push(
        `<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" class="hsf-frame" stroke-width="1.2"/>`,
      );
    }
    parts.push(
      `<rect class="hsf-frame" x="${left}" y="${y0}" width="${plotW}" height="${h.toFixed(1)}"/>`,
      `<text transform="translate(14 ${(y0 + h / 2).toFixed(1)}) rotate(-90)" text-anchor="middle">${escapeXml(panel.yLabel)}</text>`,
    );
    // Lines, then their end values; a value that would overlap the one above is left out.
    const ends: { y: number; text: string; color: string }[] = [];
    // Drawn last to first: the first series (the reference) stays visible on top.
    for (const s of [...panel.series].reverse()) {
      const points = s.x.map((x, k) => `${px(x).toFixed(1)},${py(s.y[k]!).toFixed(1)}`).join(' ');
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
      parts.push(
        `<polyline points="${points}" fill="none" ${strokeOf(s.color)} stroke-width="2.2" stroke-linejoin="round"${dash}/>`,
      );
      const last = s.y.at(-1)!;
      const fixed = Math.abs(last).toFixed(digits);
      const zero = Number(fixed) === 0;
      const sign = panel.reference === 0 && !zero ? (last > 0 ? '+' : '−') : last < 0 ? '−' : '';
      ends.push({ y: py(last), text: `${sign}${fixed}`, color: s.color });
    }
    ends.sort((a, b) => a.y - b.y);
    const shown: typeof ends = [];
    for (const end of panel.endLabels ? ends : []) {
      if (shown.length === 0 || end.y - shown.at(-1)!.y >= 12) shown.push(end);
    }
    for (const end of shown) {
      parts.push(
        `<text x="${left + plotW + 5}" y="${end.y.toFixed(1)}" dominant-baseline="middle" font-size="11" ${fillOf(end.color)}>${escapeXml(end.text)}</text>`,
      );
    }
    if (index === panels.length - 1) {
      for (const value of xTicks) {
        parts.push(
          `<text class="hsf-muted" x="${px(value).toFixed(1)}" y="${(y0 + h + 16).toFixed(1)}" text-anchor="middle">${tickLabel(value, xStep)}</text>`,
        );
      }
    }
    y0 += h + gap;
  });
  parts.push(
    `<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

/** One bar of {@link barChart}. */
export interface Bar {
  readonly label: string;
  readonly value: number;
  readonly color: string;
  /** Written after the bar; the value with `unit` when absent. */
  readonly note?: string;
}

/** Horizontal bars from 0, labelled on the left, their value at the end. */
export function barChart(
  bars: readonly Bar[],
  options: { title: string; unit: string; width?: number; labelWidth?: number },
): string {
  const width = options.width ?? 560;
  const labelWidth = options.labelWidth ?? 150;
  const row = 30;
  const top = 34;
  const height = top + bars.length * row + 10;
  const right = 130;
  const max = Math.max(...bars.map((b) => b.value));
  const plotW = width - labelWidth - right;
  const parts: string[] = [
    open(width, height, options.title),
    `<text x="0" y="18" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  bars.forEach((bar, i) => {
    const y = top + i * row;
    const w = (bar.value / max) * plotW;
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + row / 2 - 2}" text-anchor="end" dominant-baseline="middle">${escapeXml(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y + 4}" width="${w.toFixed(1)}" height="${row - 12}" rx="3" ${fillOf(bar.color)}/>`,
      `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + row / 2 - 2}" dominant-baseline="middle">${escapeXml(bar.note ?? `${bar.value} ${options.unit}`)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** One line of a chart. */
export interface Series {
  readonly name: string;
  /** Points in x order. */
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

/** Options of {@link lineChartSvg}. */
export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Pixels (default 720 x 420). */
  readonly width?: number;
  readonly height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2'];

/** Escapes text for SVG/XML content and attributes. */
function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * "Nice" tick values covering [min, max]: about `count` ticks at a step of 1, 2 or 5 times a
 * power of ten (Heckbert's labelling). Returns at least two ticks.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(Number.isFinite(min) && Number.isFinite(max))) return [0, 1];
  if (max <= min) {
    const pad = Math.abs(min) * 0.01 || 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  const step = (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
  const start = Math.floor(min / step) * step;
  const end = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let v = start; v <= end + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** A tick label: plain for small magnitudes, k/M suffixes for thousands and millions. */
export function formatTick(value: number): string {
  const a = Math.abs(value);
  if (a >= 1e6) return `${Number((value / 1e6).toPrecision(4))}M`;
  if (a >= 1e4) return `${Number((value / 1e3).toPrecision(4))}k`;
  return String(Number(value.toPrecision(4)));
}

/**
 * A standalone SVG line chart: axes with nice ticks and grid lines, axis labels, a title, one
 * polyline (with point markers) per series in a distinct colour, and a legend. Non-finite points
 * are skipped. Opens in any browser.
 */
export function lineChartSvg(series: readonly Series[], options: LineChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const margin = { left: 72, right: 170, top: 44, bottom: 56 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const finite = series.flatMap((s) =>
    s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)),
  );
  const xs = finite.map((p) => p.x);
  const ys = finite.map((p) => p.y);
  const xTicks = niceTicks(Math.min(0, ...xs), xs.length ? Math.max(...xs) : 1, 6);
  const yTicks = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1, 6);
  // niceTicks returns at least two ticks: the defaults are never used.
  const [x0 = 0, x1 = 1] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0 = 0, y1 = 1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const sx = (x: number) => margin.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => margin.top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const f = (v: number) => v.toFixed(1);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${f(margin.left + plotW / 2)}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  );
  for (const t of xTicks) {
    const x = f(sx(t));
    out.push(
      `<line x1="${x}" y1="${margin.top}" x2="${x}" y2="${margin.top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${margin.top + plotH + 18}" text-anchor="middle">${formatTick(t)}</text>`,
    );
  }
  for (const t of yTicks) {
    const y = f(sy(t));
    out.push(
      `<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333333"/>`,
    `<text x="${f(margin.left + plotW / 2)}" y="${height - 14}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(18 ${f(margin.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    const coords = pts.map((p) => `${f(sx(p.x))},${f(sy(p.y))}`);
    if (coords.length > 1) {
      out.push(
        `<polyline points="${coords.join(' ')}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"/>`,
      );
    }
    for (const c of coords) {
      const [cx, cy] = c.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
    }
    const ly = margin.top + 10 + i * 20;
    const lx = margin.left + plotW + 16;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

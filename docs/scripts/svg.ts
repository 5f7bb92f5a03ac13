/** A minimal line chart as standalone SVG text: log-scale y axis, linear x axis, legend. */

/** One line of a chart. */
export interface Series {
  readonly label: string;
  readonly x: readonly number[];
  readonly y: readonly number[];
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

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Renders `series` as an SVG line chart with a logarithmic y axis (positive values only). */
export function logLineChart(series: readonly Series[], options: ChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const left = 70;
  const right = 210;
  const top = 36;
  const bottom = 48;
  const xs = series.flatMap((s) => s.x);
  const ys = series.flatMap((s) => s.y).filter((v) => v > 0);
  const xMax = Math.max(...xs);
  const yLo = Math.floor(Math.log10(Math.min(...ys)));
  const yHi = Math.ceil(Math.log10(Math.max(...ys)));
  const px = (x: number) => left + (x / xMax) * (width - left - right);
  const py = (y: number) => top + ((yHi - Math.log10(y)) / (yHi - yLo)) * (height - top - bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  for (let e = yLo; e <= yHi; e++) {
    const y = py(10 ** e).toFixed(1);
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">1e${e}</text>`,
    );
  }
  for (let i = 0; i <= 4; i++) {
    const value = (xMax * i) / 4;
    const x = px(value).toFixed(1);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${top}" y2="${height - bottom}" stroke="#f0f0f0"/>`,
      `<text x="${x}" y="${height - bottom + 16}" text-anchor="middle">${value.toLocaleString('en-US')}</text>`,
    );
  }
  parts.push(
    `<rect x="${left}" y="${top}" width="${width - left - right}" height="${height - top - bottom}" fill="none" stroke="#999"/>`,
    `<text x="${(left + width - right) / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
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
      `<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="1.8"${dash}/>`,
    );
    const ly = top + 10 + i * 20;
    parts.push(
      `<line x1="${width - right + 12}" x2="${width - right + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<text x="${width - right + 42}" y="${ly}" dominant-baseline="middle">${escapeXml(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

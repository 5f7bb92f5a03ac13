/**
 * Number formatting and scales shared by the benchmark components (BenchTables.vue,
 * DeviceBench.vue). test/format.test.ts checks them.
 */

/** An SI prefix for a rate: `220.8 M`, `1.03 G`, `18.4 k`, `194.7` (no prefix below 1000). */
export function formatRate(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(2)} G`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(1)} M`;
  if (abs >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}

/**
 * Units whose name already carries its scale (`GB/s`, `ms`) or that are ratios (`x`): their values
 * get no SI prefix, so 1023.8 GB/s reads `1024 GB/s`, never `1.0 k GB/s`.
 */
const SCALED_UNIT = /^(?:[kMGT]B\/s|B\/s|[mµn]?s|x|%)$/;

/** A figure with its unit: `1024 GB/s`, `24.5x`, `1.03 G row-updates/s`, `4.9 ms`. */
export function formatFigure(value: number, unit: string): string {
  if (SCALED_UNIT.test(unit)) {
    const abs = Math.abs(value);
    const text = value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
    return unit === 'x' ? `${text}×` : `${text} ${unit}`;
  }
  const rate = formatRate(value);
  // "1.03 G" + "row-updates/s" -> "1.03 G row-updates/s"; "194.7" + "lookups/s" -> "194.7 lookups/s".
  return `${rate} ${unit}`;
}

/** Where a ratio's bar starts and ends, in percent of the plot's width. */
export interface RatioBar {
  readonly from: number;
  readonly to: number;
  /** Above 1: faster than the baseline. */
  readonly faster: boolean;
}

/**
 * A logarithmic scale over the ratios of one table (1 included), a little wider than their range
 * so that no bar touches an edge; bars go from 1 to the ratio.
 */
export function ratioScale(ratios: readonly (number | null)[]): {
  position(ratio: number): number;
  bar(ratio: number): RatioBar;
} {
  const logs = ratios.filter((r): r is number => r !== null && r > 0).map(Math.log10);
  const lo = Math.min(0, ...logs);
  const hi = Math.max(0, ...logs);
  const pad = Math.max((hi - lo) * 0.06, 0.05);
  const min = lo - pad;
  const max = hi + pad;
  const position = (ratio: number) => ((Math.log10(ratio) - min) / (max - min)) * 100;
  return {
    position,
    bar(ratio) {
      const a = position(1);
      const b = position(ratio);
      return { from: Math.min(a, b), to: Math.max(a, b), faster: ratio > 1 };
    },
  };
}

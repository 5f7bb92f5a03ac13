import type { BackendStats } from '@halfstep/backend';

/** One bit-identity check: values compared and how many differed. */
export interface CheckResult {
  readonly kernel: string;
  readonly checked: number;
  readonly mismatches: number;
  readonly detail?: string | undefined;
}

/**
 * Host <-> device traffic per timed step: the difference of `backend.stats()` around the timed
 * runs divided by the steps they ran (so fractions are averages).
 */
export type Traffic = BackendStats;

/** One measured figure. */
export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note?: string | undefined;
  /** Milliseconds per step (or per call), when the figure is a timed step. */
  readonly msPerStep?: number | undefined;
  /** The backend's traffic per step, when the figure is a timed step of the WebGPU backend. */
  readonly traffic?: Traffic | undefined;
}

/** Everything the check found, in the order it ran. */
export const checks: CheckResult[] = [];
/** Everything the check measured, in the order it ran. */
export const bench: BenchResult[] = [];

/** Positions where two arrays differ (the longer length when the lengths differ). */
export function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}

/** Records a check and prints its PASS/FAIL line. */
export function record(r: CheckResult): void {
  checks.push(r);
  const status = r.mismatches === 0 ? 'PASS' : 'FAIL';
  console.log(
    `${status}  ${r.kernel.padEnd(58)} ${String(r.checked).padStart(10)} checked, ${r.mismatches} mismatched${r.detail ? `  ${r.detail}` : ''}`,
  );
}

/** Runs one check, recording a thrown error as a failure. */
export async function guarded(kernel: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    record({
      kernel,
      checked: 0,
      mismatches: 1,
      detail: `threw: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
}

/** A count for a traffic line: an integer with separators, or an average with one decimal. */
function amount(value: number): string {
  return Number.isInteger(value)
    ? value.toLocaleString('en-US')
    : value.toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

/** The traffic line of a timed step: `up N B, down N B, N submissions`. */
export function trafficLine(t: Traffic): string {
  return `up ${amount(t.uploadBytes)} B, down ${amount(t.downloadBytes)} B, ${amount(t.submissions)} submission${t.submissions === 1 ? '' : 's'}`;
}

/** Records a figure and prints it (with its traffic per step on the next line, when given). */
export function report(result: BenchResult): void {
  bench.push(result);
  const { name, value, unit, note, traffic } = result;
  const shown = value >= 100 ? value.toFixed(0) : value.toPrecision(3);
  console.log(`${name.padEnd(64)} ${shown.padStart(12)} ${unit}${note ? `  (${note})` : ''}`);
  if (traffic !== undefined)
    console.log(`${''.padEnd(6)}traffic per step: ${trafficLine(traffic)}`);
}

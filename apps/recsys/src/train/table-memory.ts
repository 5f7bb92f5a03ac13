import { type Backend, type TableSpec, tableBytes } from '@halfstep/backend';
import { type Precision, precisionSpec } from '../model/precision.js';
import type { OptimizerSettings } from './dense-optimizer.js';
import { sparseOptimizer } from './optimizers.js';

/** What a run's embedding tables take in memory, known before they are allocated. */
export interface TableMemory {
  readonly tables: number;
  readonly rows: number;
  readonly dim: number;
  readonly storage: string;
  /** rows x dim x bytes per element of the storage. */
  readonly weightBytes: number;
  /** rows x the optimizer's state size x bytes per element of its state storage. */
  readonly stateBytes: number;
  /** How many of the tables are large ({@link isLargeTable}): they show initialisation progress. */
  readonly largeTables: number;
}

/**
 * A single table with more rows than this (2^24) shows progress while it is initialised.
 * See {@link isLargeTable}.
 */
export const LARGE_TABLE_ROWS = 2 ** 24;

/**
 * A single table taking more bytes than this (256 MiB, weights + optimizer state) shows progress
 * while it is initialised. See {@link isLargeTable}.
 */
export const LARGE_TABLE_BYTES = 256 * 1024 * 1024;

/**
 * Whether making the table of `spec` can take long enough to deserve a progress line: more than
 * {@link LARGE_TABLE_ROWS} rows, or more than {@link LARGE_TABLE_BYTES} bytes (`tableBytes`).
 */
export function isLargeTable(
  spec: Pick<TableSpec, 'rows' | 'dim' | 'storage' | 'optimizer'>,
): boolean {
  return spec.rows > LARGE_TABLE_ROWS || tableBytes(spec).totalBytes > LARGE_TABLE_BYTES;
}

/**
 * The exact bytes of the tables of `tableSizes` rows of `dim` elements in `precision`, with the
 * sparse optimizer of `optimizer`: the sums of `tableBytes` of `@halfstep/backend` over the
 * tables (what the backends' `weightBytes`/`stateBytes` give).
 */
export function tableMemory(
  tableSizes: readonly number[],
  dim: number,
  precision: Precision,
  optimizer: OptimizerSettings,
): TableMemory {
  const { storage } = precisionSpec(precision);
  const sparse = sparseOptimizer(optimizer);
  let rows = 0;
  let weightBytes = 0;
  let stateBytes = 0;
  let largeTables = 0;
  for (const n of tableSizes) {
    const spec = { rows: n, dim, storage, optimizer: sparse };
    const bytes = tableBytes(spec);
    rows += n;
    weightBytes += bytes.weightBytes;
    stateBytes += bytes.stateBytes;
    if (isLargeTable(spec)) largeTables++;
  }
  return { tables: tableSizes.length, rows, dim, storage, weightBytes, stateBytes, largeTables };
}

/** `n` bytes for people: `1.50 GiB (1610612736 bytes)`. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} bytes` : `${value.toFixed(2)} ${units[unit]} (${n} bytes)`;
}

/** The line printed before the tables are allocated. */
export function describeTableMemory(m: TableMemory, precision: Precision): string {
  return `[${precision}] embedding tables: ${m.tables} tables, ${m.rows} rows x ${m.dim} ${m.storage}: weights ${formatBytes(m.weightBytes)} + optimizer state ${formatBytes(m.stateBytes)} = ${formatBytes(m.weightBytes + m.stateBytes)}`;
}

/** Tables at least this big (weights + state, all tables) get a line per table as they are made. */
export const LARGE_TABLES_BYTES = 256 * 1024 * 1024;

/** Where progress text goes: a stream's `write` (no newline added) and whether it is a terminal. */
export interface ProgressSink {
  readonly write: (text: string) => void;
  /** On a terminal the progress is one line, rewritten in place; elsewhere, separate lines. */
  readonly tty: boolean;
}

/** Standard error as a {@link ProgressSink}. */
export function stderrSink(): ProgressSink {
  return { write: (text) => process.stderr.write(text), tty: process.stderr.isTTY === true };
}

/** Options of {@link initProgress}. */
export interface InitProgressOptions {
  /** What is being initialised, at the start of every line, e.g. `[fp16-sr] table C3`. */
  readonly label: string;
  readonly sink: ProgressSink;
  /** The clock in ms (default `performance.now`). */
  readonly now?: () => number;
  /** The least time between two updates, unless another 10% was done (default 2000 ms). */
  readonly intervalMs?: number;
}

/**
 * A `TableSpec.onProgress` callback that shows a table's initialisation, throttled. On a terminal:
 * one line, rewritten in place when another 10% of the rows is done or `intervalMs` passed, and
 * ended with a newline at the end. Elsewhere (a log file, a pipe): a new line only when another
 * 10% is done AND `intervalMs` passed since the last line (at most 10 lines, none for a table
 * made within `intervalMs`), and a last line at the end when any came before. The clock starts
 * when this is called (so the allocation before the first row counts).
 */
export function initProgress(options: InitProgressOptions): (done: number, total: number) => void {
  const now = options.now ?? (() => performance.now());
  const interval = options.intervalMs ?? 2000;
  const { sink, label } = options;
  const started = now();
  let last = started;
  let lastTenth = 0;
  let shown = false;
  const text = (done: number, total: number, t: number) =>
    `${label}: initialising ${((100 * done) / total).toFixed(0)}% (${done}/${total} rows, ${((t - started) / 1000).toFixed(1)} s)`;
  return (done, total) => {
    const t = now();
    const tenth = Math.floor((10 * done) / total);
    const end = done >= total;
    const due = sink.tty
      ? end
        ? shown
        : tenth > lastTenth || t - last >= interval
      : end
        ? shown
        : tenth > lastTenth && t - last >= interval;
    if (!due) return;
    if (sink.tty) sink.write(`\r${text(done, total, t)}\x1b[K${end ? '\n' : ''}`);
    else sink.write(`${text(done, total, t)}\n`);
    shown = true;
    last = t;
    lastTenth = tenth;
  };
}

/** Options of {@link withTableProgress}. */
export interface TableProgressOptions {
  /**
   * Where the progress of each large table's initialisation goes ({@link initProgress}), after
   * a line saying up front what it takes; none when absent.
   */
  readonly progress?: ProgressSink | undefined;
  /** At the start of the progress lines, e.g. `[fp16-sr]`. */
  readonly label?: string | undefined;
  /** Which tables show progress (default {@link isLargeTable}). */
  readonly isLarge?: ((spec: TableSpec) => boolean) | undefined;
  /** The clock of the progress lines in ms (default `performance.now`). */
  readonly now?: (() => number) | undefined;
}

/**
 * Runs `create` (which creates `tables` tables on `backend`) with, when `write` is given, a line
 * written by `write` after each table is allocated and initialised: its name, its place, and the
 * time it took; and, when `options.progress` is given, for each large table (`options.isLarge`)
 * a line there saying what it takes before it is allocated, then its initialisation's progress
 * (`TableSpec.onProgress` with {@link initProgress}). Leaves `backend` as it was (also when
 * `create` throws).
 */
export async function withTableProgress<T>(
  backend: Backend,
  tables: number,
  write: ((line: string) => void) | undefined,
  create: () => Promise<T>,
  options: TableProgressOptions = {},
): Promise<T> {
  const own = Object.hasOwn(backend, 'createTable');
  const original = backend.createTable;
  const isLarge = options.isLarge ?? isLargeTable;
  const prefix = options.label === undefined ? '' : `${options.label} `;
  let made = 0;
  const started = performance.now();
  const patched = (spec: TableSpec) => {
    const t0 = performance.now();
    let withProgress = spec;
    const sink = options.progress;
    if (sink !== undefined && spec.onProgress === undefined && isLarge(spec)) {
      const label = `${prefix}table ${spec.name}`;
      const bytes = tableBytes(spec);
      sink.write(
        `${label}: allocating ${spec.rows} rows x ${spec.dim} ${spec.storage}: weights ${formatBytes(bytes.weightBytes)} + optimizer state ${formatBytes(bytes.stateBytes)}\n`,
      );
      const onProgress = initProgress({
        label,
        sink,
        ...(options.now === undefined ? {} : { now: options.now }),
      });
      withProgress = { ...spec, onProgress };
    }
    const handle = original.call(backend, withProgress);
    made++;
    const seconds = (performance.now() - t0) / 1000;
    const total = (performance.now() - started) / 1000;
    write?.(
      `  table ${spec.name} (${made}/${tables}, ${spec.rows} rows): initialised in ${seconds.toFixed(1)} s (${total.toFixed(1)} s so far)`,
    );
    return handle;
  };
  try {
    (backend as { createTable: Backend['createTable'] }).createTable = patched;
  } catch {
    return create(); // a frozen backend: no progress, same result
  }
  try {
    return await create();
  } finally {
    if (own) (backend as { createTable: Backend['createTable'] }).createTable = original;
    else delete (backend as { createTable?: Backend['createTable'] }).createTable;
  }
}

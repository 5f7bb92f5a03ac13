import { type Backend, bytesPerElement, type TableSpec } from '@halfstep/backend';
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
}

/**
 * The exact bytes of the tables of `tableSizes` rows of `dim` elements in `precision`, with the
 * sparse optimizer of `optimizer` (the same sums the backends' `weightBytes`/`stateBytes` give).
 */
export function tableMemory(
  tableSizes: readonly number[],
  dim: number,
  precision: Precision,
  optimizer: OptimizerSettings,
): TableMemory {
  const { storage } = precisionSpec(precision);
  const sparse = sparseOptimizer(optimizer);
  const rows = tableSizes.reduce((sum, n) => sum + n, 0);
  return {
    tables: tableSizes.length,
    rows,
    dim,
    storage,
    weightBytes: rows * dim * bytesPerElement(storage),
    stateBytes: rows * sparse.stateSize(dim) * bytesPerElement(sparse.stateStorage),
  };
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

/**
 * Runs `create` (which creates `tables` tables on `backend`) with a line written by `write` after
 * each table is allocated and initialised: its name, its place, and the time it took. The
 * library initialises a table in one synchronous call with no progress of its own, so this is
 * the finest progress the app can show. Leaves `backend` as it was (also when `create` throws).
 */
export async function withTableProgress<T>(
  backend: Backend,
  tables: number,
  write: (line: string) => void,
  create: () => Promise<T>,
): Promise<T> {
  const own = Object.hasOwn(backend, 'createTable');
  const original = backend.createTable;
  let made = 0;
  const started = performance.now();
  const patched = (spec: TableSpec) => {
    const t0 = performance.now();
    const handle = original.call(backend, spec);
    made++;
    const seconds = (performance.now() - t0) / 1000;
    const total = (performance.now() - started) / 1000;
    write(
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

import { type SparseOptimizer, sgd } from '@halfstep/optim';
import type { Backend, BagUpdate, StorageName, TableHandle, TableSpec, Tensor } from '../types.js';

/** How the conformance suite reaches the backend under test and the reference backend. */
export interface ConformanceContext {
  /** The backend under test (made once for the suite). */
  readonly backend: () => Backend;
  /** The reference backend (`@halfstep/backend-js`) for bit-identity checks; null for js itself. */
  readonly reference: () => Backend | null;
  /** Whether the backend offers `exportTable` (a table store does not yet). */
  readonly exportsTables: boolean;
  /** Whether the backend offers `writeRows` (a table store does not yet). */
  readonly writesRows: boolean;
  /** Whether the tables live in the backend's memory (a table store fetches rows instead). */
  readonly tablesInMemory: boolean;
  /**
   * Whether a step refused while applying (a non-finite result under 'error') leaves every table
   * of the call unchanged (a table store commits per block: only the bad rows stay unwritten).
   */
  readonly stepsAreAtomic: boolean;
}

/** A table name not used before in this process, starting with `prefix`. */
export function uniqueName(prefix: string): string {
  return `${prefix}${++tables}`;
}

/** A deterministic LCG for test data (not the generator under test). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

let tables = 0;

/**
 * A table spec with small defaults: 8 x 4 float32, nearest-even, SGD lr 1, seed 7, and a name
 * not used before (a store keeps tables by name).
 */
export function spec(
  overrides: Partial<TableSpec> & { storage?: StorageName; optimizer?: SparseOptimizer } = {},
): TableSpec {
  return {
    name: `t${++tables}`,
    index: 0,
    rows: 8,
    dim: 4,
    storage: 'float32',
    rounding: 'nearest-even',
    optimizer: sgd({ lr: 1 }),
    seed: 7n,
    ...overrides,
  };
}

/** An Int32Array of the arguments. */
export const i32 = (...v: number[]): Int32Array => Int32Array.from(v);
/** A Float32Array of the arguments. */
export const f32 = (...v: number[]): Float32Array => Float32Array.from(v);

/** A sum-pooled update of `table` at step 0 with a gradient tensor. */
export function update(
  table: TableHandle,
  indices: Int32Array,
  offsets: Int32Array,
  gradOutput: Tensor,
  extra: Partial<BagUpdate> = {},
): BagUpdate {
  return { table, input: { indices, offsets }, pooling: 'sum', gradOutput, step: 0, ...extra };
}

/** The values of a table as a plain array. */
export async function rowsOf(backend: Backend, table: TableHandle): Promise<number[]> {
  return [...(await backend.readRows(table))];
}

/** The values of a tensor as a plain array. */
export async function valuesOf(backend: Backend, tensor: Tensor): Promise<number[]> {
  return [...(await backend.read(tensor))];
}

/** Calls `run`; whether it throws or returns a rejecting promise, resolves with what it threw. */
export async function failure(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure, but the call succeeded');
}

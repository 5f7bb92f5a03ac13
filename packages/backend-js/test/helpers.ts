import type { StorageName, TableSpec } from '@halfstep/backend';
import { type SparseOptimizer, sgd } from '@halfstep/optim';

/** A deterministic LCG for test data (not the code under test's generator). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function spec(
  overrides: Partial<TableSpec> & { storage?: StorageName; optimizer?: SparseOptimizer } = {},
): TableSpec {
  return {
    name: 't',
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

export const i32 = (...v: number[]): Int32Array => Int32Array.from(v);
export const f32 = (...v: number[]): Float32Array => Float32Array.from(v);

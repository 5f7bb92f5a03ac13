import {
  adagrad,
  adam,
  momentum,
  rowwiseAdagrad,
  type SparseOptimizer,
  sgd,
} from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import {
  type Backend,
  checkTableInit,
  INIT_PROGRESS_ELEMENTS,
  initializeTable,
  initProgressRows,
  type StorageName,
  type TableInit,
  type TableSpec,
  tableBytes,
  tableHandle,
} from '../src/index.js';

function spec(rows: number, dim: number, extra: Partial<TableSpec> = {}): TableSpec {
  return {
    name: 't',
    index: 0,
    rows,
    dim,
    storage: 'float16',
    rounding: 'nearest-even',
    optimizer: sgd({ lr: 0.1 }),
    seed: 7n,
    ...extra,
  };
}

/** A backend that only records `writeRows` calls: all `initializeTable` uses. */
function recorder(): { backend: Backend; written: number[] } {
  const written: number[] = [];
  const backend = {
    writeRows(table: { rows: number; dim: number }, values: Float32Array, rows?: Int32Array) {
      written.push(rows === undefined ? table.rows : rows.length);
      expect(values.length).toBe((rows?.length ?? table.rows) * table.dim);
    },
  } as unknown as Backend;
  return { backend, written };
}

/** Runs `initializeTable` on a table of `rows` x `dim`, returning the progress calls. */
function progressOf(rows: number, dim: number, init: TableInit | undefined) {
  const calls: [number, number][] = [];
  const { backend, written } = recorder();
  const handle = tableHandle(spec(rows, dim), 1, 0, 0);
  initializeTable(backend, handle, init, (done, total) => calls.push([done, total]));
  return { calls, written };
}

describe('initializeTable onProgress', () => {
  it('reports every 2^22 elements: rows between calls by dim', () => {
    expect(INIT_PROGRESS_ELEMENTS).toBe(2 ** 22);
    expect(initProgressRows(1)).toBe(2 ** 22);
    expect(initProgressRows(4)).toBe(2 ** 20);
    expect(initProgressRows(3)).toBe(1_398_101);
    expect(initProgressRows(64)).toBe(2 ** 16);
    expect(initProgressRows(2 ** 23)).toBe(1);
  });

  it.each([
    [2 * 2 ** 22 + 12_345, 1],
    [3 * 2 ** 20 + 1, 4],
    [2 * 1_398_101 + 1, 3],
    [3 * 2 ** 16 + 123, 64],
    [2 ** 20, 4],
  ])('%i rows x %i: monotonic, bounded, ends with done === total', (rows, dim) => {
    const every = initProgressRows(dim);
    const init = new Float32Array(rows * dim);
    const { calls, written } = progressOf(rows, dim, init);
    // Every row was written once.
    expect(written.reduce((a, b) => a + b, 0)).toBe(rows);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThanOrEqual(Math.floor(rows / every) + 1);
    let last = 0;
    for (const [i, [done, total]] of calls.entries()) {
      expect(total).toBe(rows);
      expect(done).toBeGreaterThan(last);
      // At least `every` rows apart, except the final call.
      if (i < calls.length - 1) expect(done - last).toBeGreaterThanOrEqual(every);
      last = done;
    }
    expect(calls.at(-1)).toEqual([rows, rows]);
    // Not too rarely either: a report within every two intervals (the chunks are smaller).
    expect(calls.length).toBeGreaterThanOrEqual(Math.floor(rows / (2 * every)));
  });

  it('a small uniform table reports once, at the end', () => {
    const { calls, written } = progressOf(1000, 8, { uniform: 0.5 });
    expect(written).toEqual([1000]);
    expect(calls).toEqual([[1000, 1000]]);
  });

  it.each([undefined, 'zeros' as const])(
    'zeros (%s) write nothing and report the end once',
    (init) => {
      const { calls, written } = progressOf(5_000_000, 16, init);
      expect(written).toEqual([]);
      expect(calls).toEqual([[5_000_000, 5_000_000]]);
    },
  );

  it('works without a callback', () => {
    const { backend, written } = recorder();
    initializeTable(backend, tableHandle(spec(10, 2), 1, 0, 0), { uniform: 1 });
    expect(written).toEqual([10]);
  });

  it('rejects an onProgress that is not a function, before writing anything', () => {
    const { backend, written } = recorder();
    const handle = tableHandle(spec(10, 2), 1, 0, 0);
    const bad = 5 as unknown as (done: number, total: number) => void;
    expect(() => initializeTable(backend, handle, { uniform: 1 }, bad)).toThrow(
      /table "t": onProgress: expected a function/,
    );
    expect(written).toEqual([]);
    expect(() => checkTableInit({ ...spec(10, 2), onProgress: bad })).toThrow(TypeError);
    expect(() => checkTableInit({ ...spec(10, 2), onProgress: () => {} })).not.toThrow();
  });

  it('is not kept by the handle', () => {
    const handle = tableHandle(spec(10, 2, { onProgress: () => {} }), 1, 40, 0);
    expect('onProgress' in handle).toBe(false);
    expect('init' in handle).toBe(false);
  });
});

describe('tableBytes', () => {
  const rows = 1000;
  const dim = 64;
  // Bytes per row of the weights, dim 64, by hand.
  const weightRow: Record<StorageName, number> = {
    float32: 256,
    float16: 128,
    bfloat16: 128,
    float8e4m3: 64,
    float8e5m2: 64,
  };
  // Bytes per row of the optimizer state, dim 64, by hand.
  const optimizers: [string, SparseOptimizer, number][] = [
    ['sgd', sgd({ lr: 0.1 }), 0],
    ['momentum (float32 state)', momentum({ lr: 0.1 }), 64 * 4],
    ['momentum (float16 state)', momentum({ lr: 0.1, stateStorage: 'float16' }), 64 * 2],
    ['adagrad', adagrad({ lr: 0.1 }), 64 * 4],
    ['adagrad (bfloat16 state)', adagrad({ lr: 0.1, stateStorage: 'bfloat16' }), 64 * 2],
    ['rowwise-adagrad', rowwiseAdagrad({ lr: 0.1 }), 4],
    ['rowwise-adagrad (float16 state)', rowwiseAdagrad({ lr: 0.1, stateStorage: 'float16' }), 2],
    ['adam', adam({ lr: 0.1 }), 2 * 64 * 4],
    ['adam (float16 state)', adam({ lr: 0.1, stateStorage: 'float16' }), 2 * 64 * 2],
  ];
  for (const storage of Object.keys(weightRow) as StorageName[]) {
    it.each(optimizers)(`${storage} weights, %s`, (_, optimizer, stateRow) => {
      const b = tableBytes({ rows, dim, storage, optimizer });
      expect(b).toEqual({
        weightBytes: rows * weightRow[storage],
        stateBytes: rows * stateRow,
        totalBytes: rows * (weightRow[storage] + stateRow),
      });
    });
  }

  it('2^31 - 1 float8 rows of dim 4 with row-wise Adagrad: exact beyond 2^32', () => {
    const rowsMax = 2 ** 31 - 1;
    const b = tableBytes({
      rows: rowsMax,
      dim: 4,
      storage: 'float8e4m3',
      optimizer: rowwiseAdagrad({ lr: 0.1 }),
    });
    expect(b.weightBytes).toBe(rowsMax * 4);
    expect(b.stateBytes).toBe(rowsMax * 4);
    expect(b.totalBytes).toBe(17_179_869_176);
  });
});

import { type Backend, initProgressRows, type TableSpec, tableBytes } from '@halfstep/backend';
import { createJsBackend } from '@halfstep/backend-js';
import { createWasmBackend } from '@halfstep/backend-wasm';
import { adam } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import { createMemoryTableStore, createStoreBackend } from '../src/index.js';

// `TableSpec.onProgress` reaches `initializeTable` on every host backend and through a memory
// store behind the store backend; the handles' byte counts are `tableBytes` of the spec.
const DIM = 16;
const EVERY = initProgressRows(DIM);
const ROWS = EVERY + 4097;

function spec(onProgress: (done: number, total: number) => void): TableSpec {
  return {
    name: 'big',
    index: 0,
    rows: ROWS,
    dim: DIM,
    storage: 'float8e4m3',
    rounding: 'nearest-even',
    optimizer: adam({ lr: 0.01, stateStorage: 'float16' }),
    seed: 3n,
    init: { uniform: 0.05 },
    onProgress,
  };
}

const backends: [string, () => Promise<Backend>][] = [
  ['js', async () => createJsBackend()],
  ['wasm', () => createWasmBackend()],
  [
    'store (memory store)',
    async () => createStoreBackend({ store: await createMemoryTableStore(), ownsStore: true }),
  ],
];

describe.each(backends)('%s: createTable reports initialisation progress', (_, create) => {
  it('monotonic calls ending with done === total; handle bytes = tableBytes', async () => {
    const backend = await create();
    try {
      const calls: [number, number][] = [];
      const s = spec((done, total) => calls.push([done, total]));
      const handle = backend.createTable(s);
      await backend.flush();
      expect(calls).toEqual([
        [EVERY, ROWS],
        [ROWS, ROWS],
      ]);
      const bytes = tableBytes(s);
      expect(handle.weightBytes).toBe(bytes.weightBytes);
      expect(handle.stateBytes).toBe(bytes.stateBytes);
      expect(bytes).toEqual({
        weightBytes: ROWS * 16,
        stateBytes: ROWS * 2 * 16 * 2,
        totalBytes: ROWS * 80,
      });
      expect('onProgress' in handle).toBe(false);
      // The initial weights are the same with and without the callback.
      const rows = Int32Array.of(0, 1, ROWS - 1);
      const plain = backend.createTable({ ...s, name: 'plain', onProgress: undefined });
      await backend.flush();
      expect(await backend.readRows(handle, rows)).toEqual(await backend.readRows(plain, rows));
    } finally {
      backend.dispose();
    }
  }, 60_000);
});

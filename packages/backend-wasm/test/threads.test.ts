import type { Backend, BagInput, TableSpec } from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import { createEngine } from '@halfstep/rng';
import { afterAll, describe, expect, it } from 'vitest';
import { createWasmBackend, type WasmBackend } from '../src/index.js';
import { firstDifference, threeTableSpecs } from './helpers.js';

/** Trains the same tables on several backends and returns their exported bytes per step. */
async function train(backend: Backend, specs: TableSpec[], steps: number): Promise<Uint8Array[]> {
  const rng = createEngine('xoshiro128++', 11);
  const tables = specs.map((s) => backend.createTable(s));
  for (const t of tables) {
    backend.writeRows(
      t,
      new Float32Array(t.rows * t.dim).map(() => rng.nextFloat() - 0.5),
    );
  }
  const snapshots: Uint8Array[] = [];
  for (let step = 0; step < steps; step++) {
    const updates = tables.map((table) => {
      const n = 300;
      const indices = new Int32Array(n).map(() => Math.floor(table.rows * rng.nextFloat() ** 2));
      const input: BagInput = {
        indices,
        offsets: Int32Array.from({ length: 100 }, (_, b) => 3 * b),
      };
      const grad = new Float32Array(100 * table.dim).map(() => rng.nextFloat() - 0.5);
      return { table, input, pooling: 'sum' as const, gradOutput: backend.tensor(grad), step };
    });
    await backend.embeddingBagBackward(updates);
    for (const u of updates) backend.disposeTensor(u.gradOutput);
    for (const t of tables) {
      const { weights, state } = await backend.exportTable(t);
      snapshots.push(weights, state);
    }
  }
  return snapshots;
}

describe('WasmBackend with worker threads (reproducible mode)', () => {
  const backends: WasmBackend[] = [];
  afterAll(() => {
    for (const b of backends) b.dispose();
  });

  it('runs on shared memory and reports its threads', async () => {
    const backend = await createWasmBackend({ threads: 3, minRowsPerThread: 1 });
    backends.push(backend);
    expect(backend.threads).toBe(3);
    expect(backend.kernels.shared).toBe(true);
    expect(backend.build).toBe('simd');
  });

  it('gives results bit-identical to one thread and to the JS reference, for every thread count', async () => {
    const specs = threeTableSpecs();
    const expected = await train(new JsBackend(), specs, 4);
    for (const threads of [1, 2, 3]) {
      const backend = await createWasmBackend({ threads, minRowsPerThread: 1 });
      backends.push(backend);
      const got = await train(backend, specs, 4);
      expect(got.length).toBe(expected.length);
      for (let i = 0; i < got.length; i++) {
        expect(firstDifference(got[i]!, expected[i]!), `threads ${threads}, snapshot ${i}`).toBe(
          -1,
        );
      }
      // Every table's rows are split across the workers: one hand-off per table and step.
      expect(backend.stats().submissions, `threads ${threads}`).toBe(threads === 1 ? 0 : 12);
    }
  });

  it('rejects a bad thread count', async () => {
    await expect(createWasmBackend({ threads: 0 })).rejects.toThrow(RangeError);
    await expect(createWasmBackend({ threads: 1.5 })).rejects.toThrow(/threads/);
  });
});

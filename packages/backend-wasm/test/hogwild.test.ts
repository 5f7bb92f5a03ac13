import type { Backend, BagInput, TableSpec } from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import { sgd } from '@halfstep/optim';
import { createEngine } from '@halfstep/rng';
import { afterAll, describe, expect, it } from 'vitest';
import { createWasmBackend, type WasmBackend } from '../src/index.js';
import { badInputCases, expectSameError, firstDifference, threeTableSpecs } from './helpers.js';

const ROWS = 64;
const DIM = 8;
const BATCH = 64;

/**
 * A small convex problem: every row r of a float16 table (stochastic rounding, SGD) should
 * equal a target row T_r; a step looks up a batch of skewed rows (bags of one, hot rows repeat),
 * loss = mean over the batch of ||e - T||^2 / 2, gradient (e - T) / batch. Returns the loss over
 * all rows before and after training.
 */
function fitTargets(backend: WasmBackend, steps: number): { initial: number; final: number } {
  const rng = createEngine('xoshiro128++', 5);
  const target = new Float32Array(ROWS * DIM).map(() => 2 * rng.nextFloat() - 1);
  const table = backend.createTable({
    name: 'fit',
    index: 0,
    rows: ROWS,
    dim: DIM,
    storage: 'float16',
    rounding: 'stochastic',
    // lr 1: a hot row (about 8 of the 64 lookups) moves an eighth of the way per step, stable
    // even with gradients 4 calls stale (hogwild's bound).
    optimizer: sgd({ lr: 1 }),
    seed: 3n,
  });
  const loss = () => {
    const e = backend.readRowsSync(table);
    let sum = 0;
    for (let i = 0; i < e.length; i++) sum += (e[i]! - target[i]!) ** 2;
    return sum / 2 / ROWS;
  };
  const initial = loss();
  const offsets = Int32Array.from({ length: BATCH }, (_, b) => b);
  const pooled = backend.tensor(BATCH * DIM);
  const gradOutput = backend.tensor(BATCH * DIM);
  const grad = new Float32Array(BATCH * DIM);
  for (let step = 0; step < steps; step++) {
    const indices = new Int32Array(BATCH).map(() => Math.floor(ROWS * rng.nextFloat() ** 2));
    const input: BagInput = { indices, offsets };
    backend.embeddingBagForward(table, input, 'sum', pooled);
    const e = backend.readSync(pooled);
    for (let b = 0; b < BATCH; b++) {
      for (let c = 0; c < DIM; c++) {
        grad[b * DIM + c] = (e[b * DIM + c]! - target[indices[b]! * DIM + c]!) / BATCH;
      }
    }
    // Rewriting the gradient tensor at once is safe: the backward copies it into WASM memory.
    backend.write(gradOutput, grad);
    backend.embeddingBagBackward([{ table, input, pooling: 'sum', gradOutput, step }]);
  }
  return { initial, final: loss() };
}

/** Trains three tables (float16 SGD, bfloat16 Adam, float8 row-wise Adagrad); exported bytes per step. */
async function train(backend: Backend, steps: number): Promise<Uint8Array[]> {
  const specs = threeTableSpecs();
  const rng = createEngine('xoshiro128++', 11);
  const tables = specs.map((s) => backend.createTable(s));
  const snapshots: Uint8Array[] = [];
  for (let step = 0; step < steps; step++) {
    const updates = tables.map((table) => {
      const indices = new Int32Array(300).map(() => Math.floor(table.rows * rng.nextFloat() ** 2));
      const offsets = Int32Array.from({ length: 100 }, (_, b) => 3 * b);
      const grad = new Float32Array(100 * table.dim).map(() => rng.nextFloat() - 0.5);
      const gradOutput = backend.tensor(grad);
      return { table, input: { indices, offsets }, pooling: 'sum' as const, gradOutput, step };
    });
    const results = await backend.embeddingBagBackward(updates);
    expect(results.map((r) => r.skippedRows)).toEqual([0, 0, 0]);
    for (const u of updates) backend.disposeTensor(u.gradOutput);
    for (const t of tables) {
      const { weights, state } = await backend.exportTable(t);
      snapshots.push(weights, state);
    }
  }
  return snapshots;
}

describe('WasmBackend hogwild mode', () => {
  const backends: WasmBackend[] = [];
  const make = async (threads: number, mode: 'hogwild' | 'reproducible') => {
    const backend = await createWasmBackend({ threads, mode });
    backends.push(backend);
    return backend;
  };
  afterAll(() => {
    for (const b of backends) b.dispose();
  });

  it('reports its mode and threads', async () => {
    const backend = await make(2, 'hogwild');
    expect(backend.mode).toBe('hogwild');
    expect(backend.threads).toBe(2);
    expect(backend.kernels.shared).toBe(true);
    expect((await make(1, 'hogwild')).mode).toBe('hogwild');
    expect((await make(2, 'reproducible')).mode).toBe('reproducible');
  });

  it('with one thread equals reproducible mode and the JS reference bit for bit', async () => {
    const expected = await train(new JsBackend(), 4);
    const got = await train(await make(1, 'hogwild'), 4);
    expect(got.length).toBe(expected.length);
    for (let i = 0; i < got.length; i++) {
      expect(firstDifference(got[i]!, expected[i]!), `snapshot ${i}`).toBe(-1);
    }
  });

  it('trains: with 2 and 3 threads the loss of a convex problem falls like reproducible mode', async () => {
    const reference = fitTargets(await make(1, 'reproducible'), 1000);
    // Stated tolerance: the final loss is at most 1% of the initial one, and at most the
    // reproducible mode's final loss plus 0.2% of the initial one.
    expect(reference.final).toBeLessThan(0.01 * reference.initial);
    for (const threads of [2, 3]) {
      const hog = fitTargets(await make(threads, 'hogwild'), 1000);
      expect(hog.initial, `threads ${threads}`).toBe(reference.initial);
      expect(hog.final, `threads ${threads}`).toBeLessThan(0.01 * hog.initial);
      expect(hog.final, `threads ${threads}`).toBeLessThan(
        reference.final + 0.002 * reference.initial,
      );
    }
  });

  it('rejects bad input with the errors of the reference while an update is in flight, writing nothing', async () => {
    const wasm = await make(2, 'hogwild');
    const js = new JsBackend();
    const spec: TableSpec = {
      name: 'bad',
      index: 0,
      rows: 10,
      dim: 4,
      storage: 'float16',
      rounding: 'stochastic',
      optimizer: sgd({ lr: 1 }),
      seed: 1n,
    };
    const hw = wasm.createTable(spec);
    const hj = js.createTable(spec);
    const input: BagInput = { indices: Int32Array.from([1, 3]), offsets: Int32Array.from([0, 1]) };
    const grad = new Float32Array(8).fill(0.25);
    let step = 0;
    for (const [label, run] of badInputCases()) {
      // A valid update first (handed to the worker), then the bad call while it may still run.
      for (const b of [wasm, js] as Backend[]) {
        const h = b === wasm ? hw : hj;
        const gradOutput = b.tensor(grad);
        b.embeddingBagBackward([{ table: h, input, pooling: 'sum', gradOutput, step }]);
      }
      step++;
      await expectSameError(
        label,
        () => run(js, hj),
        () => run(wasm, hw),
      );
      await wasm.flush();
    }
    expect(wasm.stats().submissions).toBeGreaterThan(0);
    // Only the valid updates landed, one at a time: the reference's bytes.
    expect(await wasm.exportTable(hw)).toEqual(await js.exportTable(hj));
  });

  it('counts each call handed to a worker as a submission', async () => {
    const one = await make(1, 'hogwild');
    const two = await make(2, 'hogwild');
    // train() exports the tables after each call, which waits for the worker: every call finds
    // it idle and hands its update over.
    for (const backend of [one, two]) await train(backend, 3);
    expect(one.stats().submissions).toBe(0);
    expect(two.stats().submissions).toBe(3);
    await expect(two.flush()).resolves.toBeUndefined();
  });

  it('rejects a bad mode', async () => {
    await expect(
      createWasmBackend({ threads: 2, mode: 'fast' as unknown as 'hogwild' }),
    ).rejects.toThrow(/mode/);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend, TableData } from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import { rowwiseAdagrad, sgd } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import {
  BadInputError,
  createEmbeddingBag,
  createEmbeddingBagCollection,
  type EmbeddingBag,
  type EmbeddingBagCollection,
  type EmbeddingForward,
} from '../src/index.js';
import { batch, lcg } from './helpers.js';

/** Every table's stored bytes (weights and optimizer state), for bit-exact comparisons. */
function tableBytes(c: EmbeddingBagCollection): Promise<TableData[]> {
  return Promise.all(c.handles.map((h) => c.backend.exportTable(h)));
}

/** Asserts that two collections store the same bytes, table by table. */
async function expectSameBytes(a: EmbeddingBagCollection, b: EmbeddingBagCollection) {
  const [x, y] = [await tableBytes(a), await tableBytes(b)];
  expect(x.length).toBe(y.length);
  for (let t = 0; t < x.length; t++) {
    expect(Buffer.compare(x[t]!.weights, y[t]!.weights)).toBe(0);
    expect(Buffer.compare(x[t]!.state, y[t]!.state)).toBe(0);
  }
}

describe('createEmbeddingBag', () => {
  it('reports exact memory: float16 is half of float32; row-wise Adagrad adds 4 bytes per row', async () => {
    const make = (storage: 'float32' | 'float16' | 'float8e4m3', optimizer = sgd({ lr: 0.1 })) =>
      createEmbeddingBag({ rows: 1000, dim: 64, storage, optimizer, init: 'zeros' });
    const f32 = await make('float32');
    const f16 = await make('float16');
    const f8 = await make('float8e4m3');
    expect(f32.weightBytes).toBe(1000 * 64 * 4);
    expect(f16.weightBytes * 2).toBe(f32.weightBytes);
    expect(f8.weightBytes * 4).toBe(f32.weightBytes);
    expect(f16.stateBytes).toBe(0);
    const rowwise = await make('float16', rowwiseAdagrad({ lr: 0.1 }));
    expect(rowwise.weightBytes).toBe(f16.weightBytes);
    expect(rowwise.stateBytes).toBe(1000 * 4);
  });

  it('shows the backend that runs it, and defaults to float16, stochastic, sum', async () => {
    const bag = await createEmbeddingBag({ rows: 10, dim: 4, optimizer: sgd({ lr: 1 }) });
    expect(bag.backendName).toBe('js');
    expect([bag.storage, bag.rounding, bag.pooling]).toEqual(['float16', 'stochastic', 'sum']);
  });

  it('forward, backward, readRows: one SGD step on a float32 table', async () => {
    const bag = await createEmbeddingBag({
      rows: 3,
      dim: 2,
      storage: 'float32',
      optimizer: sgd({ lr: 0.5 }),
      init: Float32Array.of(1, 2, 3, 4, 5, 6),
    });
    const forward = bag.forward([0, 2, 2], [0, 1], undefined);
    expect(forward.outputs.map((t) => t.size)).toEqual([4]);
    expect(forward.step).toBe(0);
    const [out] = await forward.read();
    expect([...out!]).toEqual([1, 2, 10, 12]);
    expect([...forward.readSync()[0]!]).toEqual([1, 2, 10, 12]);
    expect(await bag.backward(forward, Float32Array.of(1, 1, 0.5, -0.5))).toEqual({
      updatedRows: 2,
      skippedRows: 0,
    });
    expect([...(await bag.readRows())]).toEqual([0.5, 1.5, 3, 4, 5 - 0.5, 6 + 0.5]);
    expect([...(await bag.readRows([2]))]).toEqual([4.5, 6.5]);
    expect(bag.step).toBe(1);
  });

  it('per-sample weights multiply their rows', async () => {
    const bag = await createEmbeddingBag({
      rows: 3,
      dim: 2,
      storage: 'float32',
      optimizer: sgd({ lr: 1 }),
      init: Float32Array.of(1, 2, 3, 4, 5, 6),
    });
    const forward = bag.forward([0, 2, 1], [0, 2], Float32Array.of(2, -1, 0.5));
    expect([...(await forward.read())[0]!]).toEqual([2 - 5, 4 - 6, 1.5, 2]);
    forward.release();
  });

  it('default init is uniform in [-1/sqrt(dim), 1/sqrt(dim)) and depends on the seed only', async () => {
    const a = await createEmbeddingBag({
      rows: 200,
      dim: 16,
      storage: 'float32',
      optimizer: sgd({ lr: 1 }),
      seed: 5,
    });
    const b = await createEmbeddingBag({
      rows: 200,
      dim: 16,
      storage: 'float32',
      optimizer: sgd({ lr: 1 }),
      seed: 5,
    });
    const c = await createEmbeddingBag({
      rows: 200,
      dim: 16,
      storage: 'float32',
      optimizer: sgd({ lr: 1 }),
      seed: 6,
    });
    const values = await a.readRows();
    expect(Math.max(...values)).toBeLessThan(0.25);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-0.25);
    expect(Math.abs(values.reduce((s, v) => s + v, 0) / values.length)).toBeLessThan(0.01);
    expect([...(await b.readRows())]).toEqual([...values]);
    expect([...(await c.readRows())]).not.toEqual([...values]);
  });
});

describe('bad input', () => {
  const make = () =>
    createEmbeddingBag({
      name: 'items',
      rows: 10,
      dim: 2,
      storage: 'float16',
      optimizer: sgd({ lr: 1 }),
    });
  it('an index out of range names the table, the position and the value', async () => {
    const bag = await make();
    expect(() => bag.forward([1, 2, 10], [0])).toThrow(
      'table "items": indices[2] = 10 is out of range [0, 10)',
    );
  });
  it('an index that is not an integer', async () => {
    const bag = await make();
    expect(() => bag.forward([1, 0.5], [0])).toThrow(
      'table "items": indices[1] = 0.5 is not an integer',
    );
  });
  it('offsets decreasing or past the end', async () => {
    const bag = await make();
    expect(() => bag.forward([1, 2, 3], [0, 2, 1])).toThrow(
      /offsets\[2\] = 1 is less than offsets\[1\] = 2/,
    );
    expect(() => bag.forward([1, 2, 3], [0, 5])).toThrow(/offsets\[1\] = 5 is past the end/);
  });
  it('a gradient of the wrong length throws before anything is enqueued; the forward stays usable', async () => {
    const bag = await make();
    const before = await bag.readRows();
    const forward = bag.forward([1, 2, 2], [0, 1]);
    expect(() => bag.backward(forward, new Float32Array(3))).toThrow(
      /table "items": gradOutput: expected 2 bags x 2 = 4 values, got 3/,
    );
    expect(() => bag.backward(forward, new Float32Array(5))).toThrow(BadInputError);
    expect(() => bag.backward(forward, bag.backend.tensor(3))).toThrow(BadInputError);
    expect([...(await bag.readRows())]).toEqual([...before]);
    expect(bag.step).toBe(0);
    expect(forward.consumed).toBe(false);
    expect(await bag.backward(forward, new Float32Array(4))).toEqual({
      updatedRows: 2,
      skippedRows: 0,
    });
    expect(bag.step).toBe(1);
  });

  /** A non-finite gradient: the awaited result rejects, no row changes, the step advances. */
  async function rejected(bag: EmbeddingBag, grad: Float32Array, message: RegExp) {
    const before = await bag.readRows();
    const step = bag.step;
    const result = bag.backward(bag.forward([1, 2, 2], [0, 1]), grad);
    await expect(result).rejects.toThrow(message);
    await expect(result).rejects.toBeInstanceOf(BadInputError);
    expect([...(await bag.readRows())]).toEqual([...before]);
    expect(bag.step).toBe(step + 1);
    // It was observed above, so nothing is left for flush to report.
    await expect(bag.backend.flush()).resolves.toBeUndefined();
  }
  it('a NaN or infinite gradient rejects the awaited result, changes nothing, and still advances the step', async () => {
    const bag = await make();
    await rejected(
      bag,
      Float32Array.of(0, 0, Number.NaN, 0),
      /gradOutput\[2\] \(bag 1, column 0\) = NaN/,
    );
    await rejected(
      bag,
      Float32Array.of(Number.NEGATIVE_INFINITY, 0, 0, 0),
      /gradOutput\[0\].*-Infinity/,
    );
    expect(bag.step).toBe(2);
  });
  it('the step a non-finite gradient spent is not reused: the next step trains with the next random bits', async () => {
    // a: a rejected step 0, then g at step 1. b: a zero gradient at step 0 (SGD leaves the rows
    // exactly as they are), then g at step 1. c: g at step 0.
    const g = Float32Array.from({ length: 8 * 2 }, (_, i) => 0.01 * (i + 1) * (i % 2 ? 1 : -1));
    const indices = [0, 1, 2, 3, 4, 5, 6, 7];
    const offsets = [0, 1, 2, 3, 4, 5, 6, 7];
    const [a, b, c] = [await make(), await make(), await make()];
    const nan = new Float32Array(16).fill(Number.NaN);
    await expect(a.backward(a.forward(indices, offsets), nan)).rejects.toThrow(/not finite/);
    await b.backward(b.forward(indices, offsets), new Float32Array(16));
    for (const bag of [a, b, c]) await bag.backward(bag.forward(indices, offsets), g);
    expect([a.step, b.step, c.step]).toEqual([2, 2, 1]);
    expect([...(await a.readRows())]).toEqual([...(await b.readRows())]);
    expect([...(await a.readRows())]).not.toEqual([...(await c.readRows())]);
  });
  it('a non-finite gradient nobody awaited is reported by flush(), once', async () => {
    const bag = await make();
    const before = await bag.readRows();
    bag.backward(bag.forward([1, 2], [0, 1]), Float32Array.of(0, Number.NaN, 0, 0));
    await expect(bag.backend.flush()).rejects.toThrow(/gradOutput\[1\] \(bag 0, column 1\) = NaN/);
    await expect(bag.backend.flush()).resolves.toBeUndefined();
    expect([...(await bag.readRows())]).toEqual([...before]);
    expect(bag.step).toBe(1);
  });
  it("nonFinite: 'skip-rows' skips only the rows of the bad bag", async () => {
    const bag = await createEmbeddingBag({
      rows: 4,
      dim: 1,
      storage: 'float32',
      optimizer: sgd({ lr: 1 }),
      init: 'zeros',
      nonFinite: 'skip-rows',
    });
    const forward = bag.forward([0, 1, 1, 2], [0, 2]);
    expect(await bag.backward(forward, Float32Array.of(1, Number.NaN))).toEqual({
      updatedRows: 1,
      skippedRows: 2,
    });
    expect([...(await bag.readRows())]).toEqual([-1, 0, 0, 0]);
  });
  it('backward without a forward', async () => {
    const bag = await make();
    const notAForward = { outputs: [], step: 0 } as unknown as EmbeddingForward;
    expect(() => bag.backward(notAForward, new Float32Array(2))).toThrow(
      /expected a forward of this collection/,
    );
    expect(() =>
      bag.backward(undefined as unknown as EmbeddingForward, new Float32Array(2)),
    ).toThrow(/expected a forward of this collection/);
    expect(bag.step).toBe(0);
  });
});

describe('forward contexts', () => {
  const config = {
    rows: 20,
    dim: 4,
    storage: 'float16' as const,
    optimizer: rowwiseAdagrad({ lr: 0.1 }),
  };

  it('a second backward on the same forward is an error naming it; so is reading it', async () => {
    const bag = await createEmbeddingBag({ ...config, seed: 1 });
    const forward = bag.forward([1, 2, 3], [0, 2]);
    await bag.backward(forward, new Float32Array(8).fill(0.25));
    const after = await bag.readRows();
    expect(forward.consumed).toBe(true);
    expect(() => bag.backward(forward, new Float32Array(8).fill(0.25))).toThrow(
      'backward: this forward was already used by a backward',
    );
    await expect(forward.read()).rejects.toThrow(
      'read: this forward was already used by a backward',
    );
    expect(() => forward.readSync()).toThrow(/already used by a backward/);
    expect(() => forward.release()).toThrow(/already used by a backward/);
    expect(bag.step).toBe(1);
    expect([...(await bag.readRows())]).toEqual([...after]);
  });

  it('a forward of another collection is an error', async () => {
    const a = await createEmbeddingBag({ ...config, seed: 1 });
    const b = await createEmbeddingBag({ ...config, seed: 1 });
    const before = await b.readRows();
    const forward = a.forward([1, 2, 3], [0, 2]);
    expect(() => b.backward(forward, new Float32Array(8).fill(0.25))).toThrow(
      /expected a forward of this collection/,
    );
    expect([a.step, b.step]).toEqual([0, 0]);
    expect([...(await b.readRows())]).toEqual([...before]);
    // The forward is still a's to use.
    expect(forward.consumed).toBe(false);
    await a.backward(forward, new Float32Array(8).fill(0.25));
    expect(a.step).toBe(1);
  });

  it('a forward made before another backward is stale: an error that names both steps', async () => {
    const bag = await createEmbeddingBag({ ...config, seed: 1 });
    const stale = bag.forward([1, 2, 3], [0, 2]);
    const fresh = bag.forward([4, 5, 6], [0, 2]);
    await bag.backward(fresh, new Float32Array(8).fill(0.25));
    const after = await bag.readRows();
    expect(() => bag.backward(stale, new Float32Array(8).fill(0.25))).toThrow(
      'backward: this forward saw the tables at step 0, but they are at step 1 now',
    );
    expect(bag.step).toBe(1);
    expect([...(await bag.readRows())]).toEqual([...after]);
    // A stale forward can still be read (its outputs are the pooling at step 0) and released.
    expect((await stale.read())[0]!.length).toBe(8);
    stale.release();
    expect(stale.consumed).toBe(true);
  });

  it('release() spends the forward: a backward after it is an error', async () => {
    const bag = await createEmbeddingBag({ ...config, seed: 1 });
    const before = await bag.readRows();
    const forward = bag.forward([1, 2, 3], [0, 2]);
    forward.release();
    expect(forward.consumed).toBe(true);
    expect(() => bag.backward(forward, new Float32Array(8).fill(0.25))).toThrow(
      'backward: this forward was released',
    );
    await expect(forward.read()).rejects.toThrow('read: this forward was released');
    expect(() => forward.release()).toThrow('release: this forward was released');
    expect(bag.step).toBe(0);
    expect([...(await bag.readRows())]).toEqual([...before]);
  });

  it('an evaluation forward (released) next to the training forward trains exactly like the training forward alone', async () => {
    const configs = [
      { name: 'users', ...config },
      { name: 'items', ...config, rows: 30, dim: 2, pooling: 'mean' as const },
    ];
    const withEval = await createEmbeddingBagCollection(configs, { seed: 8 });
    const plain = await createEmbeddingBagCollection(configs, { seed: 8 });
    const data = lcg(5);
    const evalData = lcg(6);
    for (let step = 0; step < 12; step++) {
      const batches = [batch(data, 20, 6, 3), batch(data, 30, 6, 2)];
      const grads = [
        Float32Array.from({ length: 6 * 4 }, () => data() - 0.5),
        Float32Array.from({ length: 6 * 2 }, () => data() - 0.5),
      ];
      // Same sizes as the training batch on even steps (pooled tensors are reused), others on odd.
      const bags = step % 2 === 0 ? 6 : 5;
      const evalBatches = [batch(evalData, 20, bags, 2), batch(evalData, 30, bags, 4)];

      let train: EmbeddingForward;
      if (step % 3 === 0) {
        // Evaluate first, then train.
        const evaluation = withEval.forward(evalBatches);
        await evaluation.read();
        evaluation.release();
        train = withEval.forward(batches);
      } else {
        // Train forward, evaluate, then backward.
        train = withEval.forward(batches);
        const evaluation = withEval.forward(evalBatches);
        if (step % 3 === 1) await evaluation.read();
        evaluation.release();
      }
      const reference = plain.forward(batches);
      const [got, expected] = [await train.read(), await reference.read()];
      for (let t = 0; t < 2; t++) expect([...got[t]!]).toEqual([...expected[t]!]);
      const [r1, r2] = [
        await withEval.backward(train, grads),
        await plain.backward(reference, grads),
      ];
      expect(r1).toEqual(r2);
    }
    expect(withEval.step).toBe(12);
    expect(plain.step).toBe(12);
    await expectSameBytes(withEval, plain);
    // And the tables did train (the comparison is not between two untouched tables).
    const untouched = await createEmbeddingBagCollection(configs, { seed: 8 });
    const [x, y] = [await tableBytes(withEval), await tableBytes(untouched)];
    expect(Buffer.compare(x[0]!.weights, y[0]!.weights)).not.toBe(0);
  });

  it('a gradient given as a tensor trains exactly like the same host array', async () => {
    const configs = [
      { name: 'users', ...config },
      { name: 'items', ...config, rows: 30, dim: 2 },
    ];
    const tensors = await createEmbeddingBagCollection(configs, { seed: 4 });
    const arrays = await createEmbeddingBagCollection(configs, { seed: 4 });
    const data = lcg(9);
    for (let step = 0; step < 10; step++) {
      const batches = [batch(data, 20, 5, 3), batch(data, 30, 5, 2)];
      const grads = [
        Float32Array.from({ length: 5 * 4 }, () => data() - 0.5),
        Float32Array.from({ length: 5 * 2 }, () => data() - 0.5),
      ];
      // Both tables from tensors on even steps; a tensor and a host array on odd ones.
      const onBackend = grads.map((g, t) =>
        step % 2 === 0 || t === 0 ? tensors.backend.tensor(g) : g,
      );
      const r1 = await tensors.backward(tensors.forward(batches), onBackend);
      const r2 = await arrays.backward(arrays.forward(batches), grads);
      expect(r1).toEqual(r2);
      for (const g of onBackend) if (!(g instanceof Float32Array)) tensors.backend.disposeTensor(g);
    }
    await expectSameBytes(tensors, arrays);
  });

  it('a gradient tensor of the wrong size is refused before anything is enqueued', async () => {
    const c = await createEmbeddingBagCollection([{ name: 'users', ...config }], { seed: 4 });
    const forward = c.forward([{ indices: [1, 2], offsets: [0, 1] }]);
    expect(() => c.backward(forward, [c.backend.tensor(7)])).toThrow(/gradOutput/);
    expect(() => c.backward(forward, [])).toThrow(/expected 1 gradients/);
    expect(c.step).toBe(0);
    expect(forward.consumed).toBe(false);
  });

  it('readRowsSync and readSync read the same values as their async twins on js', async () => {
    const c = await createEmbeddingBagCollection(
      [
        { name: 'users', ...config },
        { name: 'items', ...config, rows: 30, dim: 2 },
      ],
      { seed: 2 },
    );
    const forward = c.forward([
      { indices: [1, 2, 3], offsets: [0, 1] },
      { indices: [29, 0], offsets: [0] },
    ]);
    const sync = forward.readSync();
    const async = await forward.read();
    expect(sync.map((v) => [...v])).toEqual(async.map((v) => [...v]));
    await c.backward(forward, [new Float32Array(8).fill(0.5), new Float32Array(2).fill(-0.5)]);
    for (const table of ['users', 'items', 0, 1]) {
      expect([...c.readRowsSync(table)]).toEqual([...(await c.readRows(table))]);
    }
    expect([...c.readRowsSync('items', [29, 0])]).toEqual([...(await c.readRows(1, [29, 0]))]);
    expect(c.readRowsSync('items', [29, 0])).toHaveLength(4);
    expect(() => c.readRowsSync('items', [30])).toThrow(/out of range/);
    expect(() => c.readRowsSync('nope')).toThrow(RangeError);

    const bag = await createEmbeddingBag({ ...config, seed: 2 });
    expect([...bag.readRowsSync([3, 1])]).toEqual([...(await bag.readRows([3, 1]))]);
  });

  it('on a backend without sync reads, the sync twins say to use the async ones', async () => {
    // The js backend seen through a proxy that hides its ...Sync methods, as WebGPU has none.
    const js = new JsBackend();
    const hidden = new Set<PropertyKey>(['readSync', 'readRowsSync', 'exportTableSync']);
    const asyncOnly = new Proxy(js, {
      get(target, prop) {
        if (hidden.has(prop)) return undefined;
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as Backend;
    const bag = await createEmbeddingBag({ ...config, seed: 2, backend: asyncOnly });
    expect(() => bag.readRowsSync()).toThrow('readRowsSync: backend "js" reads asynchronously');
    const forward = bag.forward([1, 2], [0, 1]);
    expect(() => forward.readSync()).toThrow('readSync: backend "js" reads asynchronously');
    expect((await forward.read())[0]).toHaveLength(8);
    await bag.backward(forward, new Float32Array(8).fill(0.5));
    expect(await bag.readRows([1, 2])).toHaveLength(8);
  });
});

describe('reproducibility', () => {
  async function train(seed: number, storage: 'float16' | 'bfloat16' | 'float8e5m2' = 'float16') {
    const bag = await createEmbeddingBag({
      rows: 100,
      dim: 8,
      storage,
      optimizer: sgd({ lr: 0.05 }),
      seed,
    });
    const rnd = lcg(11);
    for (let step = 0; step < 30; step++) {
      const { indices, offsets } = batch(rnd, 100, 16, 4);
      const forward = bag.forward(indices, offsets);
      await bag.backward(
        forward,
        Float32Array.from({ length: 16 * 8 }, () => rnd() - 0.5),
      );
    }
    return bag.readRows();
  }
  it('the same seed and inputs give bit-identical tables; another seed differs', async () => {
    for (const storage of ['float16', 'bfloat16', 'float8e5m2'] as const) {
      const a = await train(42, storage);
      const b = await train(42, storage);
      const c = await train(43, storage);
      expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
      expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(c.buffer))).not.toBe(0);
    }
  });
  it('a bag equals table 0 of a collection with the same seed; table 1 differs from table 0', async () => {
    const config = { rows: 50, dim: 4, storage: 'float16' as const, optimizer: sgd({ lr: 0.1 }) };
    const bag = await createEmbeddingBag({ ...config, seed: 3 });
    const collection = await createEmbeddingBagCollection([config, config], { seed: 3 });
    const rnd = lcg(2);
    for (let step = 0; step < 5; step++) {
      const { indices, offsets } = batch(rnd, 50, 8, 3);
      const grad = Float32Array.from({ length: 32 }, () => rnd() - 0.5);
      const single = bag.forward(indices, offsets);
      const both = collection.forward([
        { indices, offsets },
        { indices, offsets },
      ]);
      const [[s], [o0, o1]] = [await single.read(), await both.read()];
      expect([...o0!]).toEqual([...s!]);
      expect(o1!.length).toBe(o0!.length);
      await bag.backward(single, grad);
      await collection.backward(both, [grad, grad]);
    }
    expect([...(await collection.readRows(0))]).toEqual([...(await bag.readRows())]);
    expect([...(await collection.readRows(1))]).not.toEqual([...(await bag.readRows())]);
  });
});

describe('collection', () => {
  it('validates every table before writing any', async () => {
    const collection = await createEmbeddingBagCollection(
      [
        { name: 'users', rows: 5, dim: 2, optimizer: sgd({ lr: 1 }) },
        { name: 'items', rows: 5, dim: 2, optimizer: sgd({ lr: 1 }) },
      ],
      { seed: 1 },
    );
    const before = [await collection.readRows('users'), await collection.readRows('items')];
    const forward = collection.forward([
      { indices: [0, 1], offsets: [0] },
      { indices: [2, 3], offsets: [0] },
    ]);
    await expect(
      collection.backward(forward, [Float32Array.of(1, 1), Float32Array.of(Number.NaN, 1)]),
    ).rejects.toThrow(/table "items"/);
    expect([...(await collection.readRows('users'))]).toEqual([...before[0]!]);
    expect([...(await collection.readRows('items'))]).toEqual([...before[1]!]);
    expect(collection.step).toBe(1);
    expect(() =>
      collection.forward([
        { indices: [0], offsets: [0] },
        { indices: [9], offsets: [0] },
      ]),
    ).toThrow('table "items": indices[0] = 9 is out of range [0, 5)');
  });

  it('a gradient of the wrong length for one table throws before any table is written', async () => {
    const collection = await createEmbeddingBagCollection(
      [
        { name: 'users', rows: 5, dim: 2, optimizer: sgd({ lr: 1 }) },
        { name: 'items', rows: 5, dim: 2, optimizer: sgd({ lr: 1 }) },
      ],
      { seed: 1 },
    );
    const before = await tableBytes(collection);
    const forward = collection.forward([
      { indices: [0, 1], offsets: [0] },
      { indices: [2, 3], offsets: [0] },
    ]);
    expect(() => collection.backward(forward, [Float32Array.of(1, 1), Float32Array.of(1)])).toThrow(
      /table "items": gradOutput: expected 1 bags x 2 = 2 values, got 1/,
    );
    expect(collection.step).toBe(0);
    const after = await tableBytes(collection);
    for (let t = 0; t < 2; t++)
      expect(Buffer.compare(after[t]!.weights, before[t]!.weights)).toBe(0);
  });

  it('a forward made before load() cannot train after it, even at the same step', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'halfstep-load-'));
    try {
      const path = join(dir, 'tables.safetensors');
      const c = await createEmbeddingBagCollection([
        { rows: 4, dim: 2, optimizer: sgd({ lr: 1 }) },
      ]);
      await c.save(path);
      const f = c.forward([{ indices: [0], offsets: [0] }]);
      await c.load(path);
      expect(c.step).toBe(f.step);
      expect(() => c.backward(f, [new Float32Array(2)])).toThrow(/made before load\(\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('dispose() frees the outputs of forwards that were never spent', async () => {
    const c = await createEmbeddingBagCollection([{ rows: 4, dim: 2, optimizer: sgd({ lr: 1 }) }]);
    const f = c.forward([{ indices: [0], offsets: [0] }]);
    c.dispose();
    expect(f.consumed).toBe(true);
    expect(() => f.readSync()).toThrow(/released/);
  });

  it('a save records the step its tables were exported at, even if a step is enqueued meanwhile', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'halfstep-save-race-'));
    try {
      const path = join(dir, 'tables.safetensors');
      const bag = await createEmbeddingBag({ rows: 4, dim: 2, optimizer: sgd({ lr: 1 }) });
      const before = bag.readRowsSync();
      const saving = bag.save(path);
      await bag.backward(bag.forward([1], [0]), new Float32Array([1, 1])); // step 0 -> 1
      await saving;
      const again = await createEmbeddingBag({ rows: 4, dim: 2, optimizer: sgd({ lr: 1 }) });
      await again.load(path);
      expect(again.step).toBe(0);
      expect([...again.readRowsSync()]).toEqual([...before]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads reject (never throw) on bad rows; a backend made from a name goes with the collection', async () => {
    const c = await createEmbeddingBagCollection([{ rows: 4, dim: 2, optimizer: sgd({ lr: 1 }) }]);
    const read = c.readRows(0, [99]);
    expect(read).toBeInstanceOf(Promise);
    await expect(read).rejects.toThrow(/99/);
    const backend = c.backend;
    c.dispose();
    expect(() => backend.tensor(1)).toThrow(/disposed/);
    // A backend given as an instance stays usable.
    const own = new JsBackend();
    const d = await createEmbeddingBagCollection([{ rows: 4, dim: 2, optimizer: sgd({ lr: 1 }) }], {
      backend: own,
    });
    d.dispose();
    expect(own.tensor(1).size).toBe(1);
  });
});

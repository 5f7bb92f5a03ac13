import { rowwiseAdagrad, sgd } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import {
  BadInputError,
  createEmbeddingBag,
  createEmbeddingBagCollection,
  type EmbeddingBag,
} from '../src/index.js';
import { batch, lcg } from './helpers.js';

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
    const out = bag.forward([0, 2, 2], [0, 1], undefined);
    expect([...out]).toEqual([1, 2, 10, 12]);
    bag.backward(Float32Array.of(1, 1, 0.5, -0.5));
    expect([...bag.readRows()]).toEqual([0.5, 1.5, 3, 4, 5 - 0.5, 6 + 0.5]);
    expect([...bag.readRows([2])]).toEqual([4.5, 6.5]);
    expect(bag.step).toBe(1);
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
    const values = a.readRows();
    expect(Math.max(...values)).toBeLessThan(0.25);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-0.25);
    expect(Math.abs(values.reduce((s, v) => s + v, 0) / values.length)).toBeLessThan(0.01);
    expect([...b.readRows()]).toEqual([...values]);
    expect([...c.readRows()]).not.toEqual([...values]);
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
  async function rejected(bag: EmbeddingBag, grad: Float32Array, message: RegExp) {
    const before = bag.readRows();
    bag.forward([1, 2, 2], [0, 1]);
    expect(() => bag.backward(grad)).toThrow(message);
    expect(() => bag.backward(grad)).toThrow(BadInputError);
    expect([...bag.readRows()]).toEqual([...before]);
    expect(bag.step).toBe(0);
  }
  it('a gradient of the wrong length changes nothing', async () => {
    await rejected(
      await make(),
      new Float32Array(3),
      /expected a Float32Array of 2 bags x 2 = 4 values/,
    );
  });
  it('a NaN or infinite gradient changes nothing', async () => {
    await rejected(
      await make(),
      Float32Array.of(0, 0, Number.NaN, 0),
      /gradOutput\[2\] \(bag 1, column 0\) = NaN/,
    );
    await rejected(
      await make(),
      Float32Array.of(Number.NEGATIVE_INFINITY, 0, 0, 0),
      /gradOutput\[0\].*-Infinity/,
    );
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
    bag.forward([0, 1, 1, 2], [0, 2]);
    expect(bag.backward(Float32Array.of(1, Number.NaN))).toEqual({
      updatedRows: 1,
      skippedRows: 2,
    });
    expect([...bag.readRows()]).toEqual([-1, 0, 0, 0]);
  });
  it('backward without forward', async () => {
    const bag = await make();
    expect(() => bag.backward(new Float32Array(2))).toThrow(/call forward first/);
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
      bag.forward(indices, offsets);
      bag.backward(Float32Array.from({ length: 16 * 8 }, () => rnd() - 0.5));
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
      const [o0, o1] = collection.forward([
        { indices, offsets },
        { indices, offsets },
      ]);
      expect([...o0]).toEqual([...single]);
      expect(o1.length).toBe(o0.length);
      bag.backward(grad);
      collection.backward([grad, grad]);
    }
    expect([...collection.readRows(0)]).toEqual([...bag.readRows()]);
    expect([...collection.readRows(1)]).not.toEqual([...bag.readRows()]);
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
    const before = [collection.readRows('users'), collection.readRows('items')];
    collection.forward([
      { indices: [0, 1], offsets: [0] },
      { indices: [2, 3], offsets: [0] },
    ]);
    expect(() =>
      collection.backward([Float32Array.of(1, 1), Float32Array.of(Number.NaN, 1)]),
    ).toThrow(/table "items"/);
    expect([...collection.readRows('users')]).toEqual([...before[0]]);
    expect([...collection.readRows('items')]).toEqual([...before[1]]);
    expect(() =>
      collection.forward([
        { indices: [0], offsets: [0] },
        { indices: [9], offsets: [0] },
      ]),
    ).toThrow('table "items": indices[0] = 9 is out of range [0, 5)');
  });
});

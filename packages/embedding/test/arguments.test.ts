import { BadInputError } from '@halfstep/backend';
import { sgd } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import {
  createEmbeddingBag,
  createEmbeddingBagCollection,
  type EmbeddingForward,
} from '../src/index.js';

const optimizer = sgd({ lr: 0.5 });
const config = { rows: 10, dim: 3, optimizer, seed: 7 } as const;

describe('createEmbeddingBag / createEmbeddingBagCollection arguments', () => {
  it('unknown config keys: a TypeError naming the key, with the halfstep name for PyTorch names', async () => {
    await expect(createEmbeddingBag({ ...config, num_embeddings: 10 } as never)).rejects.toThrow(
      /^createEmbeddingBag: config: unknown option "num_embeddings" \(did you mean rows\?\); expected rows, dim, /,
    );
    await expect(createEmbeddingBag({ ...config, mode: 'mean' } as never)).rejects.toThrow(
      /unknown option "mode" \(did you mean pooling\?\)/,
    );
    await expect(
      createEmbeddingBag({ ...config, pooling: 'sum', polling: 1 } as never),
    ).rejects.toThrow(TypeError);
    await expect(
      createEmbeddingBagCollection([{ rows: 4, dim: 2, optimizer, storge: 'float32' } as never]),
    ).rejects.toThrow(
      /createEmbeddingBagCollection: tables\[0\]: unknown option "storge" \(did you mean storage\?\)/,
    );
    await expect(
      createEmbeddingBagCollection([{ rows: 4, dim: 2, optimizer }], { sed: 1 } as never),
    ).rejects.toThrow(/createEmbeddingBagCollection: unknown option "sed" \(did you mean seed\?\)/);
  });

  it('a missing config, or fields of the wrong type: a TypeError naming the field', async () => {
    await expect(createEmbeddingBag(undefined as never)).rejects.toThrow(
      new TypeError(
        'createEmbeddingBag: config: expected a config { rows, dim, optimizer, ... }, got undefined',
      ),
    );
    await expect(createEmbeddingBag({ dim: 3, optimizer } as never)).rejects.toThrow(
      new TypeError(
        'createEmbeddingBag: table "embedding": rows: expected a positive integer, got undefined',
      ),
    );
    await expect(createEmbeddingBag({ ...config, dim: '3' } as never)).rejects.toThrow(
      /table "embedding": dim: expected a positive integer, got string "3"/,
    );
    await expect(createEmbeddingBag({ rows: 10, dim: 3 } as never)).rejects.toThrow(
      /createEmbeddingBag: table "embedding": optimizer: expected an optimizer .*, got undefined/,
    );
    await expect(createEmbeddingBag({ ...config, storage: 16 } as never)).rejects.toThrow(
      TypeError,
    );
    await expect(createEmbeddingBag({ ...config, seed: '7' } as never)).rejects.toThrow(
      new TypeError('createEmbeddingBag: seed: expected a number or a bigint, got string "7"'),
    );
    await expect(createEmbeddingBag({ ...config, backend: 3 } as never)).rejects.toThrow(
      /createEmbeddingBag: backend: expected a Backend or a registered name, got number 3/,
    );
    await expect(createEmbeddingBag({ ...config, rows: 0 })).rejects.toThrow(RangeError);
    await expect(createEmbeddingBagCollection(undefined as never)).rejects.toThrow(
      /createEmbeddingBagCollection: configs: expected an array of table configs, got undefined/,
    );
    await expect(createEmbeddingBagCollection([null as never])).rejects.toThrow(
      /createEmbeddingBagCollection: tables\[0\]: expected a table config/,
    );
    await expect(
      createEmbeddingBagCollection([{ rows: 4, dim: 2, optimizer }], null as never),
    ).rejects.toThrow(/createEmbeddingBagCollection: options: expected an options object/);
  });
});

describe('forward / backward arguments', () => {
  it('missing indices or offsets, or indices: null: a TypeError naming the argument', async () => {
    const bag = await createEmbeddingBag(config);
    expect(() => (bag.forward as (i: unknown) => unknown)([1, 2])).toThrow(
      new TypeError(
        'forward: table "embedding": offsets: expected an Int32Array, a BigInt64Array or an array of integers (numbers or bigints), got undefined',
      ),
    );
    expect(() => bag.forward(null as never, [0])).toThrow(
      /^forward: table "embedding": indices: expected .*, got null$/,
    );
    expect(() => bag.forward([1], [0], [1] as never)).not.toThrow();
    expect(() => bag.forward([1], [0], 2 as never)).toThrow(
      /forward: table "embedding": perSampleWeights: expected a Float32Array, got number 2/,
    );
    const collection = await createEmbeddingBagCollection([
      { name: 'users', rows: 4, dim: 2, optimizer },
    ]);
    expect(() => collection.forward(undefined as never)).toThrow(
      /^forward: batches: expected an array of 1 batches/,
    );
    expect(() => collection.forward([null as never])).toThrow(
      /forward: batches\[0\]: expected an options object \{ indices, offsets, perSampleWeights \}, got null/,
    );
    expect(() => collection.forward([{ indices: [1], offset: [0] } as never])).toThrow(
      /forward: batches\[0\]: unknown option "offset" \(did you mean offsets\?\)/,
    );
    expect(() =>
      collection.forward([{ indices: [1], offsets: [0], weights: [1] } as never]),
    ).toThrow(/did you mean perSampleWeights\?/);
    expect(() => collection.forward([{ offsets: [0] } as never])).toThrow(
      /forward: table "users": indices: expected/,
    );
    expect(() => collection.forward([])).toThrow(RangeError);
  });

  it('backward: a non-forward and gradients of the wrong type are TypeErrors', async () => {
    const bag = await createEmbeddingBag(config);
    expect(() => bag.backward(undefined as never, new Float32Array(3))).toThrow(TypeError);
    const forward = bag.forward([1], [0]);
    expect(() => bag.backward(forward, [0.1, 0.2, 0.3] as never)).toThrow(
      new TypeError(
        'backward: table "embedding": gradOutput: expected a Float32Array or a tensor of this backend, got Array',
      ),
    );
    expect(() => bag.backward(forward, undefined as never)).toThrow(TypeError);
    const collection = await createEmbeddingBagCollection([{ rows: 4, dim: 2, optimizer }]);
    const f = collection.forward([{ indices: [1], offsets: [0] }]);
    expect(() => collection.backward(f, new Float32Array(2) as never)).toThrow(
      /backward: gradOutputs: expected an array of 1 gradients \(one per table\), got Float32Array/,
    );
    expect(bag.step).toBe(0);
    await bag.backward(forward, new Float32Array(3).fill(0.5));
    expect(bag.step).toBe(1);
  });
});

describe('int64 (BigInt64Array) indices', () => {
  /** Two training steps on a fresh bag with indices and offsets made by `make`. */
  async function train(make: (values: number[]) => ArrayLike<number> | ArrayLike<bigint>) {
    const bag = await createEmbeddingBag({ ...config, storage: 'bfloat16' });
    const outputs: Float32Array[] = [];
    for (let step = 0; step < 2; step++) {
      const forward: EmbeddingForward = bag.forward(
        make([1, 9, 1, step, 4]) as never,
        make([0, 2, 2]) as never,
      );
      outputs.push(...(await forward.read()));
      await bag.backward(
        forward,
        Float32Array.from({ length: 9 }, (_, i) => (i - 4) / 8),
      );
    }
    return { outputs, rows: await bag.readRows() };
  }

  it('give the same forward outputs and trained rows as Int32Array', async () => {
    const reference = await train((v) => Int32Array.from(v));
    for (const make of [
      (v: number[]) => BigInt64Array.from(v.map(BigInt)),
      (v: number[]) => BigUint64Array.from(v.map(BigInt)),
      (v: number[]) => v.map(BigInt),
    ]) {
      const got = await train(make);
      expect(got.outputs.map((o) => [...o])).toEqual(reference.outputs.map((o) => [...o]));
      expect([...got.rows]).toEqual([...reference.rows]);
    }
  });

  it('a collection takes them too', async () => {
    const collection = await createEmbeddingBagCollection(
      [{ name: 'users', rows: 5, dim: 2, optimizer, init: 'zeros' }],
      { seed: 1 },
    );
    const forward = collection.forward([
      { indices: BigInt64Array.of(0n, 4n), offsets: BigInt64Array.of(0n, 1n) },
    ]);
    await collection.backward(forward, [Float32Array.of(1, 1, 2, 2)]);
    expect([...(await collection.readRows('users', [0, 4]))]).toEqual([-0.5, -0.5, -1, -1]);
    expect(() => collection.readRowsSync('users', [5])).toThrow(
      'table "users": rows[0] = 5 is out of range [0, 5)',
    );
    expect(() => collection.readRowsSync('users', null as never)).toThrow(TypeError);
  });

  it('out of range: the usual BadInputError, before any lookup', async () => {
    const bag = await createEmbeddingBag(config);
    const e = (() => {
      try {
        bag.forward(BigInt64Array.of(1n, 10n), BigInt64Array.of(0n));
      } catch (error) {
        return error;
      }
    })();
    expect(e).toBeInstanceOf(BadInputError);
    expect((e as Error).message).toBe('table "embedding": indices[1] = 10 is out of range [0, 10)');
    expect(() => bag.forward(BigInt64Array.of(-1n), [0])).toThrow(BadInputError);
    expect(() => bag.forward([2n ** 62n], [0])).toThrow(BadInputError);
    expect(() => bag.forward([1n], BigInt64Array.of(1n))).toThrow(BadInputError);
    expect(bag.step).toBe(0);
  });
});

import { BadInputError, type BagUpdate, type TableHandle } from '@halfstep/backend';
import { decode, encode, type RoundingStrategy } from '@halfstep/codecs';
import { adagrad, sgd } from '@halfstep/optim';
import { philox4x32 } from '@halfstep/rng';
import { thresholdOf } from '@halfstep/rounding';
import { describe, expect, it } from 'vitest';
import { createJsBackend } from '../src/index.js';
import { f32, i32, lcg, spec } from './helpers.js';

const backend = await createJsBackend();

function update(
  table: TableHandle,
  indices: Int32Array,
  offsets: Int32Array,
  gradOutput: Float32Array,
  extra: Partial<BagUpdate> = {},
): BagUpdate {
  return { table, input: { indices, offsets }, pooling: 'sum', gradOutput, step: 0, ...extra };
}

describe('fused backward: aggregation', () => {
  it('sums the gradients of a duplicated row exactly, and touches only the rows in the batch', () => {
    const t = backend.createTable(spec({ rows: 5, dim: 2 }));
    backend.writeRows(t, f32(1, 1, 2, 2, 3, 3, 4, 4, 5, 5));
    // bag 0 = rows [2, 0], bag 1 = rows [2, 2, 4]
    backend.embeddingBagBackward([
      update(t, i32(2, 0, 2, 2, 4), i32(0, 2), f32(0.5, -1, 0.25, 0.125)),
    ]);
    expect([...backend.readRows(t)]).toEqual([
      1 - 0.5,
      1 + 1, // row 0: bag 0
      2,
      2, // row 1: untouched
      3 - (0.5 + 0.25 + 0.25),
      3 - (-1 + 0.125 + 0.125), // row 2: once in bag 0, twice in bag 1
      4,
      4,
      5 - 0.25,
      5 - 0.125, // row 4: bag 1
    ]);
  });

  it("adds a row's contributions in ascending position order (float32 after each add)", () => {
    const t = backend.createTable(spec({ rows: 2, dim: 1 }));
    backend.writeRows(t, f32(0, 0));
    // Row 1 gets 2^24, then 1, then -2^24: (2^24 + 1) rounds to 2^24 (ties to even), so the sum is 0;
    // any other order would give 1.
    backend.embeddingBagBackward([
      update(t, i32(1, 1, 1), i32(0, 1, 2), f32(2 ** 24, 1, -(2 ** 24))),
    ]);
    expect([...backend.readRows(t)]).toEqual([0, 0]);
  });

  it("never writes the caller's gradOutput, with or without L2 decay (which adds to the gradient)", () => {
    for (const optimizer of [
      sgd({ lr: 1 }),
      sgd({ lr: 1, weightDecay: { mode: 'l2', rate: 0.5 } }),
    ]) {
      const t = backend.createTable(spec({ rows: 3, dim: 1, optimizer }));
      backend.writeRows(t, f32(2, 2, 2));
      const gradOutput = f32(1, 0.25);
      backend.embeddingBagBackward([update(t, i32(0, 1, 1), i32(0, 1), gradOutput)]);
      expect([...gradOutput]).toEqual([1, 0.25]);
      const l2 = optimizer.writesGradient ? 0.5 * 2 : 0;
      expect([...backend.readRows(t)]).toEqual([2 - (1 + l2), 2 - (0.5 + l2), 2]);
    }
  });

  it('mean pooling divides by the bag size; per-sample weights multiply', () => {
    const t = backend.createTable(spec({ rows: 3, dim: 1 }));
    backend.embeddingBagBackward([
      update(t, i32(0, 1, 1, 2), i32(0, 3), f32(3, 8), { pooling: 'mean' }),
    ]);
    expect([...backend.readRows(t)]).toEqual([-1, -2, -8]);
    const u = backend.createTable(spec({ rows: 3, dim: 1 }));
    backend.embeddingBagBackward([
      {
        ...update(u, i32(0, 1, 1), i32(0), f32(2)),
        input: { indices: i32(0, 1, 1), offsets: i32(0), perSampleWeights: f32(0.5, 2, -1) },
      },
    ]);
    expect([...backend.readRows(u)]).toEqual([-1, -2, 0]);
  });
});

/** A strategy with given thresholds: the independent route through @halfstep/codecs. */
const fixed = (thresholds: Uint32Array): RoundingStrategy => {
  let cursor = 0;
  return {
    rule: 'stochastic',
    fillThresholds(out) {
      out.set(thresholds.subarray(cursor, cursor + out.length));
      cursor += out.length;
    },
  };
};

describe('fused backward: rounded store', () => {
  const rows = 40;
  const dim = 10;
  const rnd = lcg(3);
  const init = Float32Array.from({ length: rows * dim }, () => rnd() * 2 - 1);
  const indices = Int32Array.from({ length: 60 }, () => Math.floor(rnd() * rows));
  const offsets = Int32Array.from({ length: 12 }, (_, b) => b * 5);
  const grad = Float32Array.from({ length: 12 * dim }, () => (rnd() - 0.5) * 0.01);
  const lr = 0.3;

  /** The float32 weights after one SGD step computed from the decoded table (float64 sums, exact here? no: compared after rounding). */
  function expectedFloat32(decoded: Float32Array): Float32Array {
    const sums = new Float32Array(rows * dim);
    const touched = new Set<number>();
    for (let b = 0; b < 12; b++) {
      for (let i = b * 5; i < b * 5 + 5; i++) {
        touched.add(indices[i]);
        for (let c = 0; c < dim; c++) sums[indices[i] * dim + c] += grad[b * dim + c];
      }
    }
    const out = Float32Array.from(decoded);
    for (const r of touched) {
      for (let c = 0; c < dim; c++)
        out[r * dim + c] = decoded[r * dim + c] - Math.fround(Math.fround(lr) * sums[r * dim + c]);
    }
    return out;
  }

  it('float16, nearest-even: equals codecs encode of the float32 update', () => {
    const t = backend.createTable(
      spec({ rows, dim, storage: 'float16', rounding: 'nearest-even', optimizer: sgd({ lr }) }),
    );
    backend.writeRows(t, init);
    const before = backend.readRows(t);
    backend.embeddingBagBackward([update(t, indices, offsets, grad)]);
    const expected = decode(
      'float16',
      encode('float16', expectedFloat32(before), { overflow: 'saturate' }),
    );
    expect([...backend.readRows(t)]).toEqual([...expected]);
  });

  for (const storage of ['float16', 'bfloat16', 'float8e4m3', 'float8e5m2'] as const) {
    it(`${storage}, stochastic: equals codecs encode with thresholds from Philox at (row, block, step, table)`, () => {
      const seed = 0xfeedn;
      const step = 5;
      const t = backend.createTable(
        spec({
          rows,
          dim,
          storage,
          rounding: 'stochastic',
          optimizer: sgd({ lr }),
          seed,
          index: 3,
        }),
      );
      backend.writeRows(t, init);
      const before = backend.readRows(t);
      backend.embeddingBagBackward([update(t, indices, offsets, grad, { step })]);
      const after = expectedFloat32(before);
      const mantissa = { float16: 10, bfloat16: 7, float8e4m3: 3, float8e5m2: 2 }[storage];
      const k = 23 - mantissa;
      const perWord = k <= 16 ? Math.floor(32 / k) : 1;
      const touched = [...new Set(indices)];
      const thresholds = new Uint32Array(rows * dim);
      for (const r of touched) {
        for (let c = 0; c < dim; c++) {
          const word = Math.floor(c / perWord);
          const block = philox4x32([r, word >> 2, step, 3], [0xfeed, 0], 10);
          thresholds[r * dim + c] = thresholdOf(block[word % 4], c % perWord, k);
        }
      }
      const expected = decode(
        storage,
        encode(storage, after, { rounding: fixed(thresholds), overflow: 'saturate' }),
      );
      const got = backend.readRows(t);
      for (const r of touched) {
        expect([...got.subarray(r * dim, (r + 1) * dim)]).toEqual([
          ...expected.subarray(r * dim, (r + 1) * dim),
        ]);
      }
    });
  }

  it('stochastic rounding is unbiased where nearest-even stalls', () => {
    const n = 4096;
    const d = 8;
    const mean = (values: Float32Array) => values.reduce((a, b) => a + b, 0) / values.length;
    const results: Record<string, number> = {};
    for (const rounding of ['stochastic', 'nearest-even'] as const) {
      const t = backend.createTable(
        spec({ rows: n, dim: d, storage: 'float16', rounding, optimizer: sgd({ lr: 1 }) }),
      );
      backend.writeRows(t, new Float32Array(n * d).fill(1));
      // Each row moves by 1e-4, about a fifth of float16's gap below 1 (2^-11).
      backend.embeddingBagBackward([
        update(
          t,
          Int32Array.from({ length: n }, (_, i) => i),
          Int32Array.from({ length: n }, (_, i) => i),
          new Float32Array(n * d).fill(1e-4),
        ),
      ]);
      results[rounding] = mean(backend.readRows(t));
    }
    // Standard error of the SR mean: 2^-11 sqrt(p (1 - p) / 32768), p ~ 0.2: ~1.1e-6.
    expect(Math.abs(results.stochastic - (1 - 1e-4))).toBeLessThan(6e-6);
    expect(results['nearest-even']).toBe(1);
  });

  it('16-bit optimizer state: half the bytes, within a float16 step of the float32 state', () => {
    const t32 = backend.createTable(spec({ rows, dim, optimizer: adagrad({ lr: 0.1 }) }));
    const t16 = backend.createTable(
      spec({ rows, dim, optimizer: adagrad({ lr: 0.1, stateStorage: 'float16' }) }),
    );
    expect(t16.stateBytes * 2).toBe(t32.stateBytes);
    for (const t of [t32, t16]) {
      backend.writeRows(t, init);
      backend.embeddingBagBackward([update(t, indices, offsets, grad)]);
    }
    const s32 = new Float32Array(backend.exportTable(t32).state.buffer);
    const s16 = decode('float16', new Uint16Array(backend.exportTable(t16).state.buffer));
    for (let i = 0; i < s32.length; i++)
      expect(Math.abs(s16[i] - s32[i])).toBeLessThanOrEqual(Math.abs(s32[i]) * 2 ** -10 + 2 ** -24);
  });
});

describe('fused backward: bad input changes nothing', () => {
  function pair() {
    const a = backend.createTable(
      spec({ name: 'a', rows: 4, dim: 2, storage: 'float16', rounding: 'stochastic' }),
    );
    const b = backend.createTable(spec({ name: 'b', rows: 4, dim: 2, index: 1 }));
    backend.writeRows(a, f32(1, 2, 3, 4, 5, 6, 7, 8));
    backend.writeRows(b, f32(1, 2, 3, 4, 5, 6, 7, 8));
    return [a, b] as const;
  }
  const snapshot = (tables: readonly TableHandle[]) => tables.map((t) => [...backend.readRows(t)]);
  const good = (t: TableHandle) => update(t, i32(0, 1), i32(0, 1), f32(1, 1, 1, 1));

  const cases: Array<[string, (t: TableHandle) => BagUpdate, RegExp]> = [
    [
      'a NaN gradient',
      (t) => update(t, i32(0, 1), i32(0, 1), f32(1, Number.NaN, 1, 1)),
      /table "b": gradOutput\[1\] \(bag 0, column 1\) = NaN/,
    ],
    [
      'an infinite gradient',
      (t) => update(t, i32(0, 1), i32(0, 1), f32(1, 1, Number.POSITIVE_INFINITY, 1)),
      /gradOutput\[2\].*Infinity/,
    ],
    [
      'a gradient of the wrong length',
      (t) => update(t, i32(0, 1), i32(0, 1), f32(1, 1, 1)),
      /2 bags x 2 = 4 values, got length 3/,
    ],
    [
      'an index out of range',
      (t) => update(t, i32(0, 4), i32(0, 1), f32(1, 1, 1, 1)),
      /table "b": indices\[1\] = 4 is out of range/,
    ],
    [
      'offsets out of order',
      (t) => update(t, i32(0, 1), i32(0, 2, 1), f32(1, 1, 1, 1, 1, 1)),
      /offsets\[2\] = 1 is less than/,
    ],
    [
      'a summed gradient that overflows',
      (t) => update(t, i32(1, 1), i32(0, 1), f32(3e38, 0, 3e38, 0)),
      /summed gradient of row 1 overflows/,
    ],
  ];
  for (const [what, make, message] of cases) {
    it(`${what}: throws BadInputError, and no table (not even a valid one before it) changes`, () => {
      const tables = pair();
      const before = snapshot(tables);
      expect(() => backend.embeddingBagBackward([good(tables[0]), make(tables[1])])).toThrow(
        message,
      );
      expect(() => backend.embeddingBagBackward([good(tables[0]), make(tables[1])])).toThrow(
        BadInputError,
      );
      expect(snapshot(tables)).toEqual(before);
    });
  }

  it("nonFinite: 'skip-rows' updates the other rows and skips every row a bad bag touched", () => {
    const t = backend.createTable(spec({ rows: 4, dim: 1 }));
    backend.writeRows(t, f32(0, 0, 0, 0));
    // bag 0: rows 0, 1 (finite); bag 1: rows 1, 2 (NaN)
    const result = backend.embeddingBagBackward([
      update(t, i32(0, 1, 1, 2), i32(0, 2), f32(1, Number.NaN), { nonFinite: 'skip-rows' }),
    ]);
    expect(result).toEqual([{ updatedRows: 1, skippedRows: 2 }]);
    expect([...backend.readRows(t)]).toEqual([-1, 0, 0, 0]);
  });
});

describe('reproducibility', () => {
  async function train(seed: bigint) {
    const b = await createJsBackend();
    const t = b.createTable(
      spec({
        rows: 30,
        dim: 8,
        storage: 'float16',
        rounding: 'stochastic',
        seed,
        optimizer: sgd({ lr: 0.01 }),
      }),
    );
    const rnd = lcg(9);
    b.writeRows(
      t,
      Float32Array.from({ length: 240 }, () => rnd() - 0.5),
    );
    for (let step = 0; step < 20; step++) {
      const indices = Int32Array.from({ length: 16 }, () => Math.floor(rnd() * 30));
      const gradOutput = Float32Array.from({ length: 32 }, () => rnd() - 0.5);
      b.embeddingBagBackward([update(t, indices, i32(0, 8, 9, 12), gradOutput, { step })]);
    }
    return b.exportTable(t).weights;
  }
  it('the same seed gives bit-identical tables; another seed does not', async () => {
    const [a, b, c] = await Promise.all([train(1n), train(1n), train(2n)]);
    expect(Buffer.compare(a, b)).toBe(0);
    expect(Buffer.compare(a, c)).not.toBe(0);
  });
});

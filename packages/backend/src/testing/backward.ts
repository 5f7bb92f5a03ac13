import { decode, encode, type RoundingStrategy } from '@halfstep/codecs';
import { adagrad, sgd } from '@halfstep/optim';
import { philox4x32 } from '@halfstep/rng';
import { thresholdOf } from '@halfstep/rounding';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import type { Backend, BagUpdate, TableHandle } from '../types.js';
import {
  type ConformanceContext,
  f32,
  failure,
  i32,
  lcg,
  rowsOf,
  spec,
  uniqueName,
  update,
  valuesOf,
} from './helpers.js';

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

/** The fused backward: exact aggregation, rounded stores, and bad input that changes nothing. */
export function describeBackward(ctx: ConformanceContext): void {
  describe('fused backward: aggregation', () => {
    it('sums the gradients of a duplicated row exactly, and touches only the rows in the batch', async () => {
      const backend = ctx.backend();
      const t = backend.createTable(
        spec({ rows: 5, dim: 2, init: f32(1, 1, 2, 2, 3, 3, 4, 4, 5, 5) }),
      );
      // bag 0 = rows [2, 0], bag 1 = rows [2, 2, 4]
      const g = backend.tensor(f32(0.5, -1, 0.25, 0.125));
      const result = await backend.embeddingBagBackward([
        update(t, i32(2, 0, 2, 2, 4), i32(0, 2), g),
      ]);
      expect(result).toMatchObject([{ updatedRows: 3, skippedRows: 0 }]);
      expect(await rowsOf(backend, t)).toEqual([
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

    it("adds a row's contributions in ascending position order (float32 after each add)", async () => {
      const backend = ctx.backend();
      const t = backend.createTable(spec({ rows: 2, dim: 1, init: f32(0, 0) }));
      // Row 1 gets 2^24, then 1, then -2^24: (2^24 + 1) rounds to 2^24 (ties to even), so the sum
      // is 0; any other order would give 1.
      const g = backend.tensor(f32(2 ** 24, 1, -(2 ** 24)));
      await backend.embeddingBagBackward([update(t, i32(1, 1, 1), i32(0, 1, 2), g)]);
      expect(await rowsOf(backend, t)).toEqual([0, 0]);
    });

    it("never writes the caller's gradient, with or without L2 decay (which adds to the gradient)", async () => {
      const backend = ctx.backend();
      for (const optimizer of [
        sgd({ lr: 1 }),
        sgd({ lr: 1, weightDecay: { mode: 'l2', rate: 0.5 } }),
      ]) {
        const t = backend.createTable(spec({ rows: 3, dim: 1, optimizer, init: f32(2, 2, 2) }));
        const g = backend.tensor(f32(1, 0.25));
        await backend.embeddingBagBackward([update(t, i32(0, 1, 1), i32(0, 1), g)]);
        expect(await valuesOf(backend, g)).toEqual([1, 0.25]);
        const l2 = optimizer.writesGradient ? 0.5 * 2 : 0;
        expect(await rowsOf(backend, t)).toEqual([2 - (1 + l2), 2 - (0.5 + l2), 2]);
      }
    });

    it('mean pooling divides by the bag size; per-sample weights multiply', async () => {
      const backend = ctx.backend();
      const t = backend.createTable(spec({ rows: 3, dim: 1 }));
      await backend.embeddingBagBackward([
        update(t, i32(0, 1, 1, 2), i32(0, 3), backend.tensor(f32(3, 8)), { pooling: 'mean' }),
      ]);
      expect(await rowsOf(backend, t)).toEqual([-1, -2, -8]);
      const u = backend.createTable(spec({ rows: 3, dim: 1 }));
      await backend.embeddingBagBackward([
        {
          ...update(u, i32(0, 1, 1), i32(0), backend.tensor(f32(2))),
          input: { indices: i32(0, 1, 1), offsets: i32(0), perSampleWeights: f32(0.5, 2, -1) },
        },
      ]);
      expect(await rowsOf(backend, u)).toEqual([-1, -2, 0]);
    });
  });

  describe('fused backward: rounded store', () => {
    const rows = 40;
    const dim = 10;
    const rnd = lcg(3);
    const init = Float32Array.from({ length: rows * dim }, () => rnd() * 2 - 1);
    const indices = Int32Array.from({ length: 60 }, () => Math.floor(rnd() * rows));
    const offsets = Int32Array.from({ length: 12 }, (_, b) => b * 5);
    const grad = Float32Array.from({ length: 12 * dim }, () => (rnd() - 0.5) * 0.01);
    const lr = 0.3;

    /** The float32 weights after one SGD step from the decoded table (sums in float32 order). */
    function expectedFloat32(decoded: Float32Array): Float32Array {
      const sums = new Float32Array(rows * dim);
      const touched = new Set<number>();
      for (let b = 0; b < 12; b++) {
        for (let i = b * 5; i < b * 5 + 5; i++) {
          touched.add(indices[i]!);
          for (let c = 0; c < dim; c++) sums[indices[i]! * dim + c]! += grad[b * dim + c]!;
        }
      }
      const out = Float32Array.from(decoded);
      for (const r of touched) {
        for (let c = 0; c < dim; c++)
          out[r * dim + c] =
            decoded[r * dim + c]! - Math.fround(Math.fround(lr) * sums[r * dim + c]!);
      }
      return out;
    }

    it('float16, nearest-even: equals codecs encode of the float32 update', async () => {
      const backend = ctx.backend();
      const t = backend.createTable(
        spec({
          rows,
          dim,
          storage: 'float16',
          rounding: 'nearest-even',
          optimizer: sgd({ lr }),
          init,
        }),
      );
      const before = await backend.readRows(t);
      await backend.embeddingBagBackward([update(t, indices, offsets, backend.tensor(grad))]);
      const expected = decode(
        'float16',
        encode('float16', expectedFloat32(before), { overflow: 'saturate' }),
      );
      expect(await rowsOf(backend, t)).toEqual([...expected]);
    });

    for (const storage of ['float16', 'bfloat16', 'float8e4m3', 'float8e5m2'] as const) {
      it(`${storage}, stochastic: equals codecs encode with thresholds from Philox at (row, block, step, table)`, async () => {
        const backend = ctx.backend();
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
            init,
          }),
        );
        const before = await backend.readRows(t);
        await backend.embeddingBagBackward([
          update(t, indices, offsets, backend.tensor(grad), { step }),
        ]);
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
            thresholds[r * dim + c] = thresholdOf(block[word % 4]!, c % perWord, k);
          }
        }
        const expected = decode(
          storage,
          encode(storage, after, { rounding: fixed(thresholds), overflow: 'saturate' }),
        );
        const got = await backend.readRows(t);
        for (const r of touched) {
          expect([...got.subarray(r * dim, (r + 1) * dim)]).toEqual([
            ...expected.subarray(r * dim, (r + 1) * dim),
          ]);
        }
      });
    }

    it('stochastic rounding is unbiased where nearest-even stalls', async () => {
      const backend = ctx.backend();
      const n = 4096;
      const d = 8;
      const mean = (values: Float32Array) => values.reduce((a, b) => a + b, 0) / values.length;
      const results: Record<string, number> = {};
      const ids = Int32Array.from({ length: n }, (_, i) => i);
      const g = backend.tensor(new Float32Array(n * d).fill(1e-4));
      for (const rounding of ['stochastic', 'nearest-even'] as const) {
        const t = backend.createTable(
          spec({
            rows: n,
            dim: d,
            storage: 'float16',
            rounding,
            optimizer: sgd({ lr: 1 }),
            init: new Float32Array(n * d).fill(1),
          }),
        );
        // Each row moves by 1e-4, about a fifth of float16's gap below 1 (2^-11).
        await backend.embeddingBagBackward([update(t, ids, ids, g)]);
        results[rounding] = mean(await backend.readRows(t));
      }
      // The SR mean of 32,768 elements has standard error 2^-11 sqrt(p (1 - p) / 32768) ~ 1.1e-6
      // (p ~ 0.2); the bound is 5.4 of them: a false alarm about once in 10^7 runs.
      expect(Math.abs(results.stochastic! - (1 - 1e-4))).toBeLessThan(6e-6);
      expect(results['nearest-even']).toBe(1);
    });

    it.skipIf(!ctx.exportsTables)(
      '16-bit optimizer state: half the bytes, within a float16 step of the float32 state (needs exportTable)',
      async () => {
        const backend = ctx.backend();
        const t32 = backend.createTable(spec({ rows, dim, optimizer: adagrad({ lr: 0.1 }), init }));
        const t16 = backend.createTable(
          spec({ rows, dim, optimizer: adagrad({ lr: 0.1, stateStorage: 'float16' }), init }),
        );
        expect(t16.stateBytes * 2).toBe(t32.stateBytes);
        for (const t of [t32, t16]) {
          await backend.embeddingBagBackward([update(t, indices, offsets, backend.tensor(grad))]);
        }
        const s32 = new Float32Array((await backend.exportTable(t32)).state.slice().buffer);
        const s16 = decode(
          'float16',
          new Uint16Array((await backend.exportTable(t16)).state.slice().buffer),
        );
        for (let i = 0; i < s32.length; i++)
          expect(Math.abs(s16[i]! - s32[i]!)).toBeLessThanOrEqual(
            Math.abs(s32[i]!) * 2 ** -10 + 2 ** -24,
          );
      },
    );
  });

  describe('fused backward: bad input changes nothing', () => {
    function pair(backend: Backend) {
      const a = backend.createTable(
        spec({
          name: uniqueName('a'),
          rows: 4,
          dim: 2,
          storage: 'float16',
          rounding: 'stochastic',
          init: f32(1, 2, 3, 4, 5, 6, 7, 8),
        }),
      );
      const b = backend.createTable(
        spec({
          name: uniqueName('b'),
          rows: 4,
          dim: 2,
          index: 1,
          init: f32(1, 2, 3, 4, 5, 6, 7, 8),
        }),
      );
      return [a, b] as const;
    }
    const snapshot = (backend: Backend, tables: readonly TableHandle[]) =>
      Promise.all(tables.map((t) => rowsOf(backend, t)));

    const cases: Array<[string, (b: Backend, t: TableHandle) => BagUpdate, RegExp]> = [
      [
        'a NaN gradient',
        (b, t) => update(t, i32(0, 1), i32(0, 1), b.tensor(f32(1, Number.NaN, 1, 1))),
        /table "b\d+": gradOutput\[1\] \(bag 0, column 1\) = NaN/,
      ],
      [
        'an infinite gradient',
        (b, t) => update(t, i32(0, 1), i32(0, 1), b.tensor(f32(1, 1, Number.POSITIVE_INFINITY, 1))),
        /gradOutput\[2\].*Infinity/,
      ],
      [
        'a gradient of the wrong size',
        (b, t) => update(t, i32(0, 1), i32(0, 1), b.tensor(f32(1, 1, 1))),
        /2 bags x 2 = 4 values, got 3 values/,
      ],
      [
        'an index out of range',
        (b, t) => update(t, i32(0, 4), i32(0, 1), b.tensor(f32(1, 1, 1, 1))),
        /table "b\d+": indices\[1\] = 4 is out of range/,
      ],
      [
        'offsets out of order',
        (b, t) => update(t, i32(0, 1), i32(0, 2, 1), b.tensor(f32(1, 1, 1, 1, 1, 1))),
        /offsets\[2\] = 1 is less than/,
      ],
      [
        'a summed gradient that overflows',
        (b, t) => update(t, i32(1, 1), i32(0, 1), b.tensor(f32(3e38, 0, 3e38, 0))),
        /summed gradient of row 1 overflows/,
      ],
    ];
    for (const [what, make, message] of cases) {
      it(`${what}: a BadInputError, and no table (not even a valid one before it) changes`, async () => {
        const backend = ctx.backend();
        const tables = pair(backend);
        const before = await snapshot(backend, tables);
        const good = update(tables[0], i32(0, 1), i32(0, 1), backend.tensor(f32(1, 1, 1, 1)));
        const error = await failure(() =>
          backend.embeddingBagBackward([good, make(backend, tables[1])]),
        );
        expect(error).toBeInstanceOf(BadInputError);
        expect(String(error)).toMatch(message);
        await backend.flush(); // the rejection was observed: nothing left to report
        expect(await snapshot(backend, tables)).toEqual(before);
      });
    }

    it("nonFinite: 'skip-rows' updates the other rows and skips every row a bad bag touched", async () => {
      const backend = ctx.backend();
      const t = backend.createTable(spec({ rows: 4, dim: 1, init: f32(0, 0, 0, 0) }));
      // bag 0: rows 0, 1 (finite); bag 1: rows 1, 2 (NaN)
      const result = await backend.embeddingBagBackward([
        update(t, i32(0, 1, 1, 2), i32(0, 2), backend.tensor(f32(1, Number.NaN)), {
          nonFinite: 'skip-rows',
        }),
      ]);
      expect(result).toMatchObject([{ updatedRows: 1, skippedRows: 2 }]);
      expect(await rowsOf(backend, t)).toEqual([-1, 0, 0, 0]);
    });

    it('a rejected step that nobody awaited is reported by flush(), once, and changed nothing', async () => {
      const backend = ctx.backend();
      const name = uniqueName('quiet');
      const t = backend.createTable(spec({ name, rows: 2, dim: 1, init: f32(1, 1) }));
      // Not awaited: on a device the error is found there, later.
      backend.embeddingBagBackward([update(t, i32(0), i32(0), backend.tensor(f32(Number.NaN)))]);
      const error = await failure(() => backend.flush());
      expect(error).toBeInstanceOf(BadInputError);
      expect(String(error)).toMatch(new RegExp(`table "${name}": gradOutput\\[0\\]`));
      expect(await rowsOf(backend, t)).toEqual([1, 1]);
      await backend.flush(); // reported once
    });
  });
}

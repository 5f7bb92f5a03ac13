import { describe, expect, it } from 'vitest';
import {
  type ConformanceContext,
  f32,
  failure,
  i32,
  lcg,
  spec,
  uniqueName,
  valuesOf,
} from './helpers.js';

/** The textbook embedding bag in float64: the independent answer. */
function naive(
  table: Float32Array,
  dim: number,
  indices: Int32Array,
  offsets: Int32Array,
  mode: 'sum' | 'mean',
  weights?: Float32Array,
): number[] {
  const out: number[] = [];
  for (let b = 0; b < offsets.length; b++) {
    const end = b + 1 < offsets.length ? offsets[b + 1]! : indices.length;
    for (let c = 0; c < dim; c++) {
      let sum = 0;
      for (let i = offsets[b]!; i < end; i++)
        sum += (weights ? weights[i]! : 1) * table[indices[i]! * dim + c]!;
      out.push(mode === 'mean' && end > offsets[b]! ? sum / (end - offsets[b]!) : sum);
    }
  }
  return out;
}

/** `embeddingBagForward` against a float64 loop, exact cases, storage and bad input. */
export function describeForward(ctx: ConformanceContext): void {
  describe('embeddingBagForward', () => {
    const rnd = lcg(1);
    const rows = 50;
    const dim = 6;
    const values = Float32Array.from({ length: rows * dim }, () => rnd() * 2 - 1);
    const indices = Int32Array.from({ length: 40 }, () => Math.floor(rnd() * rows));
    indices[3] = indices[4]!; // a duplicate inside a bag
    const offsets = i32(0, 5, 5, 17, 30); // bag 1 is empty
    const weights = Float32Array.from({ length: 40 }, () => rnd() * 4 - 2);

    for (const [mode, w] of [
      ['sum', undefined],
      ['mean', undefined],
      ['sum', weights],
    ] as const) {
      it(`${mode}${w ? ' with per-sample weights' : ''} matches a float64 loop (to float32 accumulation error)`, async () => {
        const backend = ctx.backend();
        const table = backend.createTable(spec({ rows, dim, init: values }));
        const out = backend.tensor(offsets.length * dim);
        backend.write(out, new Float32Array(out.size).fill(Number.NaN)); // must be overwritten
        backend.embeddingBagForward(table, { indices, offsets, perSampleWeights: w }, mode, out);
        const got = await valuesOf(backend, out);
        const expected = naive(values, dim, indices, offsets, mode, w);
        expect(got.length).toBe(expected.length);
        for (let i = 0; i < got.length; i++)
          expect(Math.abs(got[i]! - expected[i]!)).toBeLessThan(1e-5);
        expect(got.slice(dim, 2 * dim)).toEqual(new Array(dim).fill(0)); // the empty bag
        backend.disposeTable(table);
        backend.disposeTensor(out);
      });
    }

    it('is exact where float32 is exact (small dyadic values)', async () => {
      const backend = ctx.backend();
      const t = backend.createTable(
        spec({ rows: 3, dim: 2, init: f32(0.5, 1, 0.25, -2, 8, 0.125) }),
      );
      const out = backend.tensor(4);
      backend.embeddingBagForward(t, { indices: i32(0, 1, 2, 2), offsets: i32(0, 2) }, 'mean', out);
      expect(await valuesOf(backend, out)).toEqual([(0.5 + 0.25) / 2, (1 - 2) / 2, 8, 0.125]);
      backend.disposeTable(t);
    });

    it('float16 storage: equals the forward over the decoded float16 values', async () => {
      const backend = ctx.backend();
      const t16 = backend.createTable(spec({ rows, dim, storage: 'float16', init: values }));
      const decoded = await backend.readRows(t16);
      const out = backend.tensor(offsets.length * dim);
      backend.embeddingBagForward(t16, { indices, offsets }, 'sum', out);
      const got = await valuesOf(backend, out);
      const expected = naive(decoded, dim, indices, offsets, 'sum');
      for (let i = 0; i < got.length; i++)
        expect(Math.abs(got[i]! - expected[i]!)).toBeLessThan(1e-5);
      backend.disposeTable(t16);
    });

    it('rejects bad indices, offsets and outputs before reading anything, with the shared messages', async () => {
      const backend = ctx.backend();
      const t = backend.createTable(spec({ name: uniqueName('users'), rows: 10, dim: 2 }));
      const out = backend.tensor(4);
      const run = (indices: Int32Array, offsets: Int32Array, o = out) =>
        failure(() => backend.embeddingBagForward(t, { indices, offsets }, 'sum', o));
      expect(String(await run(i32(0, 10), i32(0, 1)))).toMatch(
        /table "users\d+": indices\[1\] = 10 is out of range \[0, 10\)/,
      );
      expect(String(await run(i32(0, 1, 2), i32(0, 2, 1)))).toMatch(
        /offsets\[2\] = 1 is less than offsets\[1\] = 2/,
      );
      expect(String(await run(i32(0, 1), i32(0, 1), backend.tensor(3)))).toMatch(
        /out: expected a tensor of at least 4 values, got 3/,
      );
      backend.disposeTable(t);
    });
  });
}

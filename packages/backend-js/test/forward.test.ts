import { describe, expect, it } from 'vitest';
import { createJsBackend } from '../src/index.js';
import { f32, i32, lcg, spec } from './helpers.js';

/** The textbook embedding bag in float64. */
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
    const end = b + 1 < offsets.length ? offsets[b + 1] : indices.length;
    for (let c = 0; c < dim; c++) {
      let sum = 0;
      for (let i = offsets[b]; i < end; i++)
        sum += (weights ? weights[i] : 1) * table[indices[i] * dim + c];
      out.push(mode === 'mean' && end > offsets[b] ? sum / (end - offsets[b]) : sum);
    }
  }
  return out;
}

describe('embeddingBagForward', async () => {
  const backend = await createJsBackend();
  const rnd = lcg(1);
  const rows = 50;
  const dim = 6;
  const values = Float32Array.from({ length: rows * dim }, () => rnd() * 2 - 1);
  const table = backend.createTable(spec({ rows, dim }));
  backend.writeRows(table, values);
  const indices = Int32Array.from({ length: 40 }, () => Math.floor(rnd() * rows));
  indices[3] = indices[4]; // a duplicate inside a bag
  const offsets = i32(0, 5, 5, 17, 30); // bag 1 is empty
  const weights = Float32Array.from({ length: 40 }, () => rnd() * 4 - 2);

  for (const [mode, w] of [
    ['sum', undefined],
    ['mean', undefined],
    ['sum', weights],
  ] as const) {
    it(`${mode}${w ? ' with per-sample weights' : ''} matches a float64 loop (to float32 accumulation error)`, () => {
      const out = backend.embeddingBagForward(
        table,
        { indices, offsets, perSampleWeights: w },
        mode,
      );
      const expected = naive(values, dim, indices, offsets, mode, w);
      expect(out.length).toBe(expected.length);
      for (let i = 0; i < out.length; i++)
        expect(Math.abs(out[i] - expected[i])).toBeLessThan(1e-5);
      // The empty bag is zeros.
      expect([...out.subarray(dim, 2 * dim)]).toEqual(new Array(dim).fill(0));
    });
  }

  it('is exact where float32 is exact (small dyadic values)', () => {
    const t = backend.createTable(spec({ rows: 3, dim: 2 }));
    backend.writeRows(t, f32(0.5, 1, 0.25, -2, 8, 0.125));
    const out = backend.embeddingBagForward(
      t,
      { indices: i32(0, 1, 2, 2), offsets: i32(0, 2) },
      'mean',
    );
    expect([...out]).toEqual([(0.5 + 0.25) / 2, (1 - 2) / 2, 8, 0.125]);
  });

  it('float16 storage: forward equals the forward over the decoded float16 values', () => {
    const t16 = backend.createTable(spec({ rows, dim, storage: 'float16' }));
    backend.writeRows(t16, values);
    const decoded = backend.readRows(t16);
    const out = backend.embeddingBagForward(t16, { indices, offsets }, 'sum');
    const expected = naive(decoded, dim, indices, offsets, 'sum');
    for (let i = 0; i < out.length; i++) expect(Math.abs(out[i] - expected[i])).toBeLessThan(1e-5);
  });
});

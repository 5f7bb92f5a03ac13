import { describe, expect, it } from 'vitest';
import {
  interactionBackward,
  interactionForward,
  interactionWidth,
} from '../../src/model/interaction.js';

function randomVectors(count: number, batch: number, dim: number, seed: number): Float32Array[] {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  return Array.from({ length: count }, () => Float32Array.from({ length: batch * dim }, next));
}

/** The naive form: all pairwise dots as a matrix, then DLRM's strictly-lower-triangle indices. */
function naive(vectors: Float32Array[], batch: number, dim: number): number[][] {
  const n = vectors.length;
  const rows: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const z: number[][] = [];
    for (let i = 0; i < n; i++) {
      z.push([]);
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let c = 0; c < dim; c++) acc += vectors[i]![b * dim + c]! * vectors[j]![b * dim + c]!;
        z[i]!.push(acc);
      }
    }
    const row = Array.from(vectors[0]!.subarray(b * dim, (b + 1) * dim));
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) row.push(z[i]![j]!);
    rows.push(row);
  }
  return rows;
}

describe('dot interaction', () => {
  it('has 367 outputs for 27 vectors of 16 (16 + 351 pairs)', () => {
    expect(interactionWidth(27, 16)).toBe(367);
  });

  it('matches the naive pairwise-dot matrix with DLRM index order', () => {
    const batch = 5;
    const dim = 16;
    const vectors = randomVectors(27, batch, dim, 7);
    const width = interactionWidth(27, dim);
    const out = new Float32Array(batch * width);
    interactionForward(vectors, batch, dim, out);
    const expected = naive(vectors, batch, dim);
    for (let b = 0; b < batch; b++) {
      for (let k = 0; k < width; k++) {
        expect(out[b * width + k]).toBeCloseTo(expected[b]![k]!, 5);
      }
    }
  });

  it('backward is the transpose of forward: <dOut, J dv> = <J^T dOut, dv>', () => {
    const batch = 3;
    const dim = 4;
    const count = 6;
    const vectors = randomVectors(count, batch, dim, 3);
    const width = interactionWidth(count, dim);
    const gradOut = randomVectors(1, batch, width, 11)[0]!;
    const grads = Array.from({ length: count }, () => new Float32Array(batch * dim));
    interactionBackward(vectors, gradOut, batch, dim, grads);
    // Finite differences of f(v) = <gradOut, forward(v)> in float64 through the naive form.
    const f = (vs: Float32Array[]) =>
      naive(vs, batch, dim).reduce(
        (sum, row, b) => sum + row.reduce((s, x, k) => s + x * gradOut[b * width + k]!, 0),
        0,
      );
    const h = 1e-2;
    for (let v = 0; v < count; v++) {
      for (let e = 0; e < batch * dim; e++) {
        const plus = vectors.map((x) => Float64Array.from(x)) as unknown as Float32Array[];
        const minus = vectors.map((x) => Float64Array.from(x)) as unknown as Float32Array[];
        plus[v]![e]! += h;
        minus[v]![e]! -= h;
        // f is quadratic in each coordinate, so the central difference is exact up to rounding.
        expect(grads[v]![e]).toBeCloseTo((f(plus) - f(minus)) / (2 * h), 4);
      }
    }
  });
});

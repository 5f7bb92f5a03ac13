import { describe, expect, it } from 'vitest';
import { type ConformanceContext, f32, lcg, valuesOf } from './helpers.js';

/** The dense ops of a small MLP against float64 answers. */
export function describeDense(ctx: ConformanceContext): void {
  describe('dense ops', () => {
    const rnd = lcg(5);
    const m = 5;
    const n = 4;
    const k = 7;
    const rand = (len: number) => Float32Array.from({ length: len }, () => rnd() * 2 - 1);
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        it(`matmul${transA ? ' A^T' : ''}${transB ? ' B^T' : ''} with alpha, beta matches float64`, async () => {
          const backend = ctx.backend();
          const a = rand(m * k);
          const b = rand(k * n);
          const c0 = rand(m * n);
          const tc = backend.tensor(c0);
          backend.matmul({
            m,
            n,
            k,
            a: backend.tensor(a),
            b: backend.tensor(b),
            c: tc,
            transA,
            transB,
            alpha: 0.5,
            beta: 2,
          });
          const c = await valuesOf(backend, tc);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let sum = 0;
              for (let p = 0; p < k; p++)
                sum +=
                  (transA ? a[p * m + i]! : a[i * k + p]!) *
                  (transB ? b[j * k + p]! : b[p * n + j]!);
              expect(Math.abs(c[i * n + j]! - (0.5 * sum + 2 * c0[i * n + j]!))).toBeLessThan(1e-5);
            }
          }
        });
      }
    }

    it('matmul with beta 0 ignores NaN in C; bad sizes are named', async () => {
      const backend = ctx.backend();
      const c = backend.tensor(f32(Number.NaN));
      backend.matmul({
        m: 1,
        n: 1,
        k: 2,
        a: backend.tensor(f32(1, 2)),
        b: backend.tensor(f32(3, 4)),
        c,
      });
      expect(await valuesOf(backend, c)).toEqual([11]);
      expect(() =>
        backend.matmul({ m: 1, n: 1, k: 2, a: backend.tensor(1), b: backend.tensor(2), c }),
      ).toThrow(/a: expected a tensor of at least 2 values, got 1/);
      expect(() => backend.matmul({ m: -1, n: 1, k: 1, a: c, b: c, c })).toThrow(
        /m: expected a non-negative integer, got -1/,
      );
    });

    it('bias add, ReLU and its backward, sum over rows', async () => {
      const backend = ctx.backend();
      const x = backend.tensor(f32(1, -2, 3, -4));
      backend.addBias(x, backend.tensor(f32(0.5, 1)), 2, 2);
      expect(await valuesOf(backend, x)).toEqual([1.5, -1, 3.5, -3]);
      const y = backend.tensor(4);
      backend.relu(x, y);
      expect(await valuesOf(backend, y)).toEqual([1.5, 0, 3.5, 0]);
      const g = backend.tensor(4);
      backend.reluBackward(backend.tensor(f32(1, 2, 3, 4)), x, g);
      expect(await valuesOf(backend, g)).toEqual([1, 0, 3, 0]);
      const s = backend.tensor(2);
      backend.sumRows(x, 2, 2, s);
      expect(await valuesOf(backend, s)).toEqual([5, -4]);
      expect(() => backend.sumRows(x, 3, 2, s)).toThrow(
        /x: expected a tensor of at least 6 values, got 4/,
      );
    });

    it('sigmoid and BCE with logits (within a few float32 ulps: exp is not correctly rounded)', async () => {
      const backend = ctx.backend();
      const p = backend.tensor(2);
      backend.sigmoid(backend.tensor(f32(0, 2)), p);
      const [p0, p1] = await valuesOf(backend, p);
      expect(p0).toBe(0.5);
      expect(p1).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
      const grad = backend.tensor(2);
      const loss = backend.tensor(1);
      backend.bceWithLogits(backend.tensor(f32(0, 2)), backend.tensor(f32(1, 0)), loss, grad);
      const [l] = await valuesOf(backend, loss);
      expect(l).toBeCloseTo((Math.log(2) + Math.log(1 + Math.exp(2))) / 2, 6);
      const [g0, g1] = await valuesOf(backend, grad);
      expect(g0).toBeCloseTo((0.5 - 1) / 2, 6);
      expect(g1).toBeCloseTo(1 / (1 + Math.exp(-2)) / 2, 6);
    });
  });
}

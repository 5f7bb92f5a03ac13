import { describe, expect, it } from 'vitest';
import { createJsBackend } from '../src/index.js';
import { f32, lcg } from './helpers.js';

const backend = await createJsBackend();

describe('dense ops', () => {
  const rnd = lcg(5);
  const m = 5;
  const n = 4;
  const k = 7;
  const rand = (len: number) => Float32Array.from({ length: len }, () => rnd() * 2 - 1);
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`matmul${transA ? ' A^T' : ''}${transB ? ' B^T' : ''} with alpha, beta matches float64`, () => {
        const a = rand(m * k);
        const b = rand(k * n);
        const c0 = rand(m * n);
        const c = Float32Array.from(c0);
        backend.matmul({ m, n, k, a, b, c, transA, transB, alpha: 0.5, beta: 2 });
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let sum = 0;
            for (let p = 0; p < k; p++)
              sum +=
                (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
            expect(Math.abs(c[i * n + j] - (0.5 * sum + 2 * c0[i * n + j]))).toBeLessThan(1e-5);
          }
        }
      });
    }
  }
  it('matmul with beta 0 ignores NaN in C', () => {
    const c = f32(Number.NaN);
    backend.matmul({ m: 1, n: 1, k: 2, a: f32(1, 2), b: f32(3, 4), c });
    expect(c[0]).toBe(11);
  });
  it('bias add, ReLU and its backward, sum over rows', () => {
    const x = f32(1, -2, 3, -4);
    backend.addBias(x, f32(0.5, 1), 2, 2);
    expect([...x]).toEqual([1.5, -1, 3.5, -3]);
    const y = new Float32Array(4);
    backend.relu(x, y);
    expect([...y]).toEqual([1.5, 0, 3.5, 0]);
    const g = new Float32Array(4);
    backend.reluBackward(f32(1, 2, 3, 4), x, g);
    expect([...g]).toEqual([1, 0, 3, 0]);
    const s = new Float32Array(2);
    backend.sumRows(x, 2, 2, s);
    expect([...s]).toEqual([5, -4]);
  });
  it('sigmoid and BCE with logits', () => {
    const p = new Float32Array(2);
    backend.sigmoid(f32(0, 2), p);
    expect(p[0]).toBe(0.5);
    expect(p[1]).toBeCloseTo(1 / (1 + Math.exp(-2)), 7);
    const grad = new Float32Array(2);
    const loss = backend.bceWithLogits(f32(0, 2), f32(1, 0), grad);
    expect(loss).toBeCloseTo((Math.log(2) + Math.log(1 + Math.exp(2))) / 2, 10);
    expect(grad[0]).toBeCloseTo((0.5 - 1) / 2, 7);
    expect(grad[1]).toBeCloseTo(1 / (1 + Math.exp(-2)) / 2, 7);
  });
});

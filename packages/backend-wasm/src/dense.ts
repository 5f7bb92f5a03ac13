import type { ArrayMatmulArgs } from '@halfstep/backend-js';
import type { Kernels } from './kernels.js';
import type { Scratch } from './scratch.js';
import { S_A, S_ACC, S_B, S_C, S_PACKED } from './scratch-slots.js';

/**
 * The linear dense ops of a small MLP in WASM, on host arrays: each op copies its operands into
 * scratch blocks, runs its kernel and copies the result back (the backend's tensors live in the
 * JS heap). Sizes are the caller's to check; each op reads and writes the leading values only.
 * Bit-identical to `@halfstep/backend-js`' functions of the same names.
 */
export class DenseOps {
  private readonly k: Kernels;
  private readonly scratch: Scratch;

  /** Ops on `kernels`, staging operands in `scratch`. */
  constructor(kernels: Kernels, scratch: Scratch) {
    this.k = kernels;
    this.scratch = scratch;
  }

  /** C = alpha * op(A) op(B) + beta * C (C copied in only when beta != 0). */
  matmul(args: ArrayMatmulArgs): void {
    const { m, n, k: depth, a, b, c } = args;
    const transA = args.transA ?? false;
    const transB = args.transB ?? false;
    const alpha = Math.fround(args.alpha ?? 1);
    const beta = Math.fround(args.beta ?? 0);
    const k = this.k;
    const ap = this.scratch.get(S_A, m * depth * 4);
    const bp = this.scratch.get(S_B, depth * n * 4);
    const cp = this.scratch.get(S_C, m * n * 4);
    const packed = transB ? this.scratch.get(S_PACKED, depth * n * 4) : 0;
    const acc = this.scratch.get(S_ACC, n * 4);
    const f32 = k.f32();
    f32.set(a.subarray(0, m * depth), ap >>> 2);
    f32.set(b.subarray(0, depth * n), bp >>> 2);
    if (beta !== 0) f32.set(c.subarray(0, m * n), cp >>> 2);
    k.exports.matmul(
      m,
      n,
      depth,
      ap,
      bp,
      cp,
      transA ? 1 : 0,
      transB ? 1 : 0,
      alpha,
      beta,
      packed,
      acc,
    );
    c.set(k.f32().subarray(cp >>> 2, (cp >>> 2) + m * n));
  }

  /** x[r, c] += bias[c] for a rows x cols x, in place. */
  addBias(x: Float32Array, bias: Float32Array, rows: number, cols: number): void {
    const k = this.k;
    const xp = this.scratch.get(S_A, rows * cols * 4);
    const bp = this.scratch.get(S_B, cols * 4);
    const f32 = k.f32();
    f32.set(x.subarray(0, rows * cols), xp >>> 2);
    f32.set(bias.subarray(0, cols), bp >>> 2);
    k.exports.addBias(xp, bp, rows, cols);
    x.set(k.f32().subarray(xp >>> 2, (xp >>> 2) + rows * cols));
  }

  /** out = max(x, 0) over x's values (+0 for -0 and NaN). */
  relu(x: Float32Array, out: Float32Array): void {
    const k = this.k;
    const n = x.length;
    const xp = this.scratch.get(S_A, n * 4);
    k.f32().set(x, xp >>> 2);
    k.exports.relu(xp, xp, n);
    out.set(k.f32().subarray(xp >>> 2, (xp >>> 2) + n));
  }

  /** out = x > 0 ? grad : 0 over grad's values. */
  reluBackward(grad: Float32Array, x: Float32Array, out: Float32Array): void {
    const k = this.k;
    const n = grad.length;
    const gp = this.scratch.get(S_A, n * 4);
    const xp = this.scratch.get(S_B, n * 4);
    const f32 = k.f32();
    f32.set(grad, gp >>> 2);
    f32.set(x.subarray(0, n), xp >>> 2);
    k.exports.reluBackward(gp, xp, gp, n);
    out.set(k.f32().subarray(gp >>> 2, (gp >>> 2) + n));
  }

  /** out[c] = sum over r ascending of x[r, c]. */
  sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
    const k = this.k;
    const xp = this.scratch.get(S_A, rows * cols * 4);
    const op = this.scratch.get(S_B, cols * 4);
    k.f32().set(x.subarray(0, rows * cols), xp >>> 2);
    k.exports.sumRows(xp, rows, cols, op);
    out.set(k.f32().subarray(op >>> 2, (op >>> 2) + cols));
  }
}

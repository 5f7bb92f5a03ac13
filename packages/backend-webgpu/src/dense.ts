import type { MatmulArgs, ParamLayout } from '@halfstep/backend';
import type { GpuRunner } from './gpu.js';
import {
  ADD_BIAS_LAYOUT,
  BCE_LAYOUT,
  ELEMENTS_LAYOUT,
  type FormatWord,
  MATMUL_LAYOUT,
  NO_FORMAT,
  SUM_ROWS_LAYOUT,
} from './layouts.js';
import {
  ADD_BIAS_WGSL,
  BCE_WGSL,
  MATMUL_WGSL,
  MEAN_WGSL,
  RELU_WGSL,
  SIGMOID_WGSL,
  SUM_ROWS_WGSL,
} from './shaders/dense.js';

/** `MatmulArgs` with the tensors' buffers (the backend checked sizes and ownership). */
export type BufferMatmulArgs = Omit<MatmulArgs, 'a' | 'b' | 'c'> & {
  readonly a: GPUBuffer;
  readonly b: GPUBuffer;
  readonly c: GPUBuffer;
};

/** A block of `layout` with `values` after the format words (0: the dense kernels read none). */
function params<Name extends string>(
  layout: ParamLayout<Name | FormatWord>,
  values: Readonly<Record<Name, number>>,
): Uint32Array {
  return layout.block({ ...NO_FORMAT, ...values } as Record<Name | FormatWord, number>);
}

/**
 * Records C = alpha op(A) op(B) + beta C: one invocation per element of C in the JS reference's
 * order (products rounded, added for p ascending from +0; no fused multiply-add). An operand
 * that is also C is copied first. Bit-identical except where the GPU flushes a float32
 * subnormal.
 */
export function recordMatmul(runner: GpuRunner, args: BufferMatmulArgs): void {
  const { m, n, k, c } = args;
  if (m * n === 0) return;
  const beta = Math.fround(args.beta ?? 0);
  const p = params(MATMUL_LAYOUT, {
    m,
    n,
    k,
    transA: args.transA ? 1 : 0,
    transB: args.transB ? 1 : 0,
    alpha: args.alpha ?? 1,
    beta,
    accumulate: beta === 0 ? 0 : 1,
  });
  const a = runner.distinct(args.a, m * k * 4, c);
  const b = runner.distinct(args.b, k * n * 4, c);
  runner.dispatch('matmul', () => MATMUL_WGSL, [runner.input(p), a, b, c], m * n);
}

/** Records x[r, c] = x[r, c] + bias[c] over rows x cols, in float32. */
export function recordAddBias(
  runner: GpuRunner,
  x: GPUBuffer,
  bias: GPUBuffer,
  rows: number,
  cols: number,
): void {
  if (rows * cols === 0) return;
  const b = runner.distinct(bias, cols * 4, x);
  runner.dispatch(
    'addBias',
    () => ADD_BIAS_WGSL,
    [runner.input(params(ADD_BIAS_LAYOUT, { count: rows * cols, cols })), b, x],
    rows * cols,
  );
}

/**
 * Records out = x > 0 ? g : 0 over `count` values, on bit patterns (ReLU when g is x; its
 * backward when g is the gradient): bit-identical, NaN and -0 give +0.
 */
export function recordRelu(
  runner: GpuRunner,
  x: GPUBuffer,
  g: GPUBuffer,
  out: GPUBuffer,
  count: number,
): void {
  if (count === 0) return;
  const xs = runner.distinct(x, count * 4, out);
  const gs = g === x ? xs : runner.distinct(g, count * 4, out);
  runner.dispatch(
    'relu',
    () => RELU_WGSL,
    [runner.input(params(ELEMENTS_LAYOUT, { count })), xs, gs, out],
    count,
  );
}

/** Records out = 1 / (1 + exp(-x)) over `count` values (float32, WGSL's `exp`). */
export function recordSigmoid(runner: GpuRunner, x: GPUBuffer, out: GPUBuffer, count: number) {
  if (count === 0) return;
  const xs = runner.distinct(x, count * 4, out);
  runner.dispatch(
    'sigmoid',
    () => SIGMOID_WGSL,
    [runner.input(params(ELEMENTS_LAYOUT, { count })), xs, out],
    count,
  );
}

/**
 * Records the mean binary cross-entropy of `count` logits against labels into `loss[0]`, and
 * d loss / d logits into `grad` when given: per-element terms, then one workgroup's sum.
 */
export function recordBceWithLogits(
  runner: GpuRunner,
  logits: GPUBuffer,
  labels: GPUBuffer,
  loss: GPUBuffer,
  grad: GPUBuffer | undefined,
  count: number,
): void {
  const terms = runner.output(count * 4);
  const g = grad ?? runner.output(4);
  if (count > 0) {
    const x = runner.distinct(logits, count * 4, g);
    const y = runner.distinct(labels, count * 4, g);
    runner.dispatch(
      'bce',
      () => BCE_WGSL,
      [
        runner.input(params(BCE_LAYOUT, { count, withGrad: grad === undefined ? 0 : 1 })),
        x,
        y,
        terms,
        g,
      ],
      count,
    );
  }
  runner.dispatch(
    'mean',
    () => MEAN_WGSL,
    [runner.input(params(ELEMENTS_LAYOUT, { count })), terms, loss],
    64,
  );
}

/** Records out[c] = the sum over r ascending of x[r, c] from +0 (one invocation per column). */
export function recordSumRows(
  runner: GpuRunner,
  x: GPUBuffer,
  rows: number,
  cols: number,
  out: GPUBuffer,
): void {
  if (cols === 0) return;
  const xs = runner.distinct(x, Math.max(1, rows * cols) * 4, out);
  runner.dispatch(
    'sumRows',
    () => SUM_ROWS_WGSL,
    [runner.input(params(SUM_ROWS_LAYOUT, { rows, cols })), xs, out],
    cols,
  );
}

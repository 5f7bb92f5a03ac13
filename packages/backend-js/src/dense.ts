import type { MatmulArgs } from '@halfstep/backend';

/** `MatmulArgs` on host arrays (the backend checked the sizes on the tensors). */
export type ArrayMatmulArgs = Omit<MatmulArgs, 'a' | 'b' | 'c'> & {
  readonly a: Float32Array;
  readonly b: Float32Array;
  readonly c: Float32Array;
};

const f = Math.fround;

/**
 * C = alpha * op(A) op(B) + beta * C, row-major. For each element, in float32:
 * `acc = +0; for p = 0 .. k-1 ascending: acc = fround(acc + fround(a_ip * b_pj))`, then
 * `c = fround(alpha * acc)` when beta = 0 (C not read), else
 * `c = fround(fround(alpha * acc) + fround(beta * c))`. No fused multiply-add.
 */
export function matmul(args: ArrayMatmulArgs): void {
  const { m, n, k, a, b, c } = args;
  const transA = args.transA ?? false;
  const transB = args.transB ?? false;
  const alpha = f(args.alpha ?? 1);
  const beta = f(args.beta ?? 0);
  const acc = new Float32Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let p = 0; p < k; p++) {
      const av = transA ? a[p * m + i]! : a[i * k + p]!;
      if (transB) {
        for (let j = 0; j < n; j++) acc[j] = acc[j]! + f(av * b[j * k + p]!);
      } else {
        const bo = p * n;
        for (let j = 0; j < n; j++) acc[j] = acc[j]! + f(av * b[bo + j]!);
      }
    }
    const co = i * n;
    if (beta === 0) {
      for (let j = 0; j < n; j++) c[co + j] = alpha * acc[j]!;
    } else {
      for (let j = 0; j < n; j++) c[co + j] = f(alpha * acc[j]!) + f(beta * c[co + j]!);
    }
  }
}

/** x[r, c] = fround(x[r, c] + bias[c]) for a rows x cols x. */
export function addBias(x: Float32Array, bias: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) x[o + c] = x[o + c]! + bias[c]!;
  }
}

/** out[i] = x[i] > 0 ? x[i] : 0 (so -0 and NaN give +0). */
export function relu(x: Float32Array, out: Float32Array): void {
  // biome-ignore lint/complexity/useMathMinMax: Math.max would keep -0 and NaN; ReLU gives +0.
  for (let i = 0; i < x.length; i++) out[i] = x[i]! > 0 ? x[i]! : 0;
}

/** out[i] = x[i] > 0 ? grad[i] : 0. */
export function reluBackward(grad: Float32Array, x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < grad.length; i++) out[i] = x[i]! > 0 ? grad[i]! : 0;
}

/**
 * out[i] = fround(1 / (1 + exp(-x[i]))), computed in float64 (`Math.exp`), rounded once. Not
 * bit-exact across backends: `exp` is not correctly rounded; other backends match within 1 ulp.
 */
export function sigmoid(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]!));
}

/**
 * Mean binary cross-entropy with logits, in float64 per element and in the sum (the stable form
 * max(x, 0) - x y + log1p(exp(-|x|))), returned as a float64; `grad[i] = fround((sigmoid(x) - y) / n)`.
 */
export function bceWithLogits(
  logits: Float32Array,
  labels: Float32Array,
  grad?: Float32Array,
): number {
  const n = logits.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = logits[i]!;
    const y = labels[i]!;
    sum += Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
    if (grad !== undefined) grad[i] = (1 / (1 + Math.exp(-x)) - y) / n;
  }
  return n === 0 ? 0 : sum / n;
}

/** out[c] = sum over r ascending of x[r, c], each add rounded to float32, from +0. */
export function sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
  out.fill(0, 0, cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) out[c] = out[c]! + x[o + c]!;
  }
}

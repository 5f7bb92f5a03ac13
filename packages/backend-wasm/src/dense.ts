import type { MatmulArgs } from '@halfstep/backend';

/** backend-js' dense `checkLength` (same message): a Float32Array of at least `length` values. */
export function checkLength(array: Float32Array, length: number, name: string): void {
  if (!(array instanceof Float32Array) || array.length < length) {
    throw new RangeError(
      `${name}: expected a Float32Array of at least ${length} values, got ${array?.length}`,
    );
  }
}

/** backend-js' matmul argument checks (same messages, same order); returns the arguments. */
export function checkMatmul(args: MatmulArgs): MatmulArgs {
  const { m, n, k, a, b, c } = args;
  for (const [v, name] of [
    [m, 'm'],
    [n, 'n'],
    [k, 'k'],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`${name}: expected a non-negative integer, got ${v}`);
    }
  }
  checkLength(a, m * k, 'a');
  checkLength(b, k * n, 'b');
  checkLength(c, m * n, 'c');
  return args;
}

/**
 * out[i] = fround(1 / (1 + exp(-x[i]))) in float64 with `Math.exp`, as backend-js (WASM has no
 * `exp`; running the reference's JS keeps the result bit-identical on the same engine).
 */
export function sigmoid(x: Float32Array, out: Float32Array): void {
  checkLength(out, x.length, 'out');
  for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]));
}

/**
 * Mean binary cross-entropy with logits, exactly as backend-js: float64 per element and in the
 * sum (max(x, 0) - x y + log1p(exp(-|x|))); `grad[i] = fround((sigmoid(x) - y) / n)`.
 */
export function bceWithLogits(
  logits: Float32Array,
  labels: Float32Array,
  grad?: Float32Array,
): number {
  const n = logits.length;
  checkLength(labels, n, 'labels');
  if (grad !== undefined) checkLength(grad, n, 'grad');
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    const y = labels[i];
    sum += Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
    if (grad !== undefined) grad[i] = (1 / (1 + Math.exp(-x)) - y) / n;
  }
  return n === 0 ? 0 : sum / n;
}

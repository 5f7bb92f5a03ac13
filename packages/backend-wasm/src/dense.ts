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

import type { FloatFormat } from '@halfstep/codecs';

/**
 * The argument checks of `@halfstep/codecs`' bulk `encode`/`decode`, with the same error types
 * and messages, so that the GPU versions reject bad input exactly as the JS backend does.
 */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/** @throws TypeError unless `value` is a Float32Array (codecs' message). */
export function checkFloat32(value: unknown, argument: string): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`${argument}: expected a Float32Array, got ${describe(value)}`);
  }
  return value;
}

/** @throws TypeError unless `value` is the code array type of `format` (codecs' message). */
export function checkCodes(
  value: unknown,
  format: FloatFormat,
  argument: string,
): Uint16Array | Uint8Array {
  const expected = format.bits === 16 ? Uint16Array : Uint8Array;
  if (!(value instanceof expected)) {
    throw new TypeError(
      `${argument}: expected a ${expected.name} of ${format.name} codes, got ${describe(value)}`,
    );
  }
  return value;
}

/** @throws RangeError when `array` does not have `length` elements (codecs' message). */
export function checkSameLength(array: ArrayLike<unknown>, length: number, argument: string) {
  if (array.length !== length) {
    throw new RangeError(`${argument}: expected length ${length}, got ${array.length}`);
  }
}

/**
 * The dense ops' length check of `@halfstep/backend-js`, same message:
 * @throws RangeError unless `array` is a Float32Array of at least `length` values.
 */
export function checkAtLeast(array: Float32Array, length: number, name: string): void {
  if (!(array instanceof Float32Array) || array.length < length) {
    throw new RangeError(
      `${name}: expected a Float32Array of at least ${length} values, got ${array?.length}`,
    );
  }
}

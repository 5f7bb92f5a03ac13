import type { FloatFormat } from './formats.js';

/** Throws a TypeError naming `argument` unless `value` is a Float32Array. */
export function checkFloat32Array(value: unknown, argument: string): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`${argument}: expected a Float32Array, got ${describe(value)}`);
  }
  return value;
}

/** Throws unless `value` is the code array type of `format` (Uint16Array or Uint8Array). */
export function checkCodeArray(
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

/** Throws a RangeError naming `argument` unless `array.length === length`. */
export function checkLength(array: ArrayLike<unknown>, length: number, argument: string): void {
  if (array.length !== length) {
    throw new RangeError(`${argument}: expected length ${length}, got ${array.length}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

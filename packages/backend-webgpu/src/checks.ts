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

import { argumentError, checkInstance } from './checks.js';

/**
 * A constructor of float16 arrays that views an existing buffer: the native `Float16Array`
 * (Node 24+, current browsers) or `@petamoriken/float16`'s `Float16Array`.
 */
export interface Float16ArrayConstructorLike<T> {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
}

/** A float16 array: anything that exposes its buffer like a typed array does. */
export interface Float16ArrayLike {
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly length: number;
}

/**
 * The runtime's native `Float16Array` constructor, or `undefined` where it has none (Node 20).
 */
export function nativeFloat16Array(): Float16ArrayConstructorLike<Float16ArrayLike> | undefined {
  return (globalThis as { Float16Array?: Float16ArrayConstructorLike<Float16ArrayLike> })
    .Float16Array;
}

/**
 * Views float16 codes as a float16 array of the given constructor, without copying: both share
 * `codes`' memory, so writes through either are seen by the other.
 *
 * @example
 * ```ts
 * import { Float16Array } from '@petamoriken/float16';
 * const halves = asFloat16Array(encode('float16', values), Float16Array);
 * ```
 * @throws TypeError when `codes` is not a Uint16Array, `Float16ArrayClass` is not a constructor,
 *   or none is given and the runtime has no native Float16Array.
 */
export function asFloat16Array<T>(
  codes: Uint16Array,
  Float16ArrayClass?: Float16ArrayConstructorLike<T>,
): T {
  checkInstance(codes, Uint16Array, 'asFloat16Array: codes', 'a Uint16Array of float16 codes');
  if (Float16ArrayClass !== undefined && typeof Float16ArrayClass !== 'function') {
    throw argumentError(
      'asFloat16Array: Float16ArrayClass',
      'a Float16Array constructor',
      Float16ArrayClass,
    );
  }
  const ctor = Float16ArrayClass ?? (nativeFloat16Array() as Float16ArrayConstructorLike<T>);
  if (ctor === undefined) {
    throw new TypeError(
      'asFloat16Array: Float16ArrayClass: this runtime has no native Float16Array; pass one (e.g. @petamoriken/float16)',
    );
  }
  return new ctor(codes.buffer, codes.byteOffset, codes.length);
}

/**
 * The float16 codes behind a float16 array (native or `@petamoriken/float16`), as a `Uint16Array`
 * view of the same memory: no copy.
 */
export function float16Codes(array: Float16ArrayLike): Uint16Array {
  if (
    typeof array !== 'object' ||
    array === null ||
    !(array.buffer instanceof ArrayBuffer || isShared(array.buffer))
  ) {
    throw argumentError(
      'float16Codes: array',
      'a Float16Array (native or @petamoriken/float16)',
      array,
    );
  }
  return new Uint16Array(array.buffer, array.byteOffset, array.length);
}

function isShared(buffer: unknown): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
}

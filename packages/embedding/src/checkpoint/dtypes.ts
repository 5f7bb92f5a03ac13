/**
 * Element types of safetensors tensors that this module reads and writes. 16-bit floats
 * (`F16`, `BF16`) are carried as their raw bit patterns in a `Uint16Array`, 8-bit floats
 * (`F8_E4M3`, `F8_E5M2`) as raw codes in a `Uint8Array`, `BOOL` as 0/1 bytes in a `Uint8Array`.
 */
export type SafetensorsDtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64';

/** The typed arrays that carry tensor data, one kind per dtype (see {@link DTYPES}). */
export type TensorData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A constructor of one of the {@link TensorData} typed arrays. */
export type TensorDataConstructor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** How a dtype is stored: bytes per element, the typed array that carries it, its sort rank. */
export interface DtypeInfo {
  /** Bytes per element in the file (and in the typed array). */
  readonly size: 1 | 2 | 4 | 8;
  /** The typed array type that carries this dtype's data, in both directions. */
  readonly array: TensorDataConstructor;
  /**
   * Position in the Rust reference implementation's `Dtype` enum (increasing alignment). The
   * encoder writes tensors by descending rank, then by name, as the reference does.
   */
  readonly rank: number;
}

/** Every supported dtype with its element size, carrier array type and sort rank. */
export const DTYPES: Readonly<Record<SafetensorsDtype, DtypeInfo>> = Object.freeze({
  BOOL: { size: 1, array: Uint8Array, rank: 0 },
  U8: { size: 1, array: Uint8Array, rank: 1 },
  I8: { size: 1, array: Int8Array, rank: 2 },
  F8_E5M2: { size: 1, array: Uint8Array, rank: 3 },
  F8_E4M3: { size: 1, array: Uint8Array, rank: 4 },
  I16: { size: 2, array: Int16Array, rank: 5 },
  U16: { size: 2, array: Uint16Array, rank: 6 },
  F16: { size: 2, array: Uint16Array, rank: 7 },
  BF16: { size: 2, array: Uint16Array, rank: 8 },
  I32: { size: 4, array: Int32Array, rank: 9 },
  U32: { size: 4, array: Uint32Array, rank: 10 },
  F32: { size: 4, array: Float32Array, rank: 11 },
  F64: { size: 8, array: Float64Array, rank: 12 },
  I64: { size: 8, array: BigInt64Array, rank: 13 },
  U64: { size: 8, array: BigUint64Array, rank: 14 },
} satisfies Record<SafetensorsDtype, DtypeInfo>);

/** Every supported dtype name, in increasing alignment order. */
export const SAFETENSORS_DTYPES: readonly SafetensorsDtype[] = Object.freeze(
  Object.keys(DTYPES) as SafetensorsDtype[],
);

/** Returns true when `name` is one of the supported {@link SafetensorsDtype} names. */
export function isSafetensorsDtype(name: unknown): name is SafetensorsDtype {
  return typeof name === 'string' && Object.hasOwn(DTYPES, name);
}

/** True when this host stores typed-array elements little-endian (as safetensors files do). */
export const HOST_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reverses the byte order of every `size`-byte element of `bytes` in place (converts between
 * little- and big-endian). `bytes.length` must be a multiple of `size`; `size` 1 is a no-op.
 */
export function swapBytes(bytes: Uint8Array, size: 1 | 2 | 4 | 8): void {
  if (size === 1) return;
  if (bytes.length % size !== 0) {
    throw new RangeError(`swapBytes: ${bytes.length} bytes is not a multiple of ${size}`);
  }
  for (let i = 0; i < bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

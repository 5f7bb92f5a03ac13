import { DTYPES, HOST_LITTLE_ENDIAN, swapBytes } from './dtypes.js';
import { CheckpointError } from './errors.js';
import { checkTensor, type Tensor } from './tensor.js';

/** The key of the free-form string map in a safetensors header; no tensor may be named so. */
export const METADATA_KEY = '__metadata__';

const LONE_SURROGATE = /\p{Cs}/u;

/** Compares strings by Unicode code point, i.e. in the byte order of their UTF-8 encodings. */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

function checkText(text: string, what: string): void {
  if (LONE_SURROGATE.test(text)) {
    throw new CheckpointError(
      'invalid-metadata',
      `${what} contains a lone UTF-16 surrogate and cannot be written as UTF-8`,
    );
  }
}

/**
 * Serializes tensors (and optional string metadata) to the bytes of a safetensors file.
 *
 * Layout: 8-byte little-endian header length N; N bytes of UTF-8 JSON header padded with spaces
 * to a multiple of 8; then the tensors' data back to back, little-endian, row-major. Output is
 * deterministic and matches the Rust reference `safetensors::serialize` byte for byte
 * (except that metadata keys are sorted here, where Rust's order is unspecified): tensors are
 * laid out by descending dtype alignment, then by name (code point order), so every tensor starts
 * at a multiple of its element size; `__metadata__` (keys sorted) comes first in the header when
 * `metadata` is given, and is omitted when it is not.
 *
 * Throws a {@link CheckpointError} naming the tensor when a tensor is invalid (see
 * `checkTensor`), a tensor is named `__metadata__`, a metadata value is not a string, a name or
 * value holds a lone surrogate, or the result would exceed the largest `Uint8Array`.
 */
export function encodeSafetensors(
  tensors: Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  if (tensors === null || typeof tensors !== 'object') {
    throw new CheckpointError('invalid-tensor', `tensors must be an object of named tensors`);
  }
  const entries: { name: string; tensor: Tensor; bytes: number }[] = [];
  for (const name of Object.keys(tensors)) {
    if (name === METADATA_KEY) {
      throw new CheckpointError(
        'invalid-metadata',
        `a tensor cannot be named "${METADATA_KEY}" (reserved for the metadata map)`,
      );
    }
    checkText(name, `tensor name ${JSON.stringify(name)}`);
    const tensor = tensors[name]!;
    entries.push({ name, tensor, bytes: checkTensor(name, tensor) });
  }
  entries.sort(
    (l, r) =>
      DTYPES[r.tensor.dtype].rank - DTYPES[l.tensor.dtype].rank ||
      compareCodePoints(l.name, r.name),
  );

  const parts: string[] = [];
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object') {
      throw new CheckpointError('invalid-metadata', `metadata must be an object of strings`);
    }
    const keys = Object.keys(metadata).sort(compareCodePoints);
    const fields: string[] = [];
    for (const key of keys) {
      const value: unknown = metadata[key];
      if (typeof value !== 'string') {
        throw new CheckpointError(
          'invalid-metadata',
          `metadata value of key ${JSON.stringify(key)} is ${typeof value}, must be a string`,
        );
      }
      checkText(key, `metadata key ${JSON.stringify(key)}`);
      checkText(value, `metadata value of key ${JSON.stringify(key)}`);
      fields.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
    }
    parts.push(`"${METADATA_KEY}":{${fields.join(',')}}`);
  }
  let offset = 0;
  for (const { name, tensor, bytes } of entries) {
    const begin = offset;
    offset += bytes;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${tensor.dtype}","shape":[${tensor.shape.join(',')}],"data_offsets":[${begin},${offset}]}`,
    );
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const total = 8 + headerLength + offset;

  let out: Uint8Array;
  try {
    out = new Uint8Array(total);
  } catch (cause) {
    throw new CheckpointError(
      'too-large',
      `checkpoint of ${total} bytes is larger than the largest Uint8Array this runtime allocates`,
      { cause },
    );
  }
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let pos = 8 + headerLength;
  for (const { tensor, bytes } of entries) {
    const src = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, bytes);
    out.set(src, pos);
    if (!HOST_LITTLE_ENDIAN) swapBytes(out.subarray(pos, pos + bytes), DTYPES[tensor.dtype].size);
    pos += bytes;
  }
  return out;
}

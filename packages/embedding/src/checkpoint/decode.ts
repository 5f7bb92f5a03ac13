import {
  DTYPES,
  HOST_LITTLE_ENDIAN,
  isSafetensorsDtype,
  type SafetensorsDtype,
  swapBytes,
  type TensorData,
} from './dtypes.js';
import { METADATA_KEY } from './encode.js';
import { CheckpointError } from './errors.js';
import { type JsonObject, type JsonValue, parseHeaderJson } from './json.js';
import { type Checkpoint, elementCount, type Tensor } from './tensor.js';

/** Largest header this reader accepts, in bytes (the Rust reference's limit: 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Options of {@link decodeSafetensors}. */
export interface DecodeOptions {
  /**
   * When true, every tensor's data is a fresh copy. When false (the default), a tensor whose data
   * is suitably aligned in `bytes` is returned as a view sharing memory with `bytes` (no copy);
   * the others are copied.
   */
  copy?: boolean;
}

/** A tensor entry of a header, as declared and validated, before its data is read. */
export interface TensorEntry {
  /** Tensor name. */
  readonly name: string;
  /** Element type. */
  readonly dtype: SafetensorsDtype;
  /** Shape, validated to be non-negative safe integers. */
  readonly shape: readonly number[];
  /** Begin and end byte offsets, relative to the start of the data section. */
  readonly begin: number;
  readonly end: number;
}

/** The parsed and validated header of a safetensors file. */
export interface SafetensorsHeader {
  /** Byte length N of the JSON header (the data section starts at byte 8 + N). */
  readonly headerLength: number;
  /** Tensor entries sorted by data offset. */
  readonly entries: readonly TensorEntry[];
  /** The `__metadata__` string map (null-prototype object; `{}` when absent). */
  readonly metadata: Record<string, string>;
  /** Bytes the data section must have: the end offset of the last tensor (0 when none). */
  readonly dataLength: number;
}

/**
 * Reads the 8-byte prefix of a safetensors file and returns the header length N it declares.
 * `fileLength` is the whole file's size. Throws a {@link CheckpointError}: `too-short` when
 * `prefix` has fewer than 8 bytes, `header-too-large` when N exceeds {@link MAX_HEADER_BYTES},
 * `truncated-header` when 8 + N exceeds `fileLength`.
 */
export function readHeaderLength(prefix: Uint8Array, fileLength: number): number {
  if (prefix.length < 8) {
    throw new CheckpointError(
      'too-short',
      `file is ${prefix.length} bytes, shorter than the 8-byte header length prefix`,
    );
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(
      'header-too-large',
      `header length ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit${
        n > BigInt(fileLength - 8)
          ? ` (and the file has only ${fileLength - 8} bytes after the prefix)`
          : ''
      }`,
    );
  }
  const headerLength = Number(n);
  if (8 + headerLength > fileLength) {
    throw new CheckpointError(
      'truncated-header',
      `truncated: header says ${headerLength} bytes, file has ${fileLength - 8} bytes after the 8-byte length prefix (${fileLength} bytes in all)`,
    );
  }
  return headerLength;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return v instanceof Map;
}

function describe(v: JsonValue | undefined): string {
  if (v === undefined) return 'missing';
  if (v instanceof Map) return 'an object';
  if (Array.isArray(v)) return 'an array';
  return JSON.stringify(v);
}

/**
 * Parses and validates the JSON header bytes (`headerBytes`, the N bytes after the prefix).
 * Checks: valid UTF-8; valid JSON without duplicate keys; a top-level object; `__metadata__`
 * absent, null, or an object of string values; every other entry an object with a known `dtype`,
 * a `shape` of non-negative integers and `data_offsets` `[begin, end]` with begin <= end and
 * end - begin = product(shape) * dtype size; and, in offset order, ranges that start at 0 and
 * follow each other without gaps or overlaps. Unknown extra fields of an entry are ignored, as
 * the reference implementation does. Throws a {@link CheckpointError} that names the tensor.
 */
export function parseHeader(headerBytes: Uint8Array): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (cause) {
    throw new CheckpointError('invalid-utf8', `header is not valid UTF-8`, { cause });
  }
  const root = parseHeaderJson(text);
  if (!isObject(root)) {
    throw new CheckpointError(
      'invalid-json',
      `header JSON is ${describe(root)}, expected an object of tensors`,
    );
  }
  const metadata: Record<string, string> = Object.create(null);
  const entries: TensorEntry[] = [];
  for (const [name, value] of root) {
    const what = `tensor ${JSON.stringify(name)}`;
    if (name === METADATA_KEY) {
      if (value === null) continue;
      if (!isObject(value)) {
        throw new CheckpointError(
          'invalid-metadata',
          `"${METADATA_KEY}" is ${describe(value)}, expected an object of strings`,
        );
      }
      for (const [key, v] of value) {
        if (typeof v !== 'string') {
          throw new CheckpointError(
            'invalid-metadata',
            `metadata value of key ${JSON.stringify(key)} is ${describe(v)}, must be a string`,
          );
        }
        metadata[key] = v;
      }
      continue;
    }
    if (!isObject(value)) {
      throw new CheckpointError(
        'invalid-header',
        `${what} is ${describe(value)}, expected an object`,
      );
    }
    const dtype = value.get('dtype');
    if (!isSafetensorsDtype(dtype)) {
      throw new CheckpointError(
        'unknown-dtype',
        `${what} has unknown dtype ${describe(dtype)} (supported: ${Object.keys(DTYPES).join(', ')})`,
      );
    }
    const shape = value.get('shape');
    if (!Array.isArray(shape)) {
      throw new CheckpointError(
        'invalid-header',
        `${what}: shape is ${describe(shape)}, expected an array`,
      );
    }
    const count = elementCount(shape, what, 'invalid-header');
    const offsets = value.get('data_offsets');
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    ) {
      throw new CheckpointError(
        'invalid-header',
        `${what}: data_offsets is ${Array.isArray(offsets) ? JSON.stringify(offsets) : describe(offsets)}, expected [begin, end] of two non-negative integers`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) {
      throw new CheckpointError(
        'invalid-header',
        `${what}: data_offsets [${begin}, ${end}] ends before it begins`,
      );
    }
    const expected = count * DTYPES[dtype].size;
    if (end - begin !== expected) {
      throw new CheckpointError(
        'size-mismatch',
        `${what}: shape [${shape.join(', ')}] of ${dtype} needs ${expected} bytes, data_offsets [${begin}, ${end}] span ${end - begin} bytes`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: TensorEntry | undefined;
  for (const e of entries) {
    if (e.begin < covered) {
      throw new CheckpointError(
        'overlap',
        `tensor ${JSON.stringify(e.name)} at bytes [${e.begin}, ${e.end}) overlaps tensor ${JSON.stringify(previous!.name)} at [${previous!.begin}, ${previous!.end})`,
      );
    }
    if (e.begin > covered) {
      throw new CheckpointError(
        'gap',
        previous === undefined
          ? `data section bytes [0, ${e.begin}) before tensor ${JSON.stringify(e.name)} belong to no tensor (offsets must be contiguous from 0)`
          : `data section bytes [${covered}, ${e.begin}) between tensor ${JSON.stringify(previous.name)} and tensor ${JSON.stringify(e.name)} belong to no tensor (offsets must be contiguous)`,
      );
    }
    covered = e.end;
    // An empty tensor covers nothing: keep the last non-empty one for overlap messages.
    if (e.end > e.begin || previous === undefined) previous = e;
  }
  return { headerLength: headerBytes.length, entries, metadata, dataLength: covered };
}

/**
 * Checks that a data section of `actual` bytes is exactly what `header` needs. Throws a
 * {@link CheckpointError}: `truncated-data` when it is shorter (expected vs actual bytes),
 * `trailing-data` when bytes follow the last tensor.
 */
export function checkDataLength(header: SafetensorsHeader, actual: number): void {
  if (actual < header.dataLength) {
    throw new CheckpointError(
      'truncated-data',
      `data section truncated: tensors need ${header.dataLength} bytes, file has ${actual} bytes after the header`,
    );
  }
  if (actual > header.dataLength) {
    throw new CheckpointError(
      'trailing-data',
      `data section has ${actual - header.dataLength} trailing bytes that belong to no tensor (tensors need ${header.dataLength} bytes, file has ${actual})`,
    );
  }
}

/**
 * Returns tensor `entry`'s data from `data` (the data section) as its dtype's typed array:
 * a view when `copy` is false, the host is little-endian and the data is aligned for the array
 * type; otherwise a fresh, byte-order-corrected copy.
 */
export function tensorData(data: Uint8Array, entry: TensorEntry, copy: boolean): TensorData {
  const { array, size } = DTYPES[entry.dtype];
  const byteOffset = data.byteOffset + entry.begin;
  const length = (entry.end - entry.begin) / size;
  if (!copy && HOST_LITTLE_ENDIAN && byteOffset % size === 0) {
    return new array(data.buffer as ArrayBuffer, byteOffset, length);
  }
  const bytes = data.slice(entry.begin, entry.end);
  if (!HOST_LITTLE_ENDIAN) swapBytes(bytes, size);
  return new array(bytes.buffer, 0, length);
}

/**
 * Decodes the bytes of a whole safetensors file. Returns its tensors (a null-prototype object,
 * in file order) with data as each dtype's typed array (see `DTYPES`; 16-bit floats as raw
 * `Uint16Array` codes, 8-bit floats as `Uint8Array`), and its metadata (`{}` when none).
 *
 * By default a tensor's data is a view into `bytes` when it is aligned there (the writer makes
 * every tensor aligned), otherwise a copy; pass `{ copy: true }` to always copy. Never returns a
 * partial or guessed result: any inconsistency throws a {@link CheckpointError} saying what is
 * wrong (see `readHeaderLength`, `parseHeader`, `checkDataLength`).
 */
export function decodeSafetensors(bytes: Uint8Array, options: DecodeOptions = {}): Checkpoint {
  const headerLength = readHeaderLength(bytes, bytes.length);
  const header = parseHeader(bytes.subarray(8, 8 + headerLength));
  const data = bytes.subarray(8 + headerLength);
  checkDataLength(header, data.length);
  const tensors: Record<string, Tensor> = Object.create(null);
  for (const entry of header.entries) {
    tensors[entry.name] = {
      dtype: entry.dtype,
      shape: entry.shape,
      data: tensorData(data, entry, options.copy === true),
    };
  }
  return { tensors, metadata: header.metadata };
}

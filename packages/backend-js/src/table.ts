import {
  type BagInput,
  bytesPerElement,
  checkTableSpec,
  philoxSchedule,
  type StorageName,
  type TableHandle,
  type TableSpec,
  tableHandle,
} from '@halfstep/backend';
import { decode, encodeScalar, type FloatFormat, resolveFormat } from '@halfstep/codecs';

/** Stored codes or float32 values. */
export type Store = Float32Array | Uint16Array | Uint8Array;

/** What the JS backend keeps per table. */
export interface JsTable {
  readonly handle: TableHandle;
  /** rows x dim stored elements. */
  readonly weights: Store;
  /** The weights' format, or null for float32. */
  readonly format: FloatFormat | null;
  /** The float32 value of every code of `format` (empty for float32). */
  readonly lut: Float32Array;
  /** rows x stateSize values (empty when stateless). */
  readonly state: Store;
  readonly stateFormat: FloatFormat | null;
  readonly stateLut: Float32Array;
  /** Optimizer state values per row. */
  readonly stateSize: number;
  /** Philox key schedule of the table's seed. */
  readonly schedule: Int32Array;
}

const luts = new Map<string, Float32Array>();

/** The decoded float32 value of every code of `format`, computed once per format. */
export function lutOf(format: FloatFormat | null): Float32Array {
  if (format === null) return new Float32Array(0);
  let lut = luts.get(format.name);
  if (!lut) {
    const codes = format.bits === 16 ? new Uint16Array(65536) : new Uint8Array(256);
    for (let i = 0; i < codes.length; i++) codes[i] = i;
    lut = decode(format, codes);
    luts.set(format.name, lut);
  }
  return lut;
}

function allocate(storage: StorageName, length: number): Store {
  const bytes = bytesPerElement(storage);
  return bytes === 4
    ? new Float32Array(length)
    : bytes === 2
      ? new Uint16Array(length)
      : new Uint8Array(length);
}

function formatOf(storage: StorageName): FloatFormat | null {
  return storage === 'float32' ? null : resolveFormat(storage);
}

let nextId = 1;

/** Allocates a table: weights zero, optimizer state at each slot's initial value (nearest-even). */
export function allocateTable(spec: TableSpec): JsTable {
  checkTableSpec(spec);
  const { rows, dim, optimizer } = spec;
  const stateSize = optimizer.stateSize(dim);
  const stateStorage = optimizer.stateStorage;
  const weights = allocate(spec.storage, rows * dim);
  const state = allocate(stateStorage, rows * stateSize);
  const format = formatOf(spec.storage);
  const stateFormat = formatOf(stateStorage);
  // Initial state, element by element in row order of the slot layout.
  let offset = 0;
  for (const slot of optimizer.slots) {
    const width = slot.perElement ? dim : 1;
    if (slot.initial !== 0) {
      const code = stateFormat === null ? slot.initial : encodeNearest(stateFormat, slot.initial);
      for (let r = 0; r < rows; r++)
        state.fill(code, r * stateSize + offset, r * stateSize + offset + width);
    }
    offset += width;
  }
  const handle = tableHandle(spec, nextId++, weights.byteLength, state.byteLength);
  return {
    handle,
    weights,
    format,
    lut: lutOf(format),
    state,
    stateFormat,
    stateLut: lutOf(stateFormat),
    stateSize,
    schedule: philoxSchedule(spec.seed),
  };
}

function encodeNearest(format: FloatFormat, value: number): number {
  return encodeScalar(format, value, { overflow: 'saturate' });
}

/** The shape of a batch: bags, and the bag of each position. */
export function bagOfPositions(input: BagInput, out: Int32Array): void {
  const { offsets } = input;
  const n = input.indices.length;
  const bags = offsets.length;
  for (let b = 0; b < bags; b++) {
    const end = b + 1 < bags ? offsets[b + 1]! : n;
    for (let i = offsets[b]!; i < end; i++) out[i] = b;
  }
}

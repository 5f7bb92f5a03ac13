import {
  bytesPerElement,
  checkTableSpec,
  type StorageName,
  type TableHandle,
  type TableSpec,
  tableHandle,
} from '@halfstep/backend';
import { decode, encodeScalar, type FloatFormat, resolveFormat } from '@halfstep/codecs';
import type { Kernels } from './kernels.js';

export { STORAGE_KINDS } from './layouts.js';

/** What the WASM backend keeps per table; the weights and state live in linear memory. */
export interface WasmTable {
  readonly handle: TableHandle;
  /** Address of rows x dim stored elements. */
  readonly weights: number;
  readonly format: FloatFormat | null;
  /** Address of rows x stateSize stored state values (0 when stateless). */
  readonly state: number;
  readonly stateFormat: FloatFormat | null;
  readonly stateSize: number;
  /** Address of the Philox4x32-10 key schedule of the table's seed (80 bytes). */
  readonly schedule: number;
}

/** Allocations of a table, for freeing it. */
export function tableBlocks(t: WasmTable): number[] {
  return [t.weights, t.state, t.schedule].filter((a) => a !== 0);
}

function formatOf(storage: StorageName): FloatFormat | null {
  return storage === 'float32' ? null : resolveFormat(storage);
}

let nextId = 1;

/**
 * Allocates a table in linear memory: weights zero (the backend then writes `spec.init`),
 * optimizer state at each slot's initial value (rounded to nearest-even, saturating), as
 * `@halfstep/backend-js` does.
 * @throws RangeError for a bad spec (`checkTableSpec`); WasmMemoryLimitError when the table does
 *   not fit in the 4 GiB of WASM memory.
 */
export function allocateTable(k: Kernels, spec: TableSpec): WasmTable {
  checkTableSpec(spec);
  const { rows, dim, optimizer } = spec;
  const stateSize = optimizer.stateSize(dim);
  const stateStorage = optimizer.stateStorage;
  const weightBytes = rows * dim * bytesPerElement(spec.storage);
  const stateBytes = rows * stateSize * bytesPerElement(stateStorage);
  const what = `table "${spec.name}"`;
  const weights = k.allocator.alloc(
    weightBytes,
    `${what} weights (${rows} x ${dim} ${spec.storage})`,
  );
  let state = 0;
  let schedule = 0;
  try {
    if (stateBytes > 0) {
      state = k.allocator.alloc(
        stateBytes,
        `${what} optimizer state (${rows} x ${stateSize} ${stateStorage})`,
      );
    }
    schedule = k.allocator.alloc(80, `${what} key schedule`);
  } catch (error) {
    k.allocator.release(weights);
    if (state !== 0) k.allocator.release(state);
    throw error;
  }
  k.u8().fill(0, weights, weights + weightBytes);
  const stateFormat = formatOf(stateStorage);
  if (stateBytes > 0) {
    const u8 = k.u8();
    u8.fill(0, state, state + stateBytes);
    const view =
      stateFormat === null
        ? new Float32Array(u8.buffer, state, rows * stateSize)
        : new Uint16Array(u8.buffer, state, rows * stateSize);
    let offset = 0;
    for (const slot of optimizer.slots) {
      const width = slot.perElement ? dim : 1;
      if (slot.initial !== 0) {
        const code =
          stateFormat === null
            ? slot.initial
            : encodeScalar(stateFormat, slot.initial, { overflow: 'saturate' });
        for (let r = 0; r < rows; r++) {
          view.fill(code, r * stateSize + offset, r * stateSize + offset + width);
        }
      }
      offset += width;
    }
  }
  const seed = spec.seed;
  k.exports.philoxSchedule(
    Number(seed & 0xffffffffn),
    Number((seed >> 32n) & 0xffffffffn),
    10,
    schedule,
  );
  const handle = tableHandle(spec, nextId++, weightBytes, stateBytes);
  return {
    handle,
    weights,
    format: formatOf(spec.storage),
    state,
    stateFormat,
    stateSize,
    schedule,
  };
}

const luts = new Map<string, Float32Array>();

/** The float32 value of every code of `format`, computed once per format (codecs' decode). */
export function lutOf(format: FloatFormat): Float32Array {
  let lut = luts.get(format.name);
  if (!lut) {
    const codes = format.bits === 16 ? new Uint16Array(65536) : new Uint8Array(256);
    for (let i = 0; i < codes.length; i++) codes[i] = i;
    lut = decode(format, codes);
    luts.set(format.name, lut);
  }
  return lut;
}

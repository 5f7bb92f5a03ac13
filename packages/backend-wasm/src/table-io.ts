import type { TableData } from '@halfstep/backend';
import { roundNearestEven } from '@halfstep/codecs';
import type { WasmCodec } from './codec.js';
import type { Kernels } from './kernels.js';
import { lutOf, type WasmTable } from './table.js';

// Copies between host arrays and a table's bytes in linear memory. The backend checks the
// arguments and waits for updates in flight first; these only copy.

/** A view of the table's stored weights (valid until the memory grows). */
function weightsView(k: Kernels, t: WasmTable): Float32Array | Uint16Array | Uint8Array {
  const buffer = k.u8().buffer;
  const length = t.handle.rows * t.handle.dim;
  if (t.format === null) return new Float32Array(buffer, t.weights, length);
  if (t.format.bits === 16) return new Uint16Array(buffer, t.weights, length);
  return new Uint8Array(buffer, t.weights, length);
}

/**
 * The decoded float32 values of `count` rows: `rows[0 .. count)`, or rows 0 .. count - 1 when
 * `rows` is undefined; count x dim values, row-major.
 */
export function readTableRows(
  k: Kernels,
  t: WasmTable,
  rows: Int32Array | undefined,
  count: number,
): Float32Array {
  const dim = t.handle.dim;
  const result = new Float32Array(count * dim);
  const w = weightsView(k, t);
  const lut = t.format === null ? null : lutOf(t.format);
  for (let i = 0; i < count; i++) {
    const r = (rows === undefined ? i : rows[i]!) * dim;
    const o = i * dim;
    if (lut === null) result.set((w as Float32Array).subarray(r, r + dim), o);
    else for (let c = 0; c < dim; c++) result[o + c] = lut[w[r + c]!]!;
  }
  return result;
}

/**
 * Stores `values` (rows.length x dim, or every row when `rows` is undefined) into the table's
 * rows, rounded to nearest-even and saturating, as backend-js' `writeRows`.
 */
export function writeTableRows(
  k: Kernels,
  codec: WasmCodec,
  t: WasmTable,
  values: Float32Array,
  rows: Int32Array | undefined,
): void {
  const dim = t.handle.dim;
  let encoded: Float32Array | Uint16Array | Uint8Array = values;
  if (t.format !== null) {
    encoded = t.format.bits === 16 ? new Uint16Array(values.length) : new Uint8Array(values.length);
    codec.encodeTrusted(t.format, values, encoded, roundNearestEven, true);
  }
  const w = weightsView(k, t);
  if (rows === undefined) {
    w.set(encoded);
    return;
  }
  for (let i = 0; i < rows.length; i++) {
    w.set(encoded.subarray(i * dim, (i + 1) * dim), rows[i]! * dim);
  }
}

/** A copy of the table's stored bytes. */
export function exportTableData(k: Kernels, t: WasmTable): TableData {
  const u8 = k.u8();
  return {
    weights: u8.slice(t.weights, t.weights + t.handle.weightBytes),
    state: u8.slice(t.state, t.state + t.handle.stateBytes),
  };
}

/** Replaces the table's stored bytes (lengths checked by the caller). */
export function importTableData(k: Kernels, t: WasmTable, data: TableData): void {
  const u8 = k.u8();
  u8.set(data.weights, t.weights);
  if (t.handle.stateBytes > 0) u8.set(data.state, t.state);
}

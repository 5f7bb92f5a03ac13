import {
  bytesPerElement,
  checkRowNumbers,
  checkTableSpec,
  checkWriteRows,
  type TableData,
  type TableHandle,
  type TableSpec,
  tableHandle,
  type WriteRowsOptions,
} from '@halfstep/backend';
import { encode, encodeScalar, type FloatFormat, resolveFormat } from '@halfstep/codecs';
import type { GpuRunner } from './gpu.js';
import { formatValues, ROWS_LAYOUT } from './layouts.js';
import { GATHER_WGSL, SCATTER_WGSL } from './shaders/kernels.js';
import { GPU_OPTIMIZERS } from './update.js';

/** A table of the WebGPU backend: its weights and optimizer state in GPU buffers, nothing on the host. */
export interface GpuTable {
  readonly handle: TableHandle;
  /** The weights' format, or null for float32. */
  readonly format: FloatFormat | null;
  /** rows x dim codes packed little-endian into u32 words (float32: the bits). */
  readonly weights: GPUBuffer;
  /** The optimizer state's format, or null for float32. */
  readonly stateFormat: FloatFormat | null;
  /** rows x stateSize(dim) codes, packed the same way; null when the optimizer is stateless. */
  readonly state: GPUBuffer | null;
}

/** The float32 bits of a `@halfstep/optim` option, or false when it is not a float32 number. */
function isFloat32Option(value: unknown): boolean {
  return value === undefined || (typeof value === 'number' && Math.fround(value) === value);
}

/**
 * Whether the GPU fused update can run a table's optimizer: every optimizer of `@halfstep/optim`
 * (SGD, momentum, Adagrad, row-wise Adagrad, Adam; weight decay, max-norm, float32 or 16-bit
 * state). False for an optimizer of another kind, or one whose options are not float32 numbers
 * (not made by `@halfstep/optim`).
 */
export function runsOnGpu(spec: TableSpec): boolean {
  const opt = spec.optimizer;
  if (!GPU_OPTIMIZERS.has(opt.kind)) return false;
  return ['lr', 'l2', 'decoupled', 'maxNorm', 'momentum', 'eps', 'beta1', 'beta2'].every((name) =>
    isFloat32Option(opt.options[name]),
  );
}

function formatOf(storage: string): FloatFormat | null {
  return storage === 'float32' ? null : resolveFormat(storage as 'float16');
}

let nextId = 1;

/**
 * Allocates a table on the GPU: weights zero, optimizer state at each slot's initial value
 * (nearest-even, saturating, as the JS backend), uploaded once.
 * @throws RangeError for a bad spec (`checkTableSpec`), an optimizer the GPU update does not run
 *   (`runsOnGpu`), or weights or state larger than the device's storage binding limit.
 */
export function allocateTable(runner: GpuRunner, spec: TableSpec): GpuTable {
  checkTableSpec(spec);
  if (!runsOnGpu(spec)) {
    throw new RangeError(
      `table "${spec.name}": optimizer "${spec.optimizer.kind}" does not run on the WebGPU backend (only @halfstep/optim's sgd, momentum, adagrad, rowwise-adagrad and adam with float32 options)`,
    );
  }
  const { rows, dim, optimizer } = spec;
  const stateSize = optimizer.stateSize(dim);
  const weightBytes = rows * dim * bytesPerElement(spec.storage);
  const stateBytes = rows * stateSize * bytesPerElement(optimizer.stateStorage);
  const limits = runner.device.limits;
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  for (const [bytes, what] of [
    [weightBytes, 'weights'],
    [stateBytes, 'optimizer state'],
  ] as const) {
    if (Math.ceil(bytes / 4) * 4 > limit) {
      throw new RangeError(
        `table "${spec.name}": its ${what} (${bytes} bytes) exceed the device's storage buffer limit of ${limit} bytes`,
      );
    }
  }
  const format = formatOf(spec.storage);
  const stateFormat = formatOf(optimizer.stateStorage);
  const weights = runner.persistent(weightBytes);
  let state: GPUBuffer | null = null;
  if (stateBytes > 0) {
    state = runner.persistent(stateBytes);
    const initial = initialState(spec, stateSize, stateFormat);
    if (initial !== null) runner.upload(state, 0, initial);
  }
  const handle = tableHandle(spec, nextId++, weightBytes, stateBytes);
  return { handle, format, weights, stateFormat, state };
}

/** The initial optimizer state of every row as stored bytes, or null when it is all zeros. */
function initialState(
  spec: TableSpec,
  stateSize: number,
  stateFormat: FloatFormat | null,
): Uint8Array | null {
  const { rows, dim, optimizer } = spec;
  if (optimizer.slots.every((slot) => slot.initial === 0)) return null;
  const row =
    stateFormat === null
      ? new Float32Array(stateSize)
      : stateFormat.bits === 16
        ? new Uint16Array(stateSize)
        : new Uint8Array(stateSize);
  let offset = 0;
  for (const slot of optimizer.slots) {
    const width = slot.perElement ? dim : 1;
    const code =
      stateFormat === null
        ? slot.initial
        : encodeScalar(stateFormat, slot.initial, { overflow: 'saturate' });
    row.fill(code, offset, offset + width);
    offset += width;
  }
  const rowBytes = new Uint8Array(row.buffer);
  const all = new Uint8Array(rows * rowBytes.byteLength);
  for (let r = 0; r < rows; r++) all.set(rowBytes, r * rowBytes.byteLength);
  return all;
}

/**
 * Decodes rows on the GPU (the gather kernel: bit-identical to the JS backend's `readRows`) and
 * downloads them: `rows` (every row when omitted) x dim values.
 * @throws RangeError for a row out of range (the message of `checkRowNumbers`).
 */
export async function readRows(
  runner: GpuRunner,
  t: GpuTable,
  rows?: Int32Array,
): Promise<Float32Array> {
  const { handle } = t;
  const count = checkRowNumbers(handle, rows);
  const dim = handle.dim;
  const result = new Float32Array(count * dim);
  if (result.length === 0) return result;
  const list = new Uint32Array(count);
  for (let k = 0; k < count; k++) list[k] = rows === undefined ? k : rows[k]!;
  const params = ROWS_LAYOUT.block({ ...formatValues(t.format, true), rows: count, dim });
  const dst = runner.output(result.byteLength);
  runner.dispatch(
    'gather',
    () => GATHER_WGSL,
    [runner.input(params), runner.input(list), t.weights, dst],
    result.length,
  );
  result.set(new Float32Array(await runner.download(dst, result.byteLength)));
  return result;
}

/**
 * Stores float32 values into rows (every row when `rows` is omitted), rounded to nearest-even
 * and saturating as the JS backend's `writeRows`: encoded on the host with `@halfstep/codecs`
 * and uploaded (a whole table in one write; chosen rows through the scatter kernel, the last
 * value of a row given twice winning).
 * @throws RangeError for values of the wrong length, a row out of range or a non-finite value
 *   without `options.allowNonFinite` (`checkWriteRows`, the JS messages).
 */
export function writeRows(
  runner: GpuRunner,
  t: GpuTable,
  values: Float32Array,
  rows?: Int32Array,
  options?: WriteRowsOptions,
): void {
  const { handle } = t;
  const dim = handle.dim;
  const count = checkWriteRows(handle, values, rows, options);
  // Recorded work that reads the table must see its old values.
  if (runner.recording) runner.submitNow();
  if (rows === undefined) {
    runner.upload(t.weights, 0, encodeNearest(t.format, values));
    return;
  }
  // The last occurrence of each row, in order of first appearance.
  const last = new Map<number, number>();
  for (let k = 0; k < count; k++) last.set(rows[k]!, k);
  const list = Uint32Array.from(last.keys());
  const codes = new Uint32Array(list.length * dim);
  let j = 0;
  for (const k of last.values()) {
    const part = values.subarray(k * dim, (k + 1) * dim);
    if (t.format === null) codes.set(new Uint32Array(part.slice().buffer), j * dim);
    else codes.set(encodeNearest(t.format, part) as Uint16Array | Uint8Array, j * dim);
    j++;
  }
  if (codes.length === 0) return;
  const params = ROWS_LAYOUT.block({
    ...formatValues(t.format, true),
    rows: list.length,
    dim,
  });
  runner.dispatch(
    'scatter',
    () => SCATTER_WGSL,
    [runner.input(params), runner.input(list), runner.input(codes), t.weights],
    codes.length,
  );
  runner.submitNow();
}

/** Values rounded to nearest-even in `format` (saturating), or the float32 values themselves. */
function encodeNearest(format: FloatFormat | null, values: Float32Array): ArrayBufferView {
  if (format === null) return values;
  return encode(format, values, { rounding: { rule: 'nearest-even' }, overflow: 'saturate' });
}

/** Downloads the stored bytes of a table (weights, then state). */
export async function exportTable(runner: GpuRunner, t: GpuTable): Promise<TableData> {
  const { weightBytes, stateBytes } = t.handle;
  const weights = runner.copyOut(t.weights, weightBytes);
  const state = t.state === null ? null : runner.copyOut(t.state, stateBytes);
  const [, w, s] = await Promise.all([
    runner.submit(),
    runner.read(weights, weightBytes),
    state === null ? new ArrayBuffer(0) : runner.read(state, stateBytes),
  ]);
  return { weights: new Uint8Array(w), state: new Uint8Array(s) };
}

/**
 * Replaces the stored bytes of a table (uploads).
 * @throws RangeError when a length does not match the table (the JS messages).
 */
export function importTable(runner: GpuRunner, t: GpuTable, data: TableData): void {
  const { handle } = t;
  if (data.weights.byteLength !== handle.weightBytes) {
    throw new RangeError(
      `table "${handle.name}": weights have ${data.weights.byteLength} bytes, expected ${handle.weightBytes}`,
    );
  }
  if (data.state.byteLength !== handle.stateBytes) {
    throw new RangeError(
      `table "${handle.name}": optimizer state has ${data.state.byteLength} bytes, expected ${handle.stateBytes}`,
    );
  }
  if (runner.recording) runner.submitNow();
  runner.upload(t.weights, 0, data.weights);
  if (t.state !== null) runner.upload(t.state, 0, data.state);
}

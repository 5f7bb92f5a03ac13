import {
  type Backend,
  type BackendOptions,
  type BackendRegistration,
  type BackendStats,
  type BagInput,
  type BagUpdate,
  type BagUpdateResult,
  checkBagInput,
  checkBagUpdate,
  checkMatmul,
  checkRowsCols,
  initializeTable,
  type MatmulArgs,
  type Pooling,
  type StepResult,
  type TableData,
  type TableHandle,
  type TableSpec,
  type Tensor,
  type WriteRowsOptions,
} from '@halfstep/backend';
import type { FormatName, Overflow, RoundingStrategy } from '@halfstep/codecs';
import type { CounterSource, StochasticOptions } from '@halfstep/rounding';
import { type CheckedUpdate, groupAll, recordBackward } from './backward.js';
import { decodeOnGpu, encodeCounterStochasticOnGpu, encodeOnGpu } from './bulk.js';
import {
  chooseHalfConversion,
  type HalfConversionMode,
  type HalfConversionReport,
  halfConversionModeOf,
  hardwareFlavorOf,
} from './conversion.js';
import {
  recordAddBias,
  recordBceWithLogits,
  recordMatmul,
  recordRelu,
  recordSigmoid,
  recordSumRows,
} from './dense.js';
import { recordForward } from './forward.js';
import { GpuRunner } from './gpu.js';
import {
  type AdapterReport,
  checkWebGpuOptions,
  type GpuContext,
  openGpu,
  type WebGpuOptions,
} from './runtime.js';
import { BackwardResults } from './status.js';
import {
  allocateTable,
  exportTable,
  type GpuTable,
  importTable,
  readRows,
  runsOnGpu,
  writeRows,
} from './tables.js';
import { GpuTensors } from './tensors.js';

/** Recorded dispatches are submitted once this many accumulate without a submission. */
const RECORD_LIMIT = 256;

/**
 * The WebGPU backend (contract v2): tables and tensors live in GPU buffers, and nothing of them
 * is kept on the host. Kernels record compute passes into one command encoder, submitted at the
 * end of every `embeddingBagBackward`, before every upload into a buffer that recorded work
 * reads, and by every read; a training step (forward, dense ops, loss, backward and fused update)
 * moves only its batch up. Values come down only through `read`, `readRows`, `exportTable`,
 * the bulk `encode`/`decode`, and a backward's status words when its result is awaited (or at
 * `flush`). Results are bit-identical to `@halfstep/backend-js` (see the README for the few
 * float32-subnormal and transcendental exceptions).
 */
export class WebGpuBackend implements Backend {
  /** The registered name, "webgpu". */
  readonly name = 'webgpu';
  /** The adapter the backend runs on (as `GPUAdapter.info` reported it). */
  readonly adapter: AdapterReport;
  private readonly runner: GpuRunner;
  private readonly tensors: GpuTensors;
  private readonly results: BackwardResults;
  private readonly tables = new Map<number, GpuTable>();
  private conversion: HalfConversionReport;
  private disposed = false;

  /**
   * A backend on an open device, with integer float16 conversions until
   * `chooseHalfConversion` runs. `createWebGpuBackend` opens the device and chooses them.
   */
  constructor(context: GpuContext) {
    this.adapter = context.adapter;
    this.runner = new GpuRunner(context.device);
    this.tensors = new GpuTensors(this.runner);
    this.results = new BackwardResults(this.runner);
    this.conversion = Object.freeze({
      flavor: 'integer',
      hardware: hardwareFlavorOf(context.device),
      probe: null,
      race: null,
      reason: 'the constructor compiles integer kernels until chooseHalfConversion runs',
    });
  }

  /**
   * How the kernels convert float16 (`WebGpuOptions.halfConversion`): the flavor they are
   * compiled with, the probe and race behind the choice, and the reason in words.
   */
  get halfConversion(): HalfConversionReport {
    return this.conversion;
  }

  /**
   * Chooses how the kernels convert float16 from now on (`createWebGpuBackend` calls it with
   * `WebGpuOptions.halfConversion`): 'integer'; 'hardware' after the probe of `conversion.ts`
   * passes; 'auto', hardware when the probe passes and the race shows it faster. Results are
   * bit-identical in every flavor. Returns the new `halfConversion`.
   * @throws RangeError for another mode; Error when 'hardware' was asked for and the device's
   *   conversions differ on the probe (the flavor is then unchanged), or a GPU error.
   */
  async chooseHalfConversion(mode: HalfConversionMode): Promise<HalfConversionReport> {
    this.live();
    const adapter = JSON.stringify(this.adapter);
    this.conversion = await chooseHalfConversion(this.runner, halfConversionModeOf(mode), adapter);
    return this.conversion;
  }

  /** The `GPUDevice` the backend runs on (shared: do not destroy it; `dispose` does). */
  get device(): GPUDevice {
    return this.runner.device;
  }

  /**
   * Whether the GPU fused update runs a table's optimizer (every optimizer of `@halfstep/optim`
   * with float32 options); `createTable` rejects the others.
   */
  static runsOnGpu(spec: TableSpec): boolean {
    return runsOnGpu(spec);
  }

  /**
   * The GPU buffers of a table: its packed weights and its optimizer state (null when the
   * optimizer is stateless), for callers that dispatch their own work on them (benchmarks).
   * Work recorded by the backend is submitted first.
   */
  gpuBuffersOf(table: TableHandle): { weights: GPUBuffer; state: GPUBuffer | null } {
    const t = this.table(table);
    if (this.runner.recording) this.runner.submitNow();
    return { weights: t.weights, state: t.state };
  }

  private live(): void {
    if (this.disposed) throw new Error('backend "webgpu" was disposed');
  }

  private table(table: TableHandle): GpuTable {
    this.live();
    const t = this.tables.get(table?.id);
    if (!t || t.handle !== table)
      throw new Error(`table "${table?.name}" does not belong to this backend (or was disposed)`);
    return t;
  }

  private buffer(tensor: Tensor, name: string, atLeast = 0): GPUBuffer {
    this.live();
    return this.tensors.get(tensor, name, atLeast).buffer;
  }

  /** Submits what is recorded when it has grown long (bounds the transient buffers held). */
  private recorded(): void {
    if (this.runner.pendingDispatches >= RECORD_LIMIT) this.runner.submitNow();
  }

  stats(): BackendStats {
    const r = this.runner;
    return {
      uploadBytes: r.uploadBytes,
      downloadBytes: r.downloadBytes,
      submissions: r.submissions,
    };
  }

  async flush(): Promise<void> {
    this.live();
    await this.runner.submit();
    await this.runner.device.queue.onSubmittedWorkDone();
    const failure = this.runner.takeFailure();
    if (failure !== undefined) throw failure;
    await this.results.report();
  }

  tensor(valuesOrSize: Float32Array | number): Tensor {
    this.live();
    return this.tensors.create(valuesOrSize);
  }

  write(tensor: Tensor, values: Float32Array, offset?: number): void {
    this.live();
    this.tensors.write(tensor, values, offset);
  }

  async read(tensor: Tensor): Promise<Float32Array> {
    this.live();
    return this.tensors.read(tensor);
  }

  disposeTensor(tensor: Tensor): void {
    this.live();
    this.tensors.dispose(tensor);
  }

  createTable(spec: TableSpec): TableHandle {
    this.live();
    const t = allocateTable(this.runner, spec);
    this.tables.set(t.handle.id, t);
    initializeTable(this, t.handle, spec.init, spec.onProgress);
    return t.handle;
  }

  disposeTable(table: TableHandle): void {
    const t = this.table(table);
    this.tables.delete(table.id);
    if (this.runner.recording) this.runner.submitNow();
    t.weights.destroy();
    t.state?.destroy();
  }

  async readRows(table: TableHandle, rows?: Int32Array): Promise<Float32Array> {
    return readRows(this.runner, this.table(table), rows);
  }

  writeRows(
    table: TableHandle,
    values: Float32Array,
    rows?: Int32Array,
    options?: WriteRowsOptions,
  ): void {
    writeRows(this.runner, this.table(table), values, rows, options);
  }

  async exportTable(table: TableHandle): Promise<TableData> {
    return exportTable(this.runner, this.table(table));
  }

  importTable(table: TableHandle, data: TableData): void {
    importTable(this.runner, this.table(table), data);
  }

  /**
   * Bulk encode on the GPU (any rounding rule; a stochastic strategy's thresholds are drawn on
   * the host as `@halfstep/codecs` draws them): bit-identical to `@halfstep/codecs`' `encode`.
   */
  async encode(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow?: Overflow,
  ): Promise<void> {
    this.live();
    return encodeOnGpu(this.runner, format, src, out, rounding, overflow);
  }

  /**
   * Stochastic encode with counter-based random bits computed in WGSL (Philox4x32-10/7,
   * pcg-hash): bit-identical to `@halfstep/codecs`' `encode` with `stochastic(options)`; the
   * next unused word afterwards is `counter + ceil(src.length / P)` (see `bulk.ts`).
   * @throws the errors of `stochastic(options)` and of `encode`, before anything is dispatched.
   */
  async encodeCounterStochastic(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    options: StochasticOptions<CounterSource>,
    overflow?: Overflow,
  ): Promise<void> {
    this.live();
    return encodeCounterStochasticOnGpu(this.runner, format, src, out, options, overflow);
  }

  /** Bulk decode on the GPU (integer arithmetic): bit-identical to `@halfstep/codecs`' `decode`. */
  async decode(
    format: FormatName,
    codes: Uint16Array | Uint8Array,
    out: Float32Array,
  ): Promise<void> {
    this.live();
    return decodeOnGpu(this.runner, format, codes, out);
  }

  embeddingBagForward(table: TableHandle, input: BagInput, pooling: Pooling, out: Tensor): void {
    const t = this.table(table);
    checkBagInput(table.name, table.rows, input, pooling);
    const buffer = this.buffer(out, 'out', input.offsets.length * table.dim);
    recordForward(this.runner, t, input, pooling, buffer);
    this.recorded();
  }

  /**
   * The fused backward + update on the GPU (see `recordBackward`), submitted at once. Every
   * update is checked on the host first (same errors as the JS backend, thrown; nothing
   * recorded). The result is lazy: its status words are downloaded only when it is awaited or
   * at `flush`; it rejects with the JS backend's `BadInputError` for a non-finite gradient, row
   * sum or new weight or state under 'error', in which case no table of the call changed.
   */
  embeddingBagBackward(updates: readonly BagUpdate[]): StepResult<BagUpdateResult[]> {
    const tables = updates.map((u) => this.table(u.table));
    const seen = new Set<number>();
    for (const u of updates) {
      if (seen.has(u.table.id))
        throw new RangeError(`table "${u.table.name}" appears twice in one backward call`);
      seen.add(u.table.id);
    }
    for (const u of updates) checkBagUpdate(u);
    const checked: CheckedUpdate[] = updates.map((update, k) => ({
      update,
      table: tables[k]!,
      gradOutput: this.buffer(update.gradOutput, 'gradOutput'),
    }));
    let groups: ReturnType<typeof groupAll>;
    try {
      groups = groupAll(checked);
    } catch (error) {
      return this.results.rejected(error);
    }
    const { status, tables: read } = recordBackward(this.runner, checked, groups);
    this.runner.submitNow();
    return this.results.record(status, read);
  }

  matmul(args: MatmulArgs): void {
    this.live();
    checkMatmul(args);
    recordMatmul(this.runner, {
      ...args,
      a: this.buffer(args.a, 'a'),
      b: this.buffer(args.b, 'b'),
      c: this.buffer(args.c, 'c'),
    });
    this.recorded();
  }

  addBias(x: Tensor, bias: Tensor, rows: number, cols: number): void {
    checkRowsCols(rows, cols);
    const xb = this.buffer(x, 'x', rows * cols);
    recordAddBias(this.runner, xb, this.buffer(bias, 'bias', cols), rows, cols);
    this.recorded();
  }

  relu(x: Tensor, out: Tensor): void {
    const xb = this.buffer(x, 'x');
    recordRelu(this.runner, xb, xb, this.buffer(out, 'out', x.size), x.size);
    this.recorded();
  }

  reluBackward(grad: Tensor, x: Tensor, out: Tensor): void {
    const g = this.buffer(grad, 'grad');
    const xb = this.buffer(x, 'x', grad.size);
    recordRelu(this.runner, xb, g, this.buffer(out, 'out', grad.size), grad.size);
    this.recorded();
  }

  sigmoid(x: Tensor, out: Tensor): void {
    const xb = this.buffer(x, 'x');
    recordSigmoid(this.runner, xb, this.buffer(out, 'out', x.size), x.size);
    this.recorded();
  }

  bceWithLogits(logits: Tensor, labels: Tensor, loss: Tensor, grad?: Tensor): void {
    const x = this.buffer(logits, 'logits');
    const y = this.buffer(labels, 'labels', logits.size);
    const l = this.buffer(loss, 'loss', 1);
    const g = grad === undefined ? undefined : this.buffer(grad, 'grad', logits.size);
    recordBceWithLogits(this.runner, x, y, l, g, logits.size);
    this.recorded();
  }

  sumRows(x: Tensor, rows: number, cols: number, out: Tensor): void {
    checkRowsCols(rows, cols);
    const xb = this.buffer(x, 'x', rows * cols);
    recordSumRows(this.runner, xb, rows, cols, this.buffer(out, 'out', cols));
    this.recorded();
  }

  /** Frees every table, tensor and GPU buffer and destroys the device (so that Node can exit). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.runner.recording) this.runner.submitNow();
    for (const t of this.tables.values()) {
      t.weights.destroy();
      t.state?.destroy();
    }
    this.tables.clear();
    this.tensors.clear();
    this.results.clear();
    this.runner.destroy();
    this.runner.device.destroy();
  }
}

/**
 * Creates the WebGPU backend: opens a device (`navigator.gpu` in browsers, the `webgpu` package
 * in Node; see `openGpu`), reports its adapter in `backend.adapter` and chooses its float16
 * conversions (`options.halfConversion`, reported in `backend.halfConversion`).
 * @throws RangeError for a bad `halfConversion` (before any device is opened); Error saying why
 *   WebGPU cannot start (no WebGPU, no adapter, no device), or why 'hardware' conversions cannot
 *   be used.
 * @example
 * ```ts
 * import { createWebGpuBackend } from '@halfstep/backend-webgpu';
 *
 * const backend = await createWebGpuBackend(); // rejects with the reason where WebGPU cannot start
 * console.log(backend.adapter.vendor, backend.halfConversion);
 * ```
 */
export async function createWebGpuBackend(options: WebGpuOptions = {}): Promise<WebGpuBackend> {
  const checked = checkWebGpuOptions(options, 'createWebGpuBackend');
  const mode = halfConversionModeOf(checked.halfConversion);
  const backend = new WebGpuBackend(await openGpu(checked));
  try {
    await backend.chooseHalfConversion(mode);
  } catch (error) {
    backend.dispose();
    throw error;
  }
  return backend;
}

/** The WebGPU backend's registry entry: name "webgpu", priority 20 (above wasm and js). */
export const webgpuBackend: BackendRegistration = Object.freeze({
  name: 'webgpu',
  priority: 20,
  create: (options?: BackendOptions) => createWebGpuBackend(options as WebGpuOptions | undefined),
});

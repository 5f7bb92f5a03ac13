import {
  type Backend,
  type BackendOptions,
  type BackendRegistration,
  type BagInput,
  type BagUpdate,
  type BagUpdateResult,
  checkBagInput,
  checkBagUpdate,
  DOMAIN_WEIGHTS,
  type MatmulArgs,
  type Pooling,
  randomBitsFor,
  type TableData,
  type TableHandle,
  type TableSpec,
  tableDomain,
} from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import {
  checkCodeArray,
  checkEncodeArguments,
  checkFloat32Array,
  checkLength,
  type FloatFormat,
  type FormatName,
  type Overflow,
  type RoundingStrategy,
  resolveFormat,
} from '@halfstep/codecs';
import { aggregateRows } from './aggregate.js';
import { checkAtLeast } from './checks.js';
import { GpuRunner } from './gpu.js';
import { formatParams, PARAM_WORDS, RULE_NUMBERS } from './params.js';
import { type AdapterReport, type GpuContext, openGpu, type WebGpuOptions } from './runtime.js';
import { ADD_BIAS_WGSL, MATMUL_WGSL, RELU_WGSL, SUM_ROWS_WGSL } from './shaders/dense.js';
import {
  DECODE_WGSL,
  ENCODE_WGSL,
  FORWARD_WGSL,
  GATHER_WGSL,
  SGD_WGSL,
} from './shaders/kernels.js';

/** Thresholds per `fillThresholds` call, as `@halfstep/codecs` asks for them. */
const CHUNK = 4096;

/** The float32 bit pattern of `value` rounded to float32. */
function f32Bits(value: number): number {
  return new Uint32Array(Float32Array.of(value).buffer)[0];
}

/** The GPU copy of a table's weights. */
interface GpuTable {
  readonly format: FloatFormat | null;
  /** Null when the weights exceed the device's storage binding limit: the table stays on the CPU. */
  readonly buffer: GPUBuffer | null;
  /** The CPU copy changed since the last upload. */
  stale: boolean;
  /** A GPU update of this table is in flight. */
  busy: boolean;
}

/**
 * The WebGPU backend. Every table lives twice: in an internal `@halfstep/backend-js` backend
 * (the CPU copy, which the synchronous `Backend` methods use, because they cannot wait for the
 * GPU) and in a GPU buffer (codes packed into u32 words), which the `...Async` kernels use. Each
 * side is brought up to date before the other reads it; results are bit-identical to the JS
 * backend either way.
 */
export class WebGpuBackend implements Backend {
  /** The registered name, "webgpu". */
  readonly name = 'webgpu';
  /** The adapter the backend runs on (as `GPUAdapter.info` reported it). */
  readonly adapter: AdapterReport;
  private readonly cpu = new JsBackend();
  private readonly runner: GpuRunner;
  private readonly tables = new Map<number, GpuTable>();
  private disposed = false;

  constructor(context: GpuContext) {
    this.adapter = context.adapter;
    this.runner = new GpuRunner(context.device);
  }

  private gpuTable(table: TableHandle): GpuTable {
    if (this.disposed) throw new Error('backend "webgpu" was disposed');
    const t = this.tables.get(table?.id);
    if (!t)
      throw new Error(`table "${table?.name}" does not belong to this backend (or was disposed)`);
    if (t.busy) throw new Error(`table "${table.name}" has a GPU update in flight; await it first`);
    return t;
  }

  /** Uploads the CPU copy of a table's weights when it changed since the last upload. */
  private sync(table: TableHandle, t: GpuTable): GPUBuffer {
    if (t.buffer === null) throw new Error(`table "${table.name}" has no GPU copy`);
    if (!t.stale) return t.buffer;
    const bytes = this.cpu.exportTable(table).weights;
    const padded = new Uint8Array(t.buffer.size);
    padded.set(bytes);
    this.runner.device.queue.writeBuffer(t.buffer, 0, padded);
    t.stale = false;
    return t.buffer;
  }

  /** Allocates the table in the CPU copy and a GPU buffer for its weights. Runs on the CPU. */
  createTable(spec: TableSpec): TableHandle {
    if (this.disposed) throw new Error('backend "webgpu" was disposed');
    const handle = this.cpu.createTable(spec);
    const format = spec.storage === 'float32' ? null : resolveFormat(spec.storage);
    const limits = this.runner.device.limits;
    const fits =
      handle.weightBytes <= limits.maxStorageBufferBindingSize &&
      handle.weightBytes <= limits.maxBufferSize;
    const buffer = fits ? this.runner.persistent(handle.weightBytes) : null;
    this.tables.set(handle.id, { format, buffer, stale: true, busy: false });
    return handle;
  }

  /** Frees both copies. */
  disposeTable(table: TableHandle): void {
    const t = this.gpuTable(table);
    this.cpu.disposeTable(table);
    t.buffer?.destroy();
    this.tables.delete(table.id);
  }

  /** Runs on the CPU (the JS backend's `readRows`). */
  readRows(table: TableHandle, rows?: Int32Array, out?: Float32Array): Float32Array {
    this.gpuTable(table);
    return this.cpu.readRows(table, rows, out);
  }

  /**
   * `readRows` on the GPU copy: `rows` (every row when omitted) x dim float32 values decoded by
   * the gather kernel (integer decode: bit-identical to the JS backend's `readRows`).
   * @throws RangeError for a row out of range or an `out` of the wrong length (same messages).
   */
  async readRowsAsync(
    table: TableHandle,
    rows?: Int32Array,
    out?: Float32Array,
  ): Promise<Float32Array> {
    const t = this.gpuTable(table);
    const dim = table.dim;
    const count = rows === undefined ? table.rows : rows.length;
    const result = out ?? new Float32Array(count * dim);
    if (result.length !== count * dim) {
      throw new RangeError(
        `out: expected ${count} rows x ${dim} = ${count * dim} values, got ${result.length}`,
      );
    }
    const list = new Uint32Array(count);
    for (let k = 0; k < count; k++) {
      const row = rows === undefined ? k : rows[k];
      if (!(row >= 0 && row < table.rows)) {
        throw new RangeError(
          `table "${table.name}": rows[${k}] = ${row} is out of range [0, ${table.rows})`,
        );
      }
      list[k] = row;
    }
    if (t.buffer === null) return this.cpu.readRows(table, rows, result);
    if (result.length === 0) return result;
    const weights = this.sync(table, t);
    const params = formatParams(t.format, true);
    params[16] = count;
    params[17] = dim;
    const r = this.runner;
    const dst = r.output(result.byteLength);
    r.dispatch(
      'gather',
      () => GATHER_WGSL,
      [r.input(params), r.input(list), weights, dst],
      result.length,
    );
    const staging = r.copyOut(dst, result.byteLength);
    await r.submit();
    result.set(new Float32Array(await r.read(staging, result.byteLength)));
    return result;
  }

  /** Runs on the CPU (the JS backend's `writeRows`); the GPU copy is refreshed before its next use. */
  writeRows(table: TableHandle, values: Float32Array, rows?: Int32Array): void {
    const t = this.gpuTable(table);
    this.cpu.writeRows(table, values, rows);
    t.stale = true;
  }

  /** Runs on the CPU (the JS backend's `exportTable`). */
  exportTable(table: TableHandle): TableData {
    this.gpuTable(table);
    return this.cpu.exportTable(table);
  }

  /** Runs on the CPU (the JS backend's `importTable`); the GPU copy is refreshed before its next use. */
  importTable(table: TableHandle, data: TableData): void {
    const t = this.gpuTable(table);
    this.cpu.importTable(table, data);
    t.stale = true;
  }

  /** Runs on the CPU (`@halfstep/codecs`' `encode`); `encodeAsync` is the GPU version. */
  encode(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow?: Overflow,
  ): void {
    this.cpu.encode(format, src, out, rounding, overflow);
  }

  /** Runs on the CPU (`@halfstep/codecs`' `decode`); `decodeAsync` is the GPU version. */
  decode(format: FormatName, codes: Uint16Array | Uint8Array, out: Float32Array): void {
    this.cpu.decode(format, codes, out);
  }

  /**
   * `encode` on the GPU: the codes of `src` in `format` with `rounding` (any rule; a stochastic
   * strategy's thresholds are drawn on the CPU in chunks of 4096, exactly as `@halfstep/codecs`
   * draws them, then uploaded) and `overflow` (default 'infinity'), written into `out`.
   * Bit-identical to `@halfstep/codecs`' `encode`; same errors for bad arguments.
   */
  async encodeAsync(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow: Overflow = 'infinity',
  ): Promise<void> {
    if (this.disposed) throw new Error('backend "webgpu" was disposed');
    const call = checkEncodeArguments(format, src, { out, rounding, overflow });
    const fmt = call.format;
    const strategy = call.rounding;
    const n = src.length;
    if (n === 0) return;
    const stochastic = strategy.rule === 'stochastic';
    const thresholds = new Uint32Array(stochastic ? n : 1);
    if (stochastic) {
      for (let start = 0; start < n; start += CHUNK) {
        strategy.fillThresholds!(thresholds.subarray(start, Math.min(n, start + CHUNK)), fmt);
      }
    }
    const params = formatParams(fmt, overflow === 'saturate');
    params[16] = n;
    params[17] = RULE_NUMBERS[strategy.rule];
    params[18] = stochastic ? 1 : 0;
    const r = this.runner;
    const per = 32 / fmt.bits;
    const words = Math.ceil(n / per);
    const dst = r.output(words * 4);
    r.dispatch(
      'encode',
      () => ENCODE_WGSL,
      [r.input(params), r.input(src), r.input(thresholds), dst],
      words,
    );
    const staging = r.copyOut(dst, out.byteLength);
    await r.submit();
    const bytes = await r.read(staging, out.byteLength);
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(new Uint8Array(bytes));
  }

  /** `decode` on the GPU (integer arithmetic only): bit-identical to `@halfstep/codecs`' `decode`. */
  async decodeAsync(
    format: FormatName,
    codes: Uint16Array | Uint8Array,
    out: Float32Array,
  ): Promise<void> {
    if (this.disposed) throw new Error('backend "webgpu" was disposed');
    const fmt = resolveFormat(format);
    checkCodeArray(codes, fmt, 'src');
    checkFloat32Array(out, 'out');
    checkLength(out, codes.length, 'out');
    const n = codes.length;
    if (n === 0) return;
    const params = formatParams(fmt, false);
    params[16] = n;
    const r = this.runner;
    const dst = r.output(n * 4);
    r.dispatch('decode', () => DECODE_WGSL, [r.input(params), r.input(codes), dst], n);
    const staging = r.copyOut(dst, n * 4);
    await r.submit();
    const bytes = await r.read(staging, n * 4);
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(new Uint8Array(bytes));
  }

  /** Runs on the CPU (the JS backend's kernel); `embeddingBagForwardAsync` is the GPU version. */
  embeddingBagForward(table: TableHandle, input: BagInput, pooling: Pooling): Float32Array {
    this.gpuTable(table);
    return this.cpu.embeddingBagForward(table, input, pooling);
  }

  /**
   * `embeddingBagForward` on the GPU: one invocation per (bag, column) sums the bag's decoded
   * rows (times the per-sample weights) in position order in float32, as the JS reference does;
   * mean pooling's division by the bag size runs on the CPU after the readback (WGSL's division
   * is not correctly rounded). Same checks and errors as the JS backend, before any GPU work.
   */
  async embeddingBagForwardAsync(
    table: TableHandle,
    input: BagInput,
    pooling: Pooling,
  ): Promise<Float32Array> {
    const t = this.gpuTable(table);
    checkBagInput(table.name, table.rows, input, pooling);
    const { indices, offsets, perSampleWeights } = input;
    const dim = table.dim;
    const bags = offsets.length;
    const n = indices.length;
    if (t.buffer === null) return this.cpu.embeddingBagForward(table, input, pooling);
    const out = new Float32Array(bags * dim);
    if (out.length === 0) return out;
    const weights = this.sync(table, t);
    const params = formatParams(t.format, true);
    params[16] = bags;
    params[17] = dim;
    params[18] = n;
    params[19] = perSampleWeights === undefined ? 0 : 1;
    const r = this.runner;
    const dst = r.output(out.byteLength);
    r.dispatch(
      'forward',
      () => FORWARD_WGSL,
      [
        r.input(params),
        weights,
        r.input(indices),
        r.input(offsets),
        r.input(perSampleWeights ?? new Float32Array(1)),
        dst,
      ],
      bags * dim,
    );
    const staging = r.copyOut(dst, out.byteLength);
    await r.submit();
    out.set(new Float32Array(await r.read(staging, out.byteLength)));
    if (pooling === 'mean') {
      for (let b = 0; b < bags; b++) {
        const size = (b + 1 < bags ? offsets[b + 1] : n) - offsets[b];
        if (size === 0) continue;
        for (let c = 0; c < dim; c++) out[b * dim + c] = out[b * dim + c] / size;
      }
    }
    return out;
  }

  /** Runs on the CPU (the JS backend's fused update); the GPU copies are refreshed before their next use. */
  embeddingBagBackward(updates: readonly BagUpdate[]): BagUpdateResult[] {
    const tables = updates.map((u) => this.gpuTable(u.table));
    const results = this.cpu.embeddingBagBackward(updates);
    for (const t of tables) t.stale = true;
    return results;
  }

  /** Whether the GPU runs a table's fused update: plain SGD (no decay, no max-norm), any storage. */
  static runsOnGpu(table: TableHandle): boolean {
    const opt = table.optimizer;
    const lr = Number(opt.options.lr);
    return (
      opt.kind === 'sgd' &&
      !opt.writesGradient &&
      opt.maxNorm === 0 &&
      !opt.options.weightDecay &&
      !opt.options.decoupled &&
      !opt.options.l2 &&
      Math.fround(lr) === lr
    );
  }

  /**
   * `embeddingBagBackward` with the update on the GPU for the tables `runsOnGpu` accepts: every
   * update is checked first (same errors as the JS backend; a throw changes nothing), duplicate
   * rows are summed on the CPU in the reference order, the summed rows are uploaded, and one
   * invocation per element computes `w - lr x g` in float32 and stores it rounded (nearest-even
   * or stochastic with the counter-based thresholds, saturating). The updated rows are then read
   * back into the CPU copy. Other tables run on the CPU. All GPU work goes in one submission.
   */
  async embeddingBagBackwardAsync(updates: readonly BagUpdate[]): Promise<BagUpdateResult[]> {
    const tables = updates.map((u) => this.gpuTable(u.table));
    const seen = new Set<number>();
    for (const u of updates) {
      if (seen.has(u.table.id))
        throw new RangeError(`table "${u.table.name}" appears twice in one backward call`);
      seen.add(u.table.id);
    }
    for (const u of updates) checkBagUpdate(u);
    const onGpu = updates.map(
      (u, k) => tables[k].buffer !== null && WebGpuBackend.runsOnGpu(u.table),
    );
    const aggregated = updates.map((u, k) => (onGpu[k] ? aggregateRows(u) : null));
    const cpuUpdates = updates.filter((_, k) => !onGpu[k]);
    const cpuResults = cpuUpdates.length > 0 ? this.cpu.embeddingBagBackward(cpuUpdates) : [];
    const r = this.runner;
    const pending: { k: number; staging: GPUBuffer; bytes: number }[] = [];
    for (let k = 0; k < updates.length; k++) {
      const agg = aggregated[k];
      if (agg === null) {
        tables[k].stale = true;
        continue;
      }
      const { table, step } = updates[k];
      const t = tables[k];
      const weights = this.sync(table, t);
      const count = agg.rows.length;
      if (count === 0) continue;
      const params = formatParams(t.format, true);
      params[16] = count;
      params[17] = table.dim;
      params[18] = new Uint32Array(Float32Array.of(Number(table.optimizer.options.lr)).buffer)[0];
      params[19] = step >>> 0;
      params[20] = tableDomain(table.index, DOMAIN_WEIGHTS);
      params[21] = Number(table.seed & 0xffffffffn);
      params[22] = Number((table.seed >> 32n) & 0xffffffffn);
      params[23] = t.format !== null && table.rounding === 'stochastic' ? 1 : 0;
      params[24] = t.format === null ? 0 : randomBitsFor(t.format.mantissaBits);
      const paramBuffer = r.input(params);
      const rowBuffer = r.input(agg.rows);
      const elements = count * table.dim;
      r.dispatch(
        'sgd',
        () => SGD_WGSL,
        [paramBuffer, rowBuffer, r.input(agg.grads), weights],
        elements,
      );
      const dst = r.output(elements * 4);
      r.dispatch('gather', () => GATHER_WGSL, [paramBuffer, rowBuffer, weights, dst], elements);
      pending.push({ k, staging: r.copyOut(dst, elements * 4), bytes: elements * 4 });
      t.busy = true;
    }
    const submitted = r.submit();
    try {
      await submitted;
      for (const { k, staging, bytes } of pending) {
        const values = new Float32Array(await r.read(staging, bytes));
        const rows = Int32Array.from(aggregated[k]!.rows);
        // Re-encoding a decoded code with nearest-even gives the same code back.
        this.cpu.writeRows(updates[k].table, values, rows);
      }
    } catch (error) {
      // The CPU copy is the reference: drop what the GPU copy may hold.
      for (const { k } of pending) tables[k].stale = true;
      throw error;
    } finally {
      for (const { k } of pending) tables[k].busy = false;
    }
    let c = 0;
    return updates.map((_, k) => {
      const agg = aggregated[k];
      if (agg === null) return cpuResults[c++];
      return { updatedRows: agg.rows.length, skippedRows: agg.skipped };
    });
  }

  /** Runs on the CPU (the JS reference's loop order). */
  matmul(args: MatmulArgs): void {
    this.cpu.matmul(args);
  }
  /** Runs on the CPU. */
  addBias(x: Float32Array, bias: Float32Array, rows: number, cols: number): void {
    this.cpu.addBias(x, bias, rows, cols);
  }
  /** Runs on the CPU. */
  relu(x: Float32Array, out: Float32Array): void {
    this.cpu.relu(x, out);
  }
  /** Runs on the CPU. */
  reluBackward(grad: Float32Array, x: Float32Array, out: Float32Array): void {
    this.cpu.reluBackward(grad, x, out);
  }
  /** Runs on the CPU. */
  sigmoid(x: Float32Array, out: Float32Array): void {
    this.cpu.sigmoid(x, out);
  }
  /** Runs on the CPU. */
  bceWithLogits(logits: Float32Array, labels: Float32Array, grad?: Float32Array): number {
    return this.cpu.bceWithLogits(logits, labels, grad);
  }
  /** Runs on the CPU. */
  sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
    this.cpu.sumRows(x, rows, cols, out);
  }

  /** Runs one dense kernel over float32 inputs and copies its first `count` results into `out`. */
  private async dense(
    key: string,
    source: string,
    params: Uint32Array,
    inputs: readonly Float32Array[],
    initial: Float32Array | null,
    out: Float32Array,
    count: number,
    invocations: number,
  ): Promise<void> {
    if (this.disposed) throw new Error('backend "webgpu" was disposed');
    if (count === 0) return;
    const r = this.runner;
    const bytes = count * 4;
    const dst = r.output(bytes, initial?.subarray(0, count));
    r.dispatch(
      key,
      () => source,
      [r.input(params), ...inputs.map((x) => r.input(x)), dst],
      invocations,
    );
    const staging = r.copyOut(dst, bytes);
    await r.submit();
    out.set(new Float32Array(await r.read(staging, bytes)));
  }

  /**
   * `matmul` on the GPU, one invocation per element of C with the JS reference's summation order
   * (products rounded, then added for p ascending). Same checks and errors as the JS backend.
   * Bit-identical except where a float32 subnormal (|x| < 2^-126) is flushed to zero by the GPU.
   */
  async matmulAsync(args: MatmulArgs): Promise<void> {
    const { m, n, k, a, b, c } = args;
    for (const [v, name] of [
      [m, 'm'],
      [n, 'n'],
      [k, 'k'],
    ] as const) {
      if (!Number.isInteger(v) || v < 0)
        throw new RangeError(`${name}: expected a non-negative integer, got ${v}`);
    }
    checkAtLeast(a, m * k, 'a');
    checkAtLeast(b, k * n, 'b');
    checkAtLeast(c, m * n, 'c');
    const beta = Math.fround(args.beta ?? 0);
    const params = new Uint32Array(PARAM_WORDS);
    params.set([m, n, k, args.transA ? 1 : 0, args.transB ? 1 : 0], 16);
    params[21] = f32Bits(args.alpha ?? 1);
    params[22] = f32Bits(beta);
    params[23] = beta === 0 ? 0 : 1;
    const result = c.subarray(0, m * n);
    await this.dense(
      'matmul',
      MATMUL_WGSL,
      params,
      [a.subarray(0, m * k), b.subarray(0, k * n)],
      result,
      result,
      m * n,
      m * n,
    );
  }

  /** `addBias` on the GPU: x[r, c] = x[r, c] + bias[c] in float32 (same subnormal caveat). */
  async addBiasAsync(
    x: Float32Array,
    bias: Float32Array,
    rows: number,
    cols: number,
  ): Promise<void> {
    checkAtLeast(x, rows * cols, 'x');
    checkAtLeast(bias, cols, 'bias');
    const params = new Uint32Array(PARAM_WORDS);
    params.set([rows * cols, cols], 16);
    const view = x.subarray(0, rows * cols);
    await this.dense(
      'addBias',
      ADD_BIAS_WGSL,
      params,
      [bias],
      view,
      view,
      view.length,
      view.length,
    );
  }

  /** `relu` on the GPU, on bit patterns: bit-identical (NaN and -0 give +0). */
  async reluAsync(x: Float32Array, out: Float32Array): Promise<void> {
    checkAtLeast(out, x.length, 'out');
    const params = new Uint32Array(PARAM_WORDS);
    params[16] = x.length;
    await this.dense('relu', RELU_WGSL, params, [x, x], null, out, x.length, x.length);
  }

  /** `reluBackward` on the GPU, on bit patterns: bit-identical. */
  async reluBackwardAsync(grad: Float32Array, x: Float32Array, out: Float32Array): Promise<void> {
    checkAtLeast(x, grad.length, 'x');
    checkAtLeast(out, grad.length, 'out');
    const params = new Uint32Array(PARAM_WORDS);
    params[16] = grad.length;
    await this.dense(
      'relu',
      RELU_WGSL,
      params,
      [x.subarray(0, grad.length), grad],
      null,
      out,
      grad.length,
      grad.length,
    );
  }

  /** `sumRows` on the GPU: one invocation per column adds the rows in ascending order from +0. */
  async sumRowsAsync(
    x: Float32Array,
    rows: number,
    cols: number,
    out: Float32Array,
  ): Promise<void> {
    checkAtLeast(x, rows * cols, 'x');
    checkAtLeast(out, cols, 'out');
    const params = new Uint32Array(PARAM_WORDS);
    params.set([rows, cols], 16);
    if (rows === 0) {
      out.fill(0, 0, cols);
      return;
    }
    await this.dense(
      'sumRows',
      SUM_ROWS_WGSL,
      params,
      [x.subarray(0, rows * cols)],
      null,
      out,
      cols,
      cols,
    );
  }

  /** Frees every table and GPU buffer and destroys the device (so that Node can exit). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.tables.values()) t.buffer?.destroy();
    this.tables.clear();
    this.cpu.dispose();
    this.runner.destroy();
    this.runner.device.destroy();
  }
}

/**
 * Creates the WebGPU backend: opens a device (`navigator.gpu` in browsers, the `webgpu` package
 * in Node; see `openGpu`) and reports its adapter in `backend.adapter`.
 * @throws Error saying why WebGPU cannot start (no WebGPU, no adapter, no device).
 */
export async function createWebGpuBackend(options: WebGpuOptions = {}): Promise<WebGpuBackend> {
  return new WebGpuBackend(await openGpu(options));
}

/** The WebGPU backend's registry entry: name "webgpu", priority 20 (above wasm and js). */
export const webgpuBackend: BackendRegistration = Object.freeze({
  name: 'webgpu',
  priority: 20,
  create: (options?: BackendOptions) => createWebGpuBackend(options as WebGpuOptions | undefined),
});

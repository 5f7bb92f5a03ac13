import {
  type Backend,
  type BackendOptions,
  type BackendRegistration,
  type BagInput,
  type BagUpdate,
  type BagUpdateResult,
  checkBagInput,
  checkBagUpdate,
  type MatmulArgs,
  nonFiniteRowGradient,
  type Pooling,
  type TableData,
  type TableHandle,
  type TableSpec,
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
import { type CounterEngine, pcgHash } from '@halfstep/rng';
import {
  type CounterSource,
  elementsPerWord,
  type StochasticOptions,
  stochastic,
} from '@halfstep/rounding';
import { aggregateRows } from './aggregate.js';
import { checkAtLeast } from './checks.js';
import {
  chooseHalfConversion,
  type HalfConversionMode,
  type HalfConversionReport,
  halfConversionModeOf,
  hardwareFlavorOf,
} from './conversion.js';
import { GpuRunner } from './gpu.js';
import { groupRows, type RowGroups } from './group.js';
import { formatParams, PARAM_WORDS, RULE_NUMBERS } from './params.js';
import {
  ALL_ON_GPU,
  type CpuThresholds,
  cpuThresholdsOf,
  maxWorkOf,
  measureSmallWork,
  type SmallWorkKernel,
  type SmallWorkMeasureOptions,
  type SmallWorkReport,
} from './placement.js';
import { type AdapterReport, type GpuContext, openGpu, type WebGpuOptions } from './runtime.js';
import { A, AGGREGATE_WGSL } from './shaders/aggregate.js';
import { ADD_BIAS_WGSL, MATMUL_WGSL, RELU_WGSL, SUM_ROWS_WGSL } from './shaders/dense.js';
import { DECODE_WGSL, ENCODE_WGSL, FORWARD_WGSL, GATHER_WGSL } from './shaders/kernels.js';
import { GPU_OPTIMIZERS, updateKernel } from './update.js';

/** Thresholds per `fillThresholds` call, as `@halfstep/codecs` asks for them. */
const CHUNK = 4096;

/** The float32 bit pattern of `value` rounded to float32. */
function f32Bits(value: number): number {
  return new Uint32Array(Float32Array.of(value).buffer)[0];
}

/** The pcg-hash engine's salt of counter high word `high`: `@halfstep/rng`'s `pcgSalt`. */
function pcgSaltOf(k0: number, k1: number, high: number): number {
  return pcgHash(pcgHash(pcgHash(high) ^ k1) ^ k0);
}

/**
 * A copy of an update whose arrays the caller may reuse once the call returns: what the CPU copy
 * replays later.
 */
function snapshot(update: BagUpdate): BagUpdate {
  const { input } = update;
  const copy: BagInput =
    input.perSampleWeights === undefined
      ? { indices: input.indices.slice(), offsets: input.offsets.slice() }
      : {
          indices: input.indices.slice(),
          offsets: input.offsets.slice(),
          perSampleWeights: input.perSampleWeights.slice(),
        };
  return { ...update, input: copy, gradOutput: update.gradOutput.slice() };
}

/** Status words of one backward call: word 0 the abort flag, then two per update. */
const NO_BAD_ROW = 0xffffffff;

/** The GPU copy of a table's weights. */
interface GpuTable {
  readonly format: FloatFormat | null;
  /** Null when the weights exceed the device's storage binding limit: the table stays on the CPU. */
  readonly buffer: GPUBuffer | null;
  /** The optimizer state's format, or null for float32. */
  readonly stateFormat: FloatFormat | null;
  /** The optimizer state (null when stateless or when the weights have no GPU copy). */
  readonly state: GPUBuffer | null;
  /** The CPU copy changed since the last upload. */
  stale: boolean;
  /**
   * GPU updates applied to the GPU copy but not yet to the CPU copy, in order (the GPU copy is
   * then the newer one; never together with `stale`).
   */
  pending: BagUpdate[];
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
  private readonly handles = new Map<number, TableHandle>();
  /**
   * Every how many GPU updates of a table `embeddingBagBackwardAsync` reads the whole table back
   * into the CPU copy (`WebGpuOptions.readbackEvery`; 0 and 1: after every update).
   */
  readonly readbackEvery: number;
  private conversion: HalfConversionReport;
  private disposed = false;
  private thresholds: CpuThresholds = ALL_ON_GPU;
  private readonly counts = { gpu: 0, cpu: 0 };

  /**
   * A backend on an open device, with integer float16 conversions (`chooseHalfConversion`
   * changes them) and the thresholds of `options.smallWorkOnCpu` (0 for 'measure' until
   * `measureCpuThresholds` runs); `options.readbackEvery` as in `WebGpuOptions` (the device
   * options are `openGpu`'s). `createWebGpuBackend` does all of it.
   * @throws RangeError for a `readbackEvery` that is not a non-negative integer or a bad
   *   `smallWorkOnCpu`.
   */
  constructor(context: GpuContext, options: WebGpuOptions = {}) {
    this.readbackEvery = readbackEveryOf(options);
    this.thresholds = cpuThresholdsOf(options.smallWorkOnCpu);
    this.adapter = context.adapter;
    this.runner = new GpuRunner(context.device);
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
    if (this.disposed) throw new Error('backend "webgpu" was disposed');
    const adapter = JSON.stringify(this.adapter);
    this.conversion = await chooseHalfConversion(this.runner, halfConversionModeOf(mode), adapter);
    return this.conversion;
  }

  /** The `GPUDevice` the backend runs on (shared: do not destroy it; `dispose` does). */
  get device(): GPUDevice {
    return this.runner.device;
  }

  /**
   * The work per kernel below which its `...Async` calls run on the CPU copy instead of the GPU
   * (`WebGpuOptions.smallWorkOnCpu`: kernels it leaves out, and every kernel until
   * `measureCpuThresholds` runs for `'measure'`, have 0: always the GPU).
   */
  get cpuThresholds(): CpuThresholds {
    return this.thresholds;
  }

  /**
   * How many `...Async` calls of the kernels of `SmallWorkKernel` the placement rule sent to the
   * GPU and to the CPU copy since the backend was created (a snapshot). Calls that only the CPU
   * can serve (a table without a GPU copy, a counter beyond its engine's range) and those of
   * `measureCpuThresholds` are not counted.
   */
  get placements(): { readonly gpu: number; readonly cpu: number } {
    return { ...this.counts };
  }

  /**
   * Times the CPU and the GPU path of every `SmallWorkKernel` on this device (`measureSmallWork`:
   * sizes growing by 4x until the GPU wins twice in a row, up to `options.maxWork`, default
   * 2^20; about 5 s on SwiftShader) and makes the thresholds found the backend's `cpuThresholds`.
   * @throws RangeError for a bad `options.maxWork`; Error for a GPU error (the thresholds are
   *   then left as they were).
   */
  async measureCpuThresholds(options: SmallWorkMeasureOptions = {}): Promise<SmallWorkReport> {
    maxWorkOf(options);
    const before = this.thresholds;
    const counts = { ...this.counts };
    this.thresholds = ALL_ON_GPU;
    try {
      const report = await measureSmallWork(this, options);
      this.thresholds = report.thresholds;
      return report;
    } catch (error) {
      this.thresholds = before;
      throw error;
    } finally {
      Object.assign(this.counts, counts);
    }
  }

  /**
   * Whether a call of `kernel` with `work` units runs on the CPU copy (below its threshold, and
   * `movable`), counted in `placements` either way.
   */
  private onCpu(kernel: SmallWorkKernel, work: number, movable = true): boolean {
    if (this.disposed) throw new Error('backend "webgpu" was disposed');
    const cpu = movable && work < this.thresholds[kernel];
    this.counts[cpu ? 'cpu' : 'gpu']++;
    return cpu;
  }

  /**
   * The GPU buffers of a table: its packed weights and its optimizer state (null when the table
   * has none), uploaded from the CPU copy first when that changed (after GPU updates they hold
   * the newest values). For callers that dispatch their own work on the table's memory
   * (benchmarks); call `invalidateGpuCopy` after writing.
   * @throws Error when the table has no GPU copy (larger than the device's binding limit).
   */
  gpuBuffersOf(table: TableHandle): { weights: GPUBuffer; state: GPUBuffer | null } {
    const t = this.gpuTable(table);
    return { weights: this.sync(table, t), state: t.state };
  }

  /**
   * Marks a table's GPU copy as out of date, so that it is uploaded again from the CPU copy before
   * its next GPU use: after outside work wrote the buffers of `gpuBuffersOf`. GPU updates not yet
   * in the CPU copy are replayed on it first, so none is lost.
   */
  invalidateGpuCopy(table: TableHandle): void {
    const t = this.gpuTable(table);
    this.replay(t);
    t.stale = true;
  }

  /**
   * Brings the CPU copy of `table` (every table when omitted) up to date with its GPU copy after
   * GPU updates: one readback of the whole table (weights and optimizer state), which drops the
   * queue of updates the synchronous methods would otherwise replay. Tables already up to date
   * cost nothing.
   * @throws Error for a table of another backend, one with a GPU update in flight, or a GPU error
   *   (the CPU copy then replays the queue instead).
   */
  async syncCpuCopyAsync(table?: TableHandle): Promise<void> {
    if (this.disposed) throw new Error('backend "webgpu" was disposed');
    if (table !== undefined) this.gpuTable(table);
    const handles = table === undefined ? [...this.handles.values()] : [table];
    const due = handles.filter((h) => this.gpuTable(h).pending.length > 0);
    if (due.length === 0) return;
    const reads = due.map((h) => this.recordReadback(h, this.gpuTable(h)));
    for (const h of due) this.gpuTable(h).busy = true;
    try {
      await this.runner.submit();
      for (const read of reads) await read.read();
    } catch (error) {
      for (const read of reads) read.discard();
      for (const h of due) {
        const t = this.tables.get(h.id)!;
        t.busy = false;
        this.replay(t);
        t.stale = true;
      }
      throw error;
    }
    for (const h of due) this.tables.get(h.id)!.busy = false;
  }

  /**
   * `exportTable` from the GPU copy: the table's stored bytes read back from the GPU when GPU
   * updates changed it (the CPU copy takes them too, see `syncCpuCopyAsync`), else the CPU copy's.
   */
  async exportTableAsync(table: TableHandle): Promise<TableData> {
    await this.syncCpuCopyAsync(table);
    return this.cpu.exportTable(table);
  }

  /**
   * Records a copy of the table's GPU buffers into readback buffers: `read` (once the batch is
   * submitted) writes them into the CPU copy and empties the queue; `discard` frees them unread.
   */
  private recordReadback(
    table: TableHandle,
    t: GpuTable,
  ): { read(): Promise<void>; discard(): void } {
    const r = this.runner;
    const weights = r.copyOutOwn(t.buffer!, table.weightBytes);
    const state = t.state === null ? null : r.copyOutOwn(t.state, table.stateBytes);
    return {
      read: async () => {
        // The mapped bytes go straight into the CPU copy (importTable copies them).
        let st = new Uint8Array(0);
        if (state !== null) {
          await r.readOwn(state, table.stateBytes, (data) => {
            st = data.slice();
          });
        }
        await r.readOwn(weights, table.weightBytes, (data) => {
          this.cpu.importTable(table, { weights: data, state: st });
        });
        t.pending = [];
      },
      discard: () => {
        weights.destroy();
        state?.destroy();
      },
    };
  }

  /** Applies the GPU updates the CPU copy has not seen, in order, with the reference kernels. */
  private replay(t: GpuTable): void {
    if (t.pending.length === 0) return;
    const updates = t.pending;
    t.pending = [];
    for (const update of updates) this.cpu.embeddingBagBackward([update]);
  }

  /** The table, with its CPU copy brought up to date (for the synchronous methods). */
  private cpuTable(table: TableHandle): GpuTable {
    const t = this.gpuTable(table);
    this.replay(t);
    return t;
  }

  private gpuTable(table: TableHandle): GpuTable {
    if (this.disposed) throw new Error('backend "webgpu" was disposed');
    const t = this.tables.get(table?.id);
    if (!t)
      throw new Error(`table "${table?.name}" does not belong to this backend (or was disposed)`);
    if (t.busy) throw new Error(`table "${table.name}" has a GPU update in flight; await it first`);
    return t;
  }

  /** Uploads the CPU copy of a table (weights and state) when it changed since the last upload. */
  private sync(table: TableHandle, t: GpuTable): GPUBuffer {
    if (t.buffer === null) throw new Error(`table "${table.name}" has no GPU copy`);
    if (!t.stale) return t.buffer;
    const data = this.cpu.exportTable(table);
    const padded = new Uint8Array(t.buffer.size);
    padded.set(data.weights);
    this.runner.device.queue.writeBuffer(t.buffer, 0, padded);
    if (t.state !== null) {
      const state = new Uint8Array(t.state.size);
      state.set(data.state);
      this.runner.device.queue.writeBuffer(t.state, 0, state);
    }
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
    const stateFits =
      handle.stateBytes <= limits.maxStorageBufferBindingSize &&
      handle.stateBytes <= limits.maxBufferSize;
    const buffer = fits && stateFits ? this.runner.persistent(handle.weightBytes) : null;
    const stateStorage = spec.optimizer.stateStorage;
    const stateFormat = stateStorage === 'float32' ? null : resolveFormat(stateStorage);
    const state =
      buffer !== null && handle.stateBytes > 0 ? this.runner.persistent(handle.stateBytes) : null;
    this.tables.set(handle.id, {
      format,
      buffer,
      stateFormat,
      state,
      stale: true,
      busy: false,
      pending: [],
    });
    this.handles.set(handle.id, handle);
    return handle;
  }

  /** Frees both copies. */
  disposeTable(table: TableHandle): void {
    const t = this.gpuTable(table);
    this.cpu.disposeTable(table);
    t.buffer?.destroy();
    t.state?.destroy();
    this.tables.delete(table.id);
    this.handles.delete(table.id);
  }

  /**
   * Runs on the CPU (the JS backend's `readRows`), after replaying on the CPU copy the GPU updates
   * it has not seen (`syncCpuCopyAsync` reads them back instead).
   */
  readRows(table: TableHandle, rows?: Int32Array, out?: Float32Array): Float32Array {
    this.cpuTable(table);
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
    if (this.onCpu('readRows', result.length, t.pending.length === 0)) {
      return this.cpu.readRows(table, rows, result);
    }
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

  /**
   * Runs on the CPU (the JS backend's `writeRows`, after the replay `readRows` describes); the GPU
   * copy is refreshed before its next use.
   */
  writeRows(table: TableHandle, values: Float32Array, rows?: Int32Array): void {
    const t = this.cpuTable(table);
    this.cpu.writeRows(table, values, rows);
    t.stale = true;
  }

  /**
   * Runs on the CPU (the JS backend's `exportTable`, after the replay `readRows` describes);
   * `exportTableAsync` reads the GPU copy instead.
   */
  exportTable(table: TableHandle): TableData {
    this.cpuTable(table);
    return this.cpu.exportTable(table);
  }

  /** Runs on the CPU (the JS backend's `importTable`); the GPU copy is refreshed before its next use. */
  importTable(table: TableHandle, data: TableData): void {
    const t = this.gpuTable(table);
    this.cpu.importTable(table, data);
    // Every byte was replaced: the GPU updates not yet replayed no longer matter.
    t.pending = [];
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
    if (this.onCpu('encode', src.length)) {
      return this.cpu.encode(format, src, out, rounding, overflow);
    }
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

  /**
   * Stochastic `encode` on the GPU with counter-based random bits computed in WGSL: the codes of
   * `src` in `format`, bit-identical to `@halfstep/codecs`' `encode(format, src, { out,
   * rounding: stochastic(options), overflow })` with a new strategy (`@halfstep/rounding`'s
   * counter mapping: element i uses slot i mod P of word `counter + floor(i / P)`, P =
   * `elementsPerWord(bits)`). Philox4x32-10, Philox4x32-7 and pcg-hash engines run on the GPU;
   * any other engine with `fillAt` has its thresholds drawn on the CPU (as `encodeAsync`).
   * The next unused word afterwards is `counter + ceil(src.length / P)`.
   * @throws the errors of `stochastic(options)`, of `encode` for bad arguments, and of the
   *   engine's `fillAt` for a counter beyond its range, before anything is dispatched.
   */
  async encodeCounterStochasticAsync(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    options: StochasticOptions<CounterSource>,
    overflow: Overflow = 'infinity',
  ): Promise<void> {
    if (this.disposed) throw new Error('backend "webgpu" was disposed');
    const strategy = stochastic(options);
    const call = checkEncodeArguments(format, src, { out, rounding: strategy, overflow });
    const fmt = call.format;
    const bits = strategy.bitsFor(fmt);
    const n = src.length;
    const random = options.random as Partial<CounterSource>;
    if (random.engine === undefined) {
      // A stream engine (not what the type allows): its words are drawn on the CPU.
      return this.encodeAsync(format, src, out, strategy, overflow);
    }
    const engine = random.engine as Partial<CounterEngine> & Pick<CounterEngine, 'fillAt'>;
    const per = elementsPerWord(bits);
    const counter = BigInt(options.random.counter ?? 0);
    if (n > 0) {
      try {
        engine.fillAt(counter + BigInt(Math.ceil(n / per) - 1), new Uint32Array(1));
      } catch {
        // Words beyond the engine's range: the reference decides (it may wrap, or throw its
        // own error), on the CPU.
        const codes = out.slice();
        this.cpu.encode(format, src, codes, stochastic(options), overflow);
        out.set(codes);
        return;
      }
    }
    const name = engine.name;
    const key = engine.key;
    if (
      key === undefined ||
      (name !== 'philox4x32-10' && name !== 'philox4x32-7' && name !== 'pcg-hash')
    ) {
      return this.encodeAsync(format, src, out, strategy, overflow);
    }
    if (this.onCpu('encode', n)) {
      return this.cpu.encode(format, src, out, stochastic(options), overflow);
    }
    if (n === 0) return;
    const params = formatParams(fmt, overflow === 'saturate');
    params[16] = n;
    params[17] = RULE_NUMBERS.stochastic;
    params[19] = bits;
    params[20] = per;
    params[21] = key[0] >>> 0;
    params[22] = key[1] >>> 0;
    if (name === 'pcg-hash') {
      params[18] = 3;
      const high = Number((counter >> 32n) & 0xffffffffn);
      params[24] = Number(counter & 0xffffffffn);
      params[25] = pcgSaltOf(key[0], key[1], high);
      params[26] = pcgSaltOf(key[0], key[1], (high + 1) >>> 0);
    } else {
      params[18] = 2;
      params[23] = name === 'philox4x32-10' ? 10 : 7;
      const block = counter >> 2n;
      for (let w = 0; w < 4; w++) params[24 + w] = Number((block >> BigInt(32 * w)) & 0xffffffffn);
      params[28] = Number(counter & 3n);
    }
    const r = this.runner;
    const words = Math.ceil(n / (32 / fmt.bits));
    const dst = r.output(words * 4);
    r.dispatch(
      'encode',
      () => ENCODE_WGSL,
      [r.input(params), r.input(src), r.input(new Uint32Array(1)), dst],
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
    if (this.onCpu('decode', codes.length)) return this.cpu.decode(format, codes, out);
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

  /**
   * Runs on the CPU (the JS backend's kernel, after the replay `readRows` describes);
   * `embeddingBagForwardAsync` is the GPU version.
   */
  embeddingBagForward(table: TableHandle, input: BagInput, pooling: Pooling): Float32Array {
    this.cpuTable(table);
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
    if (this.onCpu('forward', n * dim, t.pending.length === 0)) {
      return this.cpu.embeddingBagForward(table, input, pooling);
    }
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

  /**
   * Runs on the CPU (the JS backend's fused update, after the replay `readRows` describes); the GPU
   * copies are refreshed before their next use.
   */
  embeddingBagBackward(updates: readonly BagUpdate[]): BagUpdateResult[] {
    const tables = updates.map((u) => this.cpuTable(u.table));
    const results = this.cpu.embeddingBagBackward(updates);
    for (const t of tables) t.stale = true;
    return results;
  }

  /**
   * Whether the GPU runs a table's fused update: every optimizer of `@halfstep/optim` (SGD,
   * momentum, Adagrad, row-wise Adagrad, Adam; weight decay, max-norm, float32 or 16-bit state),
   * every storage, nearest-even or stochastic rounding. False only for an optimizer of another
   * kind, or one whose options are not float32 numbers (not made by `@halfstep/optim`).
   */
  static runsOnGpu(table: TableHandle): boolean {
    const opt = table.optimizer;
    if (!GPU_OPTIMIZERS.has(opt.kind)) return false;
    for (const name of ['lr', 'l2', 'decoupled', 'maxNorm', 'momentum', 'eps', 'beta1', 'beta2']) {
      const value = opt.options[name];
      if (value === undefined) continue;
      if (typeof value !== 'number' || Math.fround(value) !== value) return false;
    }
    return true;
  }

  /**
   * `embeddingBagBackward` with the update on the GPU for the tables `runsOnGpu` accepts. Every
   * update is checked first (same errors as the JS backend). The CPU only groups the lookups by
   * row (integer work: the distinct rows ascending and each row's positions ascending); on the
   * GPU an aggregation kernel sums each row's gradient in the reference order (times the
   * per-sample weights, or divided by the bag size for mean pooling, correctly rounded) and
   * checks it finite, then one invocation per row segment applies the optimizer in the float32
   * arithmetic of `@halfstep/optim` (weight decay, the rule with its state, max-norm; correctly
   * rounded division and square root; Adam's bias corrections from `stepScalars` on the CPU)
   * and stores the weights rounded (nearest-even or stochastic with the counter-based
   * thresholds, saturating) and 16-bit state stochastically rounded in its own random-bit
   * domain. A row whose sum is not finite is left alone under 'skip-rows'; under 'error' no
   * table of the call changes and the promise rejects with the reference's error (first table,
   * first row). All GPU work goes in one submission, and only a few status words come back: the
   * GPU copy then holds the newest values, and the CPU copy catches up when a synchronous method
   * needs the table (it replays the queued updates) or, on every `readbackEvery`-th update of the
   * table, by a readback of the whole table in the same submission. Other tables (and mean pooling with a bag size that float32 cannot hold,
   * above 2^24 lookups) run on the CPU.
   * @throws the JS backend's errors for bad input, and Error for a GPU error (the CPU copy then
   *   holds the table, without the failed update).
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
    const groups: (RowGroups | null)[] = updates.map((u, k) =>
      tables[k].buffer !== null && WebGpuBackend.runsOnGpu(u.table) ? groupRows(u) : null,
    );
    const onCpu = updates.filter((_, k) => groups[k] === null);
    if (onCpu.length === updates.length) return this.embeddingBagBackward(updates);
    for (let k = 0; k < updates.length; k++) if (groups[k] === null) this.replay(tables[k]);
    // Nothing may change when any table of the call fails: the CPU tables' sums are checked
    // first (their first error stops the GPU updates too), and written only after the GPU's.
    let cpuError: { k: number; error: unknown } | null = null;
    for (let k = 0; k < updates.length && cpuError === null; k++) {
      if (groups[k] !== null || (updates[k].nonFinite ?? 'error') !== 'error') continue;
      try {
        aggregateRows(updates[k]);
      } catch (error) {
        cpuError = { k, error };
      }
    }
    const r = this.runner;
    const statusWords = new Uint32Array(1 + 2 * updates.length);
    statusWords[0] = cpuError === null ? 0 : 1;
    for (let k = 0; k < updates.length; k++) statusWords[2 + 2 * k] = NO_BAD_ROW;
    const status = r.output(statusWords.byteLength, statusWords);
    const kernels: (() => void)[] = [];
    const onGpu: number[] = [];
    for (let k = 0; k < updates.length; k++) {
      const g = groups[k];
      if (g === null) continue;
      onGpu.push(k);
      const count = g.rows.length;
      if (count === 0) continue;
      const { table, step, gradOutput } = updates[k];
      const t = tables[k];
      const weights = this.sync(table, t);
      const dim = table.dim;
      const params = new Uint32Array(PARAM_WORDS);
      params[A.count] = count;
      params[A.dim] = dim;
      params[A.mode] = g.mode;
      params[A.stride] = g.stride;
      params[A.policyError] = (updates[k].nonFinite ?? 'error') === 'error' ? 1 : 0;
      params[A.statusBase] = 1 + 2 * k;
      const rows = r.input(g.rows);
      const grads = r.output(count * dim * 4);
      // Every aggregation runs before every update: the updates read the abort flag.
      r.dispatch(
        'aggregate',
        () => AGGREGATE_WGSL,
        [
          r.input(params),
          r.input(g.starts),
          r.input(g.entries),
          r.input(gradOutput),
          grads,
          rows,
          status,
        ],
        count * dim,
      );
      const kernel = updateKernel(table, count, step);
      kernels.push(() =>
        r.dispatch(
          kernel.key,
          kernel.source,
          kernel.bindings(
            r.input(kernel.params),
            rows,
            grads,
            weights,
            status,
            t.state,
            kernel.stateParams && r.input(kernel.stateParams),
          ),
          kernel.invocations,
        ),
      );
    }
    for (const record of kernels) record();
    const staging = r.copyOut(status, statusWords.byteLength);
    // Each table's update either comes back with the whole table (every `readbackEvery`
    // updates) or is queued for a replay, copied now: the caller may reuse its arrays.
    const queued = new Map<number, BagUpdate>();
    const readbacks: ReturnType<WebGpuBackend['recordReadback']>[] = [];
    for (const k of onGpu) {
      if (groups[k]!.rows.length === 0) continue;
      const t = tables[k];
      if (t.pending.length + 1 >= this.readbackEvery) {
        readbacks.push(this.recordReadback(updates[k].table, t));
      } else {
        queued.set(k, snapshot(updates[k]));
      }
    }
    for (const k of onGpu) tables[k].busy = true;
    let words: Uint32Array;
    try {
      await r.submit();
      words = new Uint32Array(await r.read(staging, statusWords.byteLength));
      // After a failed call the GPU copy is as before it, which the readbacks then hold.
      if (words[0] === 0) for (const [k, update] of queued) tables[k].pending.push(update);
      for (const readback of readbacks) await readback.read();
    } catch (error) {
      // The GPU copy may hold part of the update: the CPU copy (with the queue replayed) is the
      // reference again.
      for (const readback of readbacks) readback.discard();
      for (const k of onGpu) {
        tables[k].busy = false;
        this.replay(tables[k]);
        tables[k].stale = true;
      }
      throw error;
    }
    for (const k of onGpu) tables[k].busy = false;
    for (let k = 0; words[0] !== 0 && k < updates.length; k++) {
      if (cpuError !== null && cpuError.k === k) throw cpuError.error;
      const bad = words[2 + 2 * k];
      if (groups[k] !== null && bad !== NO_BAD_ROW) {
        throw nonFiniteRowGradient(updates[k].table.name, groups[k]!.rows[bad]);
      }
    }
    const cpuResults = onCpu.length > 0 ? this.cpu.embeddingBagBackward(onCpu) : [];
    let c = 0;
    return updates.map((_, k) => {
      const g = groups[k];
      if (g === null) {
        tables[k].stale = true;
        return cpuResults[c++];
      }
      const skipped = words[1 + 2 * k];
      return { updatedRows: g.rows.length - skipped, skippedRows: skipped };
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
    if (this.onCpu('matmul', m * n * k)) return this.cpu.matmul(args);
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
    if (this.onCpu('elementwise', rows * cols)) return this.cpu.addBias(x, bias, rows, cols);
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
    if (this.onCpu('elementwise', x.length)) return this.cpu.relu(x, out);
    const params = new Uint32Array(PARAM_WORDS);
    params[16] = x.length;
    await this.dense('relu', RELU_WGSL, params, [x, x], null, out, x.length, x.length);
  }

  /** `reluBackward` on the GPU, on bit patterns: bit-identical. */
  async reluBackwardAsync(grad: Float32Array, x: Float32Array, out: Float32Array): Promise<void> {
    checkAtLeast(x, grad.length, 'x');
    checkAtLeast(out, grad.length, 'out');
    if (this.onCpu('elementwise', grad.length)) return this.cpu.reluBackward(grad, x, out);
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
    if (this.onCpu('elementwise', rows * cols)) return this.cpu.sumRows(x, rows, cols, out);
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
    for (const t of this.tables.values()) {
      t.buffer?.destroy();
      t.state?.destroy();
    }
    this.tables.clear();
    this.handles.clear();
    this.cpu.dispose();
    this.runner.destroy();
    this.runner.device.destroy();
  }
}

/** `options.readbackEvery`, default 16. @throws RangeError unless a non-negative integer. */
function readbackEveryOf(options: WebGpuOptions): number {
  const every = options.readbackEvery ?? 16;
  if (!Number.isInteger(every) || every < 0) {
    throw new RangeError(`readbackEvery: expected a non-negative integer, got ${every}`);
  }
  return every;
}

/**
 * Creates the WebGPU backend: opens a device (`navigator.gpu` in browsers, the `webgpu` package
 * in Node; see `openGpu`), reports its adapter in `backend.adapter` and chooses its float16
 * conversions (`options.halfConversion`, reported in `backend.halfConversion`).
 * @throws RangeError for a bad `readbackEvery`, `halfConversion` or `smallWorkOnCpu` (before any
 *   device is opened); Error saying why WebGPU cannot start (no WebGPU, no adapter, no device),
 *   or why 'hardware' conversions cannot be used.
 */
export async function createWebGpuBackend(options: WebGpuOptions = {}): Promise<WebGpuBackend> {
  readbackEveryOf(options);
  cpuThresholdsOf(options.smallWorkOnCpu);
  const mode = halfConversionModeOf(options.halfConversion);
  const backend = new WebGpuBackend(await openGpu(options), options);
  try {
    await backend.chooseHalfConversion(mode);
    if (options.smallWorkOnCpu === 'measure') await backend.measureCpuThresholds();
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

import {
  type Backend,
  type BackendRegistration,
  type BagInput,
  type BagUpdate,
  type BagUpdateResult,
  checkBagInput,
  checkBagUpdate,
  checkRowNumbers,
  DOMAIN_STATE,
  DOMAIN_WEIGHTS,
  type MatmulArgs,
  nonFiniteRowGradient,
  type Pooling,
  randomBitsFor,
  type TableData,
  type TableHandle,
  type TableSpec,
  tableDomain,
} from '@halfstep/backend';
import { bceWithLogits, sigmoid } from '@halfstep/backend-js';
import {
  type FloatFormat,
  type FormatName,
  type Overflow,
  type RoundingStrategy,
  roundNearestEven,
} from '@halfstep/codecs';
import { WasmCodec } from './codec.js';
import { checkLength, checkMatmul } from './dense.js';
import { type Kernels, type LoadOptions, loadKernels, type WasmBuild } from './kernels.js';
import { Scratch } from './scratch.js';
import { allocateTable, lutOf, STORAGE_KINDS, tableBlocks, type WasmTable } from './table.js';
import { HogwildPool, UpdatePool } from './threads.js';
import { UPDATE_PARAMS_BYTES, writeUpdateParams } from './update-params.js';

// Scratch slots (see Scratch): 0-2 codec, 3.. backend.
const S_A = 3;
const S_B = 4;
const S_C = 5;
const S_PACKED = 6;
const S_ACC = 7;
/** A forward batch: indices, offsets, weights (S_INDICES + 0..2). */
const S_INDICES = 8;
const S_OUT = 11;
const S_UPDATE = 14;
/** Per-worker update scratch: slots S_WORKER + w. */
const S_WORKER = 15;
/** Per-table scratch of a backward call: slots S_TABLE + 8 * t + (0..7); above the workers'. */
const S_TABLE = 1024;
// Slots of the update's parameter block that differ between threads (assembly/embedding.ts P_*).
const P_ROWS = 12;
const P_GRADS = 13;
const P_COUNT = 14;
const P_SCRATCH = 21;

/**
 * Bytes of the fused update's scratch for rows of `width` values (assembly/embedding.ts'
 * applyUpdate): the weight row, the state row and the random words (width + 16 words: Philox
 * writes whole groups of 16), then the thresholds, which the register-resident SGD path also
 * uses to spill 16 words of one 8-element chunk: at least 16 words, whatever the width.
 */
function updateScratchBytes(width: number): number {
  return (3 * width + 16 + Math.max(width, 16)) * 4;
}
// Scratch slots of a hogwild worker's own Scratch: the job descriptor, the work area, then two
// per table (aggregated rows + gradients, parameter block).
const J_DESCRIPTOR = 0;
const J_WORK = 1;
const J_TABLE = 2;
/** Hogwild: a backward call waits for any update handed off more than this many calls ago. */
const HOGWILD_MAX_LAG = 4;

/**
 * How threads share the fused update. 'reproducible': each table's distinct rows are split
 * across the threads, bit-identical for every thread count. 'hogwild': each backward call is
 * one job, run by an idle worker thread while the caller goes on (or by the caller when every
 * worker is busy), so that jobs overlap and race on shared rows (see the README's "Threads").
 */
export type ThreadMode = 'reproducible' | 'hogwild';

/**
 * The WASM backend: tables in WebAssembly linear memory, kernels in AssemblyScript (SIMD build
 * where the platform validates it). Results are bit-identical to `@halfstep/backend-js` (see the
 * README for the one exception, `sigmoid`/`bceWithLogits`, which run the reference's JS code).
 */
export class WasmBackend implements Backend {
  readonly name = 'wasm';
  /** Which binary runs: 'simd' or 'scalar'. */
  readonly build: WasmBuild;
  /** Why the SIMD build is not running (undefined when it is). */
  readonly simdRejected: string | undefined;
  /** The kernels and their memory (for advanced use and tests). */
  readonly kernels: Kernels;
  readonly codec: WasmCodec;
  private readonly scratch: Scratch;
  private readonly tables = new Map<number, WasmTable>();
  private readonly encoders = new Map<string, number>();
  private readonly params: number;
  private readonly pool: UpdatePool | undefined;
  private readonly hogwild: HogwildPool | undefined;
  /** Per hogwild worker: the buffers of the job it runs (reused only while it is idle). */
  private readonly jobScratch: Scratch[];
  private readonly workerParams: number[];
  private readonly minRowsPerThread: number;
  private disposed = false;

  /** The threads' mode: 'reproducible' (default) or 'hogwild' (see {@link ThreadMode}). */
  readonly mode: ThreadMode;

  /**
   * A backend on `kernels`. With an `UpdatePool` (and shared-memory kernels) the fused update of
   * a table is split by rows across the pool's workers and the calling thread (reproducible
   * mode); with a `HogwildPool` each backward call's update is handed to an idle worker
   * (hogwild mode). `mode` defaults to 'hogwild' for a `HogwildPool`, else 'reproducible'; a
   * 'hogwild' backend without a pool runs everything on the calling thread.
   */
  constructor(
    kernels: Kernels,
    pool?: UpdatePool | HogwildPool,
    minRowsPerThread = 64,
    mode: ThreadMode = pool instanceof HogwildPool ? 'hogwild' : 'reproducible',
  ) {
    this.kernels = kernels;
    this.mode = mode;
    this.build = kernels.build;
    this.simdRejected = kernels.simdRejected;
    this.scratch = new Scratch(kernels);
    this.codec = new WasmCodec(kernels, this.scratch);
    this.params = kernels.allocator.alloc(UPDATE_PARAMS_BYTES, 'update parameters');
    this.pool = pool instanceof UpdatePool ? pool : undefined;
    this.hogwild = pool instanceof HogwildPool ? pool : undefined;
    this.minRowsPerThread = minRowsPerThread;
    this.workerParams = Array.from({ length: this.pool?.workers ?? 0 }, () =>
      kernels.allocator.alloc(UPDATE_PARAMS_BYTES, 'update parameters'),
    );
    this.jobScratch = Array.from(
      { length: this.hogwild?.workers ?? 0 },
      () => new Scratch(kernels),
    );
  }

  /** Threads that run the fused update: 1, or the pool's workers plus the calling thread. */
  get threads(): number {
    return (this.pool?.workers ?? this.hogwild?.workers ?? 0) + 1;
  }

  /**
   * Waits until every update handed to a worker thread (hogwild mode) is stored. `readRows`,
   * `writeRows`, `exportTable`, `importTable`, `disposeTable` and `dispose` call it; the forward
   * pass and the backward pass do not (they race with the updates in flight). A no-op in
   * reproducible mode, whose calls return with their updates stored.
   * @throws the first error a worker thread reported.
   */
  flush(): void {
    this.hogwild?.settle();
  }

  private get(table: TableHandle): WasmTable {
    if (this.disposed) throw new Error('backend "wasm" was disposed');
    const t = this.tables.get(table?.id);
    if (!t || t.handle !== table) {
      throw new Error(`table "${table?.name}" does not belong to this backend (or was disposed)`);
    }
    return t;
  }

  createTable(spec: TableSpec): TableHandle {
    if (this.disposed) throw new Error('backend "wasm" was disposed');
    const t = allocateTable(this.kernels, spec);
    this.tables.set(t.handle.id, t);
    return t.handle;
  }

  disposeTable(table: TableHandle): void {
    const t = this.get(table);
    this.flush();
    for (const address of tableBlocks(t)) this.kernels.allocator.release(address);
    this.tables.delete(table.id);
  }

  /** A view of the table's weights in linear memory (valid until the memory grows). */
  private weightsView(t: WasmTable): Float32Array | Uint16Array | Uint8Array {
    const buffer = this.kernels.u8().buffer;
    const length = t.handle.rows * t.handle.dim;
    if (t.format === null) return new Float32Array(buffer, t.weights, length);
    if (t.format.bits === 16) return new Uint16Array(buffer, t.weights, length);
    return new Uint8Array(buffer, t.weights, length);
  }

  readRows(table: TableHandle, rows?: Int32Array, out?: Float32Array): Float32Array {
    const t = this.get(table);
    this.flush();
    const dim = table.dim;
    const count = checkRowNumbers(table, rows);
    const result = out ?? new Float32Array(count * dim);
    if (result.length !== count * dim) {
      throw new RangeError(
        `out: expected ${count} rows x ${dim} = ${count * dim} values, got ${result.length}`,
      );
    }
    const w = this.weightsView(t);
    const lut = t.format === null ? null : lutOf(t.format);
    for (let k = 0; k < count; k++) {
      const row = rows === undefined ? k : rows[k];
      const r = row * dim;
      const o = k * dim;
      if (lut === null) result.set((w as Float32Array).subarray(r, r + dim), o);
      else for (let c = 0; c < dim; c++) result[o + c] = lut[w[r + c]];
    }
    return result;
  }

  writeRows(table: TableHandle, values: Float32Array, rows?: Int32Array): void {
    const t = this.get(table);
    this.flush();
    const dim = table.dim;
    const count = rows === undefined ? table.rows : rows.length;
    if (!(values instanceof Float32Array) || values.length !== count * dim) {
      throw new RangeError(
        `values: expected a Float32Array of ${count} rows x ${dim} = ${count * dim} values`,
      );
    }
    checkRowNumbers(table, rows);
    let encoded: Float32Array | Uint16Array | Uint8Array = values;
    if (t.format !== null) {
      encoded =
        t.format.bits === 16 ? new Uint16Array(values.length) : new Uint8Array(values.length);
      this.codec.encodeTrusted(t.format, values, encoded, roundNearestEven, true);
    }
    const w = this.weightsView(t);
    if (rows === undefined) {
      w.set(encoded);
      return;
    }
    for (let k = 0; k < count; k++) w.set(encoded.subarray(k * dim, (k + 1) * dim), rows[k] * dim);
  }

  exportTable(table: TableHandle): TableData {
    const t = this.get(table);
    this.flush();
    const u8 = this.kernels.u8();
    return {
      weights: u8.slice(t.weights, t.weights + table.weightBytes),
      state: u8.slice(t.state, t.state + table.stateBytes),
    };
  }

  importTable(table: TableHandle, data: TableData): void {
    const t = this.get(table);
    this.flush();
    if (data.weights.byteLength !== table.weightBytes) {
      throw new RangeError(
        `table "${table.name}": weights have ${data.weights.byteLength} bytes, expected ${table.weightBytes}`,
      );
    }
    if (data.state.byteLength !== table.stateBytes) {
      throw new RangeError(
        `table "${table.name}": optimizer state has ${data.state.byteLength} bytes, expected ${table.stateBytes}`,
      );
    }
    const u8 = this.kernels.u8();
    u8.set(data.weights, t.weights);
    if (table.stateBytes > 0) u8.set(data.state, t.state);
  }

  encode(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow?: Overflow,
  ): void {
    this.codec.encode(format, src, { out, rounding, overflow });
  }

  decode(format: FormatName, codes: Uint16Array | Uint8Array, out: Float32Array): void {
    this.codec.decode(format, codes, out);
  }

  /** The module-resident decode table of a table's format (0 for float32 and bfloat16). */
  private lutAddress(format: FloatFormat | null): number {
    return format === null || format.name === 'bfloat16' ? 0 : this.codec.decodeTable(format);
  }

  /**
   * Copies a batch into scratch slots `slot`, `slot + 1`, `slot + 2` (indices, offsets, weights)
   * and checks it in WASM; returns the addresses, or null when a check fails (the caller then
   * runs the reference checks, which throw the exact error).
   */
  private stageBatch(rows: number, input: BagInput, pooling: Pooling, slot: number): Staged | null {
    const { indices, offsets, perSampleWeights } = input;
    if (!(indices instanceof Int32Array) || !(offsets instanceof Int32Array)) return null;
    const n = indices.length;
    if (
      perSampleWeights !== undefined &&
      (pooling !== 'sum' ||
        !(perSampleWeights instanceof Float32Array) ||
        perSampleWeights.length !== n)
    ) {
      return null;
    }
    const k = this.kernels;
    const ip = this.scratch.get(slot, n * 4);
    const op = this.scratch.get(slot + 1, offsets.length * 4);
    const pp = perSampleWeights === undefined ? 0 : this.scratch.get(slot + 2, n * 4);
    const i32 = k.i32();
    i32.set(indices, ip >>> 2);
    i32.set(offsets, op >>> 2);
    if (perSampleWeights !== undefined) k.f32().set(perSampleWeights, pp >>> 2);
    if (!k.exports.checkBag(ip, n, op, offsets.length, rows)) return null;
    if (perSampleWeights !== undefined && !k.exports.allFinite(pp, n)) return null;
    return { indices: ip, n, offsets: op, bags: offsets.length, psw: pp };
  }

  embeddingBagForward(table: TableHandle, input: BagInput, pooling: Pooling): Float32Array {
    const t = this.get(table);
    const staged = this.stageBatch(table.rows, input, pooling, S_INDICES);
    if (staged === null) {
      checkBagInput(table.name, table.rows, input, pooling);
      throw new Error('backend "wasm": the WASM batch check disagrees with checkBagInput');
    }
    const dim = table.dim;
    const k = this.kernels;
    const out = this.scratch.get(S_OUT, staged.bags * dim * 4);
    k.exports.embeddingBagForward(
      t.weights,
      STORAGE_KINDS[table.storage],
      this.lutAddress(t.format),
      dim,
      staged.indices,
      staged.n,
      staged.offsets,
      staged.bags,
      staged.psw,
      staged.psw === 0 ? 0 : 1,
      pooling === 'mean' ? 1 : 0,
      out,
    );
    return k.f32().slice(out >>> 2, (out >>> 2) + staged.bags * dim);
  }

  /** The module-resident encoder constants of `format` (overflow to infinity), 40 bytes. */
  private encoderBlock(format: FloatFormat | null): number {
    if (format === null) return 0;
    let address = this.encoders.get(format.name);
    if (address === undefined) {
      address = this.kernels.allocator.alloc(40, 'encoder constants');
      this.kernels
        .u32()
        .set(
          [
            23 - format.mantissaBits,
            ((127 - format.bias) << 23) >>> 0,
            ((128 - format.bias) << 23) >>> 0,
            (151 - format.bias - format.mantissaBits) >>> 0,
            format.maxFiniteCode,
            format.maxFiniteCode + 1,
            32 - format.bits,
            format.signMask,
            format.nanCode,
            format.hasInfinity ? 1 : 0,
          ],
          address >>> 2,
        );
      this.encoders.set(format.name, address);
    }
    return address;
  }

  embeddingBagBackward(updates: readonly BagUpdate[]): BagUpdateResult[] {
    const tables = updates.map((u) => this.get(u.table));
    const seen = new Set<number>();
    for (const u of updates) {
      if (seen.has(u.table.id)) {
        throw new RangeError(`table "${u.table.name}" appears twice in one backward call`);
      }
      seen.add(u.table.id);
    }
    // Phase 1: check and aggregate every table; nothing is written before all succeed.
    const staged = updates.map((u, i) => this.stageUpdate(u, S_TABLE + 8 * i));
    // Hogwild: the aggregated rows go to an idle worker's own buffers, and the worker runs the
    // whole call's update while this thread returns (when all are busy, this thread runs it).
    const worker = this.hogwild?.nextCall(HOGWILD_MAX_LAG) ?? -1;
    if (worker >= 0) return this.handOff(updates, tables, staged, worker);
    const aggregated = updates.map((u, i) =>
      this.aggregate(u, staged[i], S_TABLE + 8 * i, (bytes) =>
        this.scratch.get(S_TABLE + 8 * i + 7, bytes),
      ),
    );
    // Phase 2: the fused update, in WASM.
    return updates.map((u, i) => {
      const agg = aggregated[i];
      this.applyUpdate(tables[i], agg, u.step);
      return { updatedRows: agg.count - agg.badCount, skippedRows: agg.badCount };
    });
  }

  /** Stages one update's batch and gradient in WASM and checks them (checkBagUpdate's checks). */
  private stageUpdate(u: BagUpdate, slot: number): StagedUpdate {
    const { table, input, gradOutput } = u;
    const policy = u.nonFinite ?? 'error';
    const fail = () => {
      checkBagUpdate(u);
      return new Error('backend "wasm": the WASM update check disagrees with checkBagUpdate');
    };
    const batch = this.stageBatch(table.rows, input, u.pooling, slot);
    if (
      batch === null ||
      !(gradOutput instanceof Float32Array) ||
      gradOutput.length !== batch.bags * table.dim ||
      (policy !== 'error' && policy !== 'skip-rows') ||
      !Number.isInteger(u.step) ||
      u.step < 0
    ) {
      throw fail();
    }
    const grad = this.scratch.get(slot + 3, gradOutput.length * 4);
    this.kernels.f32().set(gradOutput, grad >>> 2);
    if (policy === 'error' && !this.kernels.exports.allFinite(grad, gradOutput.length))
      throw fail();
    return { ...batch, grad };
  }

  /**
   * Hogwild: aggregates every table into idle worker `worker`'s buffers, writes its parameter
   * blocks and job descriptor, and hands the job to it (returns without waiting).
   */
  private handOff(
    updates: readonly BagUpdate[],
    tables: readonly WasmTable[],
    staged: readonly StagedUpdate[],
    worker: number,
  ): BagUpdateResult[] {
    const js = this.jobScratch[worker];
    const aggregated = updates.map((u, i) =>
      this.aggregate(u, staged[i], S_TABLE + 8 * i, (bytes) => js.get(J_TABLE + 2 * i, bytes)),
    );
    // One work area for the whole job (sized for its widest table: tables run one by one).
    const width = Math.max(1, ...tables.map((t) => Math.max(t.handle.dim, t.stateSize)));
    const work = js.get(J_WORK, updateScratchBytes(width));
    const blocks: number[] = [];
    for (let i = 0; i < updates.length; i++) {
      const t = tables[i];
      const params = js.get(J_TABLE + 2 * i + 1, UPDATE_PARAMS_BYTES);
      if (this.prepareUpdate(t, aggregated[i], updates[i].step, params, work) > 0) {
        blocks.push(params);
      }
    }
    const descriptor = js.get(J_DESCRIPTOR, 4 * (1 + updates.length));
    const i32 = this.kernels.i32();
    i32[descriptor >>> 2] = blocks.length;
    i32.set(blocks, (descriptor >>> 2) + 1);
    if (blocks.length > 0) this.hogwild?.assign(worker, descriptor);
    return aggregated.map((agg) => ({
      updatedRows: agg.count - agg.badCount,
      skippedRows: agg.badCount,
    }));
  }

  /**
   * Sums the staged gradient per distinct row in WASM (backend-js' aggregate, same order) into
   * the block that `output(bytes)` returns (rows, gradients, bad flags).
   */
  private aggregate(
    u: BagUpdate,
    s: StagedUpdate,
    slot: number,
    output: (bytes: number) => number,
  ): Aggregated {
    const k = this.kernels;
    const dim = u.table.dim;
    const n = s.n;
    const keys = this.scratch.get(slot + 4, n * 8);
    const tmp = this.scratch.get(slot + 5, n * 8);
    const bagOf = this.scratch.get(slot + 6, n * 4);
    // Rows, their gradients and bad flags share one block: n i32, n x dim f32, n u8.
    const rows = output(n * 4 * (1 + dim) + n);
    const grads = rows + n * 4;
    const bad = grads + n * dim * 4;
    const count = k.exports.aggregate(
      s.indices,
      n,
      s.offsets,
      s.bags,
      s.grad,
      dim,
      s.psw,
      s.psw === 0 ? 0 : 1,
      u.pooling === 'mean' ? 1 : 0,
      keys,
      tmp,
      bagOf,
      rows,
      grads,
      bad,
    );
    const badCount = k.exports.aggregateBadCount();
    if (badCount > 0 && (u.nonFinite ?? 'error') === 'error') {
      throw nonFiniteRowGradient(u.table.name, k.exports.aggregateFirstBadRow());
    }
    return { rows, grads, bad, count, badCount };
  }

  /**
   * Drops skipped rows (in place) and writes the parameter block of `applyUpdate` at `params`
   * with the work area `work`; returns the rows to update.
   */
  private prepareUpdate(
    t: WasmTable,
    agg: Aggregated,
    step: number,
    params: number,
    work: number,
  ): number {
    const good = agg.count - agg.badCount;
    if (good === 0) return 0;
    const k = this.kernels;
    const h = t.handle;
    const dim = h.dim;
    if (agg.badCount > 0) {
      // Drop the skipped rows, in place (rare: 'skip-rows' with non-finite gradients).
      const rows = k.i32();
      const grads = k.f32();
      const flags = k.u8();
      const r0 = agg.rows >>> 2;
      const g0 = agg.grads >>> 2;
      for (let u = 0, g = 0; u < agg.count; u++) {
        if (flags[agg.bad + u] !== 0) continue;
        rows[r0 + g] = rows[r0 + u];
        grads.copyWithin(g0 + g * dim, g0 + u * dim, g0 + (u + 1) * dim);
        g++;
      }
    }
    const rowsPtr = agg.rows;
    const gradsPtr = agg.grads;
    const opt = h.optimizer;
    const scalars = new Float32Array(Math.max(2, opt.scalarCount));
    opt.stepScalars(step, scalars);
    writeUpdateParams(k, params, {
      table: t,
      step,
      rows: rowsPtr,
      grads: gradsPtr,
      count: good,
      scratch: work,
      weightEncoder: this.encoderBlock(t.format),
      stateEncoder: this.encoderBlock(t.stateFormat),
      weightLut: this.lutAddress(t.format),
      stateLut: this.lutAddress(t.stateFormat),
      weightBits: t.format === null ? 0 : randomBitsFor(t.format.mantissaBits),
      stateBits: t.stateFormat === null ? 0 : randomBitsFor(t.stateFormat.mantissaBits),
      tdWeights: tableDomain(h.index, DOMAIN_WEIGHTS),
      tdState: tableDomain(h.index, DOMAIN_STATE),
      scalars,
    });
    return good;
  }

  private applyUpdate(t: WasmTable, agg: Aggregated, step: number): void {
    const k = this.kernels;
    const dim = t.handle.dim;
    const width = Math.max(dim, t.stateSize);
    const work = this.scratch.get(S_UPDATE, updateScratchBytes(width));
    const good = this.prepareUpdate(t, agg, step, this.params, work);
    if (good === 0) return;
    const rowsPtr = agg.rows;
    const gradsPtr = agg.grads;
    const parts = Math.min(this.threads, Math.floor(good / this.minRowsPerThread));
    if (this.pool === undefined || parts < 2) {
      k.exports.applyUpdate(this.params);
      return;
    }
    // Split the rows into contiguous parts, one per thread. Rows are distinct and each row's
    // update depends only on its own data and its counter-based random bits, so the result is
    // the same for every split: bit-identical to one thread.
    const bytesPerThread = updateScratchBytes(width);
    const works = Array.from({ length: parts }, (_, part) =>
      part === 0 ? work : this.scratch.get(S_WORKER + part, bytesPerThread),
    );
    const u8 = k.u8();
    const i32 = k.i32();
    const blocks: number[] = [];
    for (let part = parts - 1; part >= 0; part--) {
      const start = Math.floor((good * part) / parts);
      const end = Math.floor((good * (part + 1)) / parts);
      const block = part === 0 ? this.params : this.workerParams[part - 1];
      if (part > 0) {
        u8.copyWithin(block, this.params, this.params + UPDATE_PARAMS_BYTES);
        i32[(block >>> 2) + P_SCRATCH] = works[part];
      }
      const base = block >>> 2;
      i32[base + P_ROWS] = rowsPtr + start * 4;
      i32[base + P_GRADS] = gradsPtr + start * dim * 4;
      i32[base + P_COUNT] = end - start;
      if (part > 0) blocks[part - 1] = block;
    }
    this.pool.run(blocks, () => k.exports.applyUpdate(this.params));
  }

  matmul(args: MatmulArgs): void {
    const { m, n, k: depth, a, b, c } = checkMatmul(args);
    const transA = args.transA ?? false;
    const transB = args.transB ?? false;
    const alpha = Math.fround(args.alpha ?? 1);
    const beta = Math.fround(args.beta ?? 0);
    const k = this.kernels;
    const ap = this.scratch.get(S_A, m * depth * 4);
    const bp = this.scratch.get(S_B, depth * n * 4);
    const cp = this.scratch.get(S_C, m * n * 4);
    const packed = transB ? this.scratch.get(S_PACKED, depth * n * 4) : 0;
    const acc = this.scratch.get(S_ACC, n * 4);
    const f32 = k.f32();
    f32.set(a.subarray(0, m * depth), ap >>> 2);
    f32.set(b.subarray(0, depth * n), bp >>> 2);
    if (beta !== 0) f32.set(c.subarray(0, m * n), cp >>> 2);
    k.exports.matmul(
      m,
      n,
      depth,
      ap,
      bp,
      cp,
      transA ? 1 : 0,
      transB ? 1 : 0,
      alpha,
      beta,
      packed,
      acc,
    );
    c.set(k.f32().subarray(cp >>> 2, (cp >>> 2) + m * n));
  }

  addBias(x: Float32Array, bias: Float32Array, rows: number, cols: number): void {
    checkLength(x, rows * cols, 'x');
    checkLength(bias, cols, 'bias');
    const k = this.kernels;
    const xp = this.scratch.get(S_A, rows * cols * 4);
    const bp = this.scratch.get(S_B, cols * 4);
    const f32 = k.f32();
    f32.set(x.subarray(0, rows * cols), xp >>> 2);
    f32.set(bias.subarray(0, cols), bp >>> 2);
    k.exports.addBias(xp, bp, rows, cols);
    x.set(k.f32().subarray(xp >>> 2, (xp >>> 2) + rows * cols));
  }

  relu(x: Float32Array, out: Float32Array): void {
    checkLength(out, x.length, 'out');
    const k = this.kernels;
    const n = x.length;
    const xp = this.scratch.get(S_A, n * 4);
    k.f32().set(x, xp >>> 2);
    k.exports.relu(xp, xp, n);
    out.set(k.f32().subarray(xp >>> 2, (xp >>> 2) + n));
  }

  reluBackward(grad: Float32Array, x: Float32Array, out: Float32Array): void {
    checkLength(x, grad.length, 'x');
    checkLength(out, grad.length, 'out');
    const k = this.kernels;
    const n = grad.length;
    const gp = this.scratch.get(S_A, n * 4);
    const xp = this.scratch.get(S_B, n * 4);
    const f32 = k.f32();
    f32.set(grad, gp >>> 2);
    f32.set(x.subarray(0, n), xp >>> 2);
    k.exports.reluBackward(gp, xp, gp, n);
    out.set(k.f32().subarray(gp >>> 2, (gp >>> 2) + n));
  }

  sigmoid(x: Float32Array, out: Float32Array): void {
    sigmoid(x, out);
  }

  bceWithLogits(logits: Float32Array, labels: Float32Array, grad?: Float32Array): number {
    return bceWithLogits(logits, labels, grad);
  }

  sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
    checkLength(x, rows * cols, 'x');
    checkLength(out, cols, 'out');
    const k = this.kernels;
    const xp = this.scratch.get(S_A, rows * cols * 4);
    const op = this.scratch.get(S_B, cols * 4);
    k.f32().set(x.subarray(0, rows * cols), xp >>> 2);
    k.exports.sumRows(xp, rows, cols, op);
    out.set(k.f32().subarray(op >>> 2, (op >>> 2) + cols));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    try {
      this.flush();
    } finally {
      this.hogwild?.stop();
      for (const js of this.jobScratch) js.dispose();
      for (const t of this.tables.values()) {
        for (const address of tableBlocks(t)) this.kernels.allocator.release(address);
      }
      this.tables.clear();
      this.scratch.dispose();
      this.pool?.stop();
    }
  }
}

/** A batch staged in WASM memory (addresses). */
interface Staged {
  readonly indices: number;
  readonly n: number;
  readonly offsets: number;
  readonly bags: number;
  /** 0 without per-sample weights. */
  readonly psw: number;
}

/** A staged batch and its gradient (address). */
interface StagedUpdate extends Staged {
  readonly grad: number;
}

/** A batch's gradient summed per distinct row, in WASM memory (addresses). */
interface Aggregated {
  readonly rows: number;
  readonly grads: number;
  readonly bad: number;
  readonly count: number;
  readonly badCount: number;
}

/** Options of {@link createWasmBackend}. */
export interface WasmBackendOptions extends LoadOptions {
  /**
   * Threads of the fused embedding update (Node.js worker_threads on shared WASM memory): 1
   * (default) runs on the calling thread. With more, `mode` says how they share the work. Needs
   * WASM SIMD + threads and `SharedArrayBuffer`.
   */
  readonly threads?: number;
  /**
   * 'reproducible' (default): each table's distinct rows are split across the threads; the
   * results are bit-identical for every thread count. 'hogwild': each backward call's update
   * runs on an idle worker thread while the caller goes on, so that updates overlap each other
   * and the next forward passes, racing on shared rows (faster; results depend on timing; see
   * the README). With `threads: 1` both modes are the same code path, bit for bit.
   */
  readonly mode?: ThreadMode;
  /** Rows per thread below which an update stays on one thread (reproducible mode). Default 64. */
  readonly minRowsPerThread?: number;
}

/**
 * Creates the WASM backend: compiles and instantiates the kernels (the SIMD build when
 * `WebAssembly.validate` accepts it, else the scalar one; `backend.build` says which), and with
 * `threads > 1` starts the worker threads of the chosen `mode`.
 * @throws Error when WebAssembly is unavailable, or threads were asked for where they cannot run;
 *   RangeError for a bad `threads` or `mode`.
 */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new RangeError(`threads: expected an integer in 1..64, got ${String(threads)}`);
  }
  const mode = options.mode ?? 'reproducible';
  if (mode !== 'reproducible' && mode !== 'hogwild') {
    throw new RangeError(`mode: expected 'reproducible' or 'hogwild', got ${String(mode)}`);
  }
  const minRows = options.minRowsPerThread ?? 64;
  if (threads === 1) return new WasmBackend(await loadKernels(options), undefined, minRows, mode);
  const kernels = await loadKernels({ ...options, shared: true });
  if (mode === 'hogwild') {
    return new WasmBackend(kernels, await HogwildPool.start(kernels, threads), minRows, mode);
  }
  const pool = await UpdatePool.start(kernels, threads);
  return new WasmBackend(kernels, pool, minRows);
}

/**
 * The WASM backend's registry entry: name "wasm", priority 10 (above "js", 0). Its factory takes
 * `{ build: 'scalar' }` to force the scalar build.
 */
export const wasmBackend: BackendRegistration = Object.freeze({
  name: 'wasm',
  priority: 10,
  create: (options?: Readonly<Record<string, unknown>>) =>
    createWasmBackend((options ?? {}) as WasmBackendOptions),
});

import {
  type Backend,
  BadInputError,
  type BagInput,
  type BagUpdate,
  type BagUpdateResult,
  checkBagInput,
  checkMatmul,
  checkRowNumbers,
  checkRowsCols,
  checkWriteRows,
  HostBackend,
  initializeTable,
  type MatmulArgs,
  type Pooling,
  StepResult,
  type TableData,
  type TableHandle,
  type TableSpec,
  type Tensor,
  type WriteRowsOptions,
} from '@halfstep/backend';
import { bceWithLogits, sigmoid } from '@halfstep/backend-js';
import type { FormatName, Overflow, RoundingStrategy } from '@halfstep/codecs';
import { stageBatch } from './batch.js';
import { WasmCodec } from './codec.js';
import { DenseOps } from './dense.js';
import { FormatBlocks } from './format-blocks.js';
import { embeddingBagForward } from './forward.js';
import { FusedBackward } from './fused-backward.js';
import type { Kernels, WasmBuild } from './kernels.js';
import { Scratch } from './scratch.js';
import { S_FORWARD_BATCH } from './scratch-slots.js';
import { allocateTable, tableBlocks, type WasmTable } from './table.js';
import { exportTableData, importTableData, readTableRows, writeTableRows } from './table-io.js';
import { HogwildPool, type ThreadMode, type UpdatePool } from './threads.js';

/**
 * The WASM backend: tables in WebAssembly linear memory, kernels in AssemblyScript (SIMD build
 * where the platform validates it). Results are bit-identical to `@halfstep/backend-js` (see the
 * README for the one exception, `sigmoid`/`bceWithLogits`, which run the reference's JS code).
 *
 * Tensors are host arrays (`HostTensors`, as on the js backend): each dense op copies its
 * operands into linear memory and its result back. Every kernel runs when called, so its promise
 * is settled when returned and the `...Sync` twins read without waiting; only hogwild mode
 * leaves updates running on worker threads, which `flush` and every table read wait for.
 *
 * @example
 * ```ts
 * import { createWasmBackend } from '@halfstep/backend-wasm';
 *
 * const backend = await createWasmBackend();
 * const x = backend.tensor(new Float32Array([-1, 2]));
 * backend.relu(x, x);
 * console.log(backend.readSync(x)); // Float32Array [0, 2]
 * ```
 */
export class WasmBackend extends HostBackend implements Backend {
  /** Which binary runs: 'simd' or 'scalar'. */
  readonly build: WasmBuild;
  /** Why the SIMD build is not running (undefined when it is). */
  readonly simdRejected: string | undefined;
  /** The kernels and their memory (for advanced use and tests). */
  readonly kernels: Kernels;
  /** Bulk codecs on this backend's kernels (the `encodeSync`/`decodeSync` engine). */
  readonly codec: WasmCodec;
  /** The threads' mode: 'reproducible' (default) or 'hogwild' (see {@link ThreadMode}). */
  readonly mode: ThreadMode;
  private readonly scratch: Scratch;
  private readonly tables = new Map<number, WasmTable>();
  private readonly formats: FormatBlocks;
  private readonly dense: DenseOps;
  private readonly backward: FusedBackward;

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
    super('wasm');
    this.kernels = kernels;
    this.mode = mode;
    this.build = kernels.build;
    this.simdRejected = kernels.simdRejected;
    this.scratch = new Scratch(kernels);
    this.codec = new WasmCodec(kernels, this.scratch);
    this.formats = new FormatBlocks(kernels, this.codec);
    this.dense = new DenseOps(kernels, this.scratch);
    this.backward = new FusedBackward(
      kernels,
      this.scratch,
      this.formats,
      pool,
      minRowsPerThread,
      this.tensors,
      (result) => this.unobserved.add(result),
    );
  }

  /** Threads that run the fused update: 1, or the pool's workers plus the calling thread. */
  get threads(): number {
    return this.backward.threads;
  }

  private get(table: TableHandle): WasmTable {
    this.live();
    const t = this.tables.get(table?.id);
    if (!t || t.handle !== table) {
      throw new Error(`table "${table?.name}" does not belong to this backend (or was disposed)`);
    }
    return t;
  }

  /**
   * Resolves once every update handed to a worker thread (hogwild mode) is stored; at once in
   * reproducible mode, whose calls return with their updates stored. Table reads, writes,
   * `disposeTable` and `dispose` wait the same way themselves; the forward and backward passes do
   * not (they race with the updates in flight).
   * @throws (rejects with) the first error a worker thread reported, else the first error of a
   *   backward that nobody awaited.
   */
  override async flush(): Promise<void> {
    this.live();
    // Blocks the calling thread (Atomics.wait): a job is one call's update, milliseconds.
    this.backward.settle();
    await this.unobserved.report();
  }

  createTable(spec: TableSpec): TableHandle {
    this.live();
    const t = allocateTable(this.kernels, spec);
    this.tables.set(t.handle.id, t);
    initializeTable(this, t.handle, spec.init, spec.onProgress);
    return t.handle;
  }

  disposeTable(table: TableHandle): void {
    const t = this.get(table);
    this.backward.settle();
    for (const address of tableBlocks(t)) this.kernels.allocator.release(address);
    this.tables.delete(table.id);
  }

  readRowsSync(table: TableHandle, rows?: Int32Array): Float32Array {
    const t = this.get(table);
    const count = checkRowNumbers(table, rows);
    this.backward.settle();
    const result = readTableRows(this.kernels, t, rows, count);
    this.tensors.downloadBytes += result.byteLength;
    return result;
  }

  writeRows(
    table: TableHandle,
    values: Float32Array,
    rows?: Int32Array,
    options?: WriteRowsOptions,
  ): void {
    const t = this.get(table);
    checkWriteRows(table, values, rows, options);
    this.backward.settle();
    this.tensors.uploadBytes += values.byteLength;
    writeTableRows(this.kernels, this.codec, t, values, rows);
  }

  exportTableSync(table: TableHandle): TableData {
    const t = this.get(table);
    this.backward.settle();
    const data = exportTableData(this.kernels, t);
    this.tensors.downloadBytes += data.weights.byteLength + data.state.byteLength;
    return data;
  }

  importTable(table: TableHandle, data: TableData): void {
    const t = this.get(table);
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
    this.backward.settle();
    importTableData(this.kernels, t, data);
    this.tensors.uploadBytes += data.weights.byteLength + data.state.byteLength;
  }

  /** `encode`, synchronously. */
  encodeSync(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow?: Overflow,
  ): void {
    this.live();
    this.codec.encode(format, src, { out, rounding, overflow });
  }

  /** `decode`, synchronously. */
  decodeSync(format: FormatName, codes: Uint16Array | Uint8Array, out: Float32Array): void {
    this.live();
    this.codec.decode(format, codes, out);
  }

  embeddingBagForward(table: TableHandle, input: BagInput, pooling: Pooling, out: Tensor): void {
    const t = this.get(table);
    const k = this.kernels;
    const batch = stageBatch(k, this.scratch, table.rows, input, pooling, S_FORWARD_BATCH);
    if (batch === null) {
      checkBagInput(table.name, table.rows, input, pooling);
      throw new Error('backend "wasm": the WASM batch check disagrees with checkBagInput');
    }
    const values = this.data(out, 'out', batch.bags * table.dim);
    embeddingBagForward(k, this.scratch, this.formats, t, batch, pooling, values);
  }

  embeddingBagBackward(updates: readonly BagUpdate[]): StepResult<BagUpdateResult[]> {
    const tables = updates.map((u) => this.get(u.table));
    const seen = new Set<number>();
    for (const u of updates) {
      if (seen.has(u.table.id)) {
        throw new RangeError(`table "${u.table.name}" appears twice in one backward call`);
      }
      seen.add(u.table.id);
    }
    // Phase 1: check every table; nothing is written before all succeed. Bad shapes throw;
    // a non-finite gradient rejects, as on a device that finds it only there.
    const batches = this.backward.check(updates);
    const grads = updates.map((u) => this.data(u.gradOutput, 'gradOutput'));
    const staged = this.backward.stageGradients(updates, batches, grads);
    if (staged instanceof BadInputError) return this.rejected(staged);
    // Phase 2: aggregation (a row sum can still overflow: rejects, nothing written) and the
    // fused update, in WASM (a non-finite new weight or state under 'error': rejects, every
    // table of the call rolled back).
    try {
      const outcome = this.backward.update(updates, tables, staged);
      if (outcome instanceof StepResult) return outcome;
      if (outcome instanceof BadInputError) return this.rejected(outcome);
      return StepResult.of({ value: outcome });
    } catch (error) {
      return this.rejected(error);
    }
  }

  matmul(args: MatmulArgs): void {
    this.live();
    checkMatmul(args);
    this.dense.matmul({
      ...args,
      a: this.data(args.a, 'a'),
      b: this.data(args.b, 'b'),
      c: this.data(args.c, 'c'),
    });
  }

  addBias(x: Tensor, bias: Tensor, rows: number, cols: number): void {
    checkRowsCols(rows, cols);
    this.dense.addBias(this.data(x, 'x', rows * cols), this.data(bias, 'bias', cols), rows, cols);
  }

  relu(x: Tensor, out: Tensor): void {
    this.dense.relu(this.data(x, 'x'), this.data(out, 'out', x.size));
  }

  reluBackward(grad: Tensor, x: Tensor, out: Tensor): void {
    const g = this.data(grad, 'grad');
    this.dense.reluBackward(g, this.data(x, 'x', g.length), this.data(out, 'out', g.length));
  }

  /** As the js backend, in its JS code: WASM has no `exp` (see the README). */
  sigmoid(x: Tensor, out: Tensor): void {
    sigmoid(this.data(x, 'x'), this.data(out, 'out', x.size));
  }

  /** As the js backend, in its JS code: WASM has no `exp` (see the README). */
  bceWithLogits(logits: Tensor, labels: Tensor, loss: Tensor, grad?: Tensor): void {
    const x = this.data(logits, 'logits');
    const y = this.data(labels, 'labels', x.length);
    const l = this.data(loss, 'loss', 1);
    const g = grad === undefined ? undefined : this.data(grad, 'grad', x.length);
    l[0] = bceWithLogits(x, y.length === x.length ? y : y.subarray(0, x.length), g);
  }

  sumRows(x: Tensor, rows: number, cols: number, out: Tensor): void {
    checkRowsCols(rows, cols);
    this.dense.sumRows(this.data(x, 'x', rows * cols), rows, cols, this.data(out, 'out', cols));
  }

  /** Waits for the updates in flight, stops the worker threads and frees all memory blocks. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    try {
      this.backward.settle();
    } finally {
      this.backward.dispose();
      for (const t of this.tables.values()) {
        for (const address of tableBlocks(t)) this.kernels.allocator.release(address);
      }
      this.tables.clear();
      this.tensors.clear();
      this.unobserved.clear();
      this.scratch.dispose();
    }
  }
}

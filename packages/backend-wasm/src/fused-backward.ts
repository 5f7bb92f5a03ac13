import {
  type BadInputError,
  type BagUpdate,
  type BagUpdateResult,
  checkBagUpdate,
  checkFiniteGradient,
  DOMAIN_STATE,
  DOMAIN_WEIGHTS,
  randomBitsFor,
  tableDomain,
} from '@halfstep/backend';
import { type AggregatedRows, aggregateRows, dropSkippedRows } from './aggregate.js';
import { type StagedBatch, type StagedUpdate, stageBatch } from './batch.js';
import type { FormatBlocks } from './format-blocks.js';
import type { Kernels } from './kernels.js';
import { UPDATE_LAYOUT } from './layouts.js';
import { Scratch } from './scratch.js';
import {
  J_DESCRIPTOR,
  J_TABLE,
  J_WORK,
  S_TABLE,
  S_UPDATE,
  S_WORKER,
  TABLE_AGGREGATED,
  TABLE_BATCH,
  TABLE_GRAD,
  TABLE_SLOTS,
} from './scratch-slots.js';
import type { WasmTable } from './table.js';
import { HogwildPool, UpdatePool } from './threads.js';
import { UPDATE_PARAMS_BYTES, updateScratchBytes, writeUpdateParams } from './update-params.js';

// The words of the update's parameter block that differ between the threads splitting one
// table's rows (written directly: the rest of a block is copied from the calling thread's).
const P_ROWS = UPDATE_LAYOUT.slots.rows;
const P_GRADS = UPDATE_LAYOUT.slots.grads;
const P_COUNT = UPDATE_LAYOUT.slots.count;
const P_SCRATCH = UPDATE_LAYOUT.slots.scratch;

/** Hogwild: a backward call waits for any update handed off more than this many calls ago. */
const HOGWILD_MAX_LAG = 4;

/** The first slot of table `i` of a backward call. */
function tableSlot(i: number): number {
  return S_TABLE + TABLE_SLOTS * i;
}

/**
 * The fused embedding backward in WASM, in the reference's phases: check and stage every
 * table's batch and gradient (nothing written), then per table sum the gradient per distinct row
 * and run the optimizer update with its rounded store, on the calling thread, split by rows
 * across an `UpdatePool` (reproducible), or handed whole to a `HogwildPool` worker.
 */
export class FusedBackward {
  private readonly k: Kernels;
  private readonly scratch: Scratch;
  private readonly formats: FormatBlocks;
  private readonly pool: UpdatePool | undefined;
  private readonly hogwild: HogwildPool | undefined;
  private readonly minRowsPerThread: number;
  private readonly traffic: { submissions: number };
  /** The calling thread's parameter block, and one per pool worker. */
  private readonly params: number;
  private readonly workerParams: number[];
  /** Per hogwild worker: the buffers of the job it runs (reused only while it is idle). */
  private readonly jobScratch: Scratch[];

  /**
   * @param traffic - whose `submissions` counts the hand-offs to worker threads.
   */
  constructor(
    kernels: Kernels,
    scratch: Scratch,
    formats: FormatBlocks,
    pool: UpdatePool | HogwildPool | undefined,
    minRowsPerThread: number,
    traffic: { submissions: number },
  ) {
    this.k = kernels;
    this.scratch = scratch;
    this.formats = formats;
    this.pool = pool instanceof UpdatePool ? pool : undefined;
    this.hogwild = pool instanceof HogwildPool ? pool : undefined;
    this.minRowsPerThread = minRowsPerThread;
    this.traffic = traffic;
    this.params = kernels.allocator.alloc(UPDATE_PARAMS_BYTES, 'update parameters');
    this.workerParams = Array.from({ length: this.pool?.workers ?? 0 }, () =>
      kernels.allocator.alloc(UPDATE_PARAMS_BYTES, 'update parameters'),
    );
    this.jobScratch = Array.from(
      { length: this.hogwild?.workers ?? 0 },
      () => new Scratch(kernels),
    );
  }

  /**
   * Threads that run the fused update: 1, or the pool's live workers plus the calling thread
   * (a worker that exited no longer counts: see the README's "Worker failures").
   */
  get threads(): number {
    return (this.pool?.liveWorkers ?? this.hogwild?.liveWorkers ?? 0) + 1;
  }

  /**
   * Phase 1: stages every update's batch in its table's slots and checks it with the shapes,
   * policy and step (`checkBagUpdate`'s checks, in WASM for the batch).
   * @throws checkBagUpdate's error for the first bad update.
   */
  check(updates: readonly BagUpdate[]): StagedBatch[] {
    return updates.map((u, i) => {
      const { table, gradOutput } = u;
      const policy = u.nonFinite ?? 'error';
      const batch = stageBatch(
        this.k,
        this.scratch,
        table.rows,
        u.input,
        u.pooling,
        tableSlot(i) + TABLE_BATCH,
      );
      if (
        batch === null ||
        gradOutput?.size !== batch.bags * table.dim ||
        (policy !== 'error' && policy !== 'skip-rows') ||
        !Number.isInteger(u.step) ||
        u.step < 0
      ) {
        checkBagUpdate(u);
        throw new Error('backend "wasm": the WASM update check disagrees with checkBagUpdate');
      }
      return batch;
    });
  }

  /**
   * Phase 1, gradients: copies each update's gradient values into its table's slots and checks
   * in WASM that they are finite (policy 'error').
   * @returns the staged updates, or the reference's error for the first non-finite value.
   */
  stageGradients(
    updates: readonly BagUpdate[],
    batches: readonly StagedBatch[],
    values: readonly Float32Array[],
  ): StagedUpdate[] | BadInputError {
    const staged: StagedUpdate[] = [];
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i]!;
      const v = values[i]!;
      // `check` saw bags x dim values (a host tensor holds exactly its size).
      const n = v.length;
      const grad = this.scratch.get(tableSlot(i) + TABLE_GRAD, n * 4);
      this.k.f32().set(v, grad >>> 2);
      if ((u.nonFinite ?? 'error') === 'error' && !this.k.exports.allFinite(grad, n)) {
        const error = checkFiniteGradient(u, v);
        if (error) return error;
        throw new Error('backend "wasm": the WASM finiteness check disagrees with the reference');
      }
      staged.push({ ...batches[i]!, grad });
    }
    return staged;
  }

  /**
   * Phase 2: aggregates and updates every table. Reproducible: returns with every update stored.
   * Hogwild: hands the whole call to an idle worker when there is one and returns at once.
   * A worker thread that exited never loses rows: the calling thread runs them (threads.ts).
   * @throws BadInputError for a row sum that overflows (policy 'error'; no table changed), or
   *   the pool's error once it is out of service (its supervisor fell silent).
   */
  update(
    updates: readonly BagUpdate[],
    tables: readonly WasmTable[],
    staged: readonly StagedUpdate[],
  ): BagUpdateResult[] {
    // Hogwild: the aggregated rows go to an idle worker's own buffers, and the worker runs the
    // whole call's update while this thread returns (when all are busy, this thread runs it).
    const worker = this.hogwild?.nextCall(HOGWILD_MAX_LAG) ?? -1;
    if (worker >= 0) return this.handOff(updates, tables, staged, worker);
    const aggregated = updates.map((u, i) =>
      aggregateRows(this.k, this.scratch, u, staged[i]!, tableSlot(i), (bytes) =>
        this.scratch.get(tableSlot(i) + TABLE_AGGREGATED, bytes),
      ),
    );
    return updates.map((u, i) => {
      const agg = aggregated[i]!;
      this.applyUpdate(tables[i]!, agg, u.step);
      return { updatedRows: agg.count - agg.badCount, skippedRows: agg.badCount };
    });
  }

  /**
   * Blocks until every update handed to a worker thread (hogwild) is stored (by the calling
   * thread for a worker that exited).
   * @throws the pool's error once it is out of service.
   */
  settle(): void {
    this.hogwild?.settle();
  }

  /** Stops the worker threads and frees their job buffers (after `settle`). */
  dispose(): void {
    this.hogwild?.stop();
    for (const js of this.jobScratch) js.dispose();
    this.pool?.stop();
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
    const js = this.jobScratch[worker]!;
    const aggregated = updates.map((u, i) =>
      aggregateRows(this.k, this.scratch, u, staged[i]!, tableSlot(i), (bytes) =>
        js.get(J_TABLE + 2 * i, bytes),
      ),
    );
    // One work area for the whole job, sized for its widest table: its tables run in turn.
    const width = Math.max(1, ...tables.map((t) => Math.max(t.handle.dim, t.stateSize)));
    const work = js.get(J_WORK, updateScratchBytes(width));
    const blocks: number[] = [];
    for (let i = 0; i < updates.length; i++) {
      const params = js.get(J_TABLE + 2 * i + 1, UPDATE_PARAMS_BYTES);
      if (this.prepareUpdate(tables[i]!, aggregated[i]!, updates[i]!.step, params, work) > 0) {
        blocks.push(params);
      }
    }
    const descriptor = js.get(J_DESCRIPTOR, 4 * (1 + updates.length));
    const i32 = this.k.i32();
    i32[descriptor >>> 2] = blocks.length;
    i32.set(blocks, (descriptor >>> 2) + 1);
    if (blocks.length > 0 && this.hogwild !== undefined) {
      const names = tables.map((t) => `"${t.handle.name}"`).join(', ');
      const steps = [...new Set(updates.map((u) => u.step))].join(', ');
      this.hogwild.assign(
        worker,
        descriptor,
        `the update of a backward call (step ${steps}; table${tables.length === 1 ? '' : 's'} ${names})`,
      );
      this.traffic.submissions++;
    }
    return aggregated.map((agg) => ({
      updatedRows: agg.count - agg.badCount,
      skippedRows: agg.badCount,
    }));
  }

  /**
   * Drops skipped rows and writes the parameter block of `applyUpdate` at `params` with the
   * work area `work`; returns the rows to update.
   */
  private prepareUpdate(
    t: WasmTable,
    agg: AggregatedRows,
    step: number,
    params: number,
    work: number,
  ): number {
    if (agg.count === agg.badCount) return 0;
    const h = t.handle;
    const good = dropSkippedRows(this.k, agg, h.dim);
    writeUpdateParams(this.k, params, {
      table: t,
      step,
      rows: agg.rows,
      grads: agg.grads,
      count: good,
      scratch: work,
      weightEncoder: this.formats.encoder(t.format),
      stateEncoder: this.formats.encoder(t.stateFormat),
      weightLut: this.formats.decodeTable(t.format),
      stateLut: this.formats.decodeTable(t.stateFormat),
      weightBits: t.format === null ? 0 : randomBitsFor(t.format.mantissaBits),
      stateBits: t.stateFormat === null ? 0 : randomBitsFor(t.stateFormat.mantissaBits),
      tdWeights: tableDomain(h.index, DOMAIN_WEIGHTS),
      tdState: tableDomain(h.index, DOMAIN_STATE),
    });
    return good;
  }

  /** Runs one table's update on the calling thread, or split by rows across the pool. */
  private applyUpdate(t: WasmTable, agg: AggregatedRows, step: number): void {
    const k = this.k;
    const dim = t.handle.dim;
    const width = Math.max(dim, t.stateSize);
    const work = this.scratch.get(S_UPDATE, updateScratchBytes(width));
    const good = this.prepareUpdate(t, agg, step, this.params, work);
    if (good === 0) return;
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
      const block = part === 0 ? this.params : this.workerParams[part - 1]!;
      if (part > 0) {
        u8.copyWithin(block, this.params, this.params + UPDATE_PARAMS_BYTES);
        i32[(block >>> 2) + P_SCRATCH] = works[part]!;
      }
      const base = block >>> 2;
      i32[base + P_ROWS] = agg.rows + start * 4;
      i32[base + P_GRADS] = agg.grads + start * dim * 4;
      i32[base + P_COUNT] = end - start;
      if (part > 0) blocks[part - 1] = block;
    }
    this.traffic.submissions++;
    this.pool.run(
      blocks,
      () => k.exports.applyUpdate(this.params),
      `the update of table "${t.handle.name}" (step ${step})`,
    );
  }
}

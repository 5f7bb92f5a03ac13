import {
  BadInputError,
  type BagUpdate,
  type BagUpdateResult,
  checkBagUpdate,
  checkFiniteGradient,
  DOMAIN_STATE,
  DOMAIN_WEIGHTS,
  nonFiniteRowResult,
  randomBitsFor,
  StepResult,
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
  J_TABLE_SLOTS,
  J_WORK,
  S_TABLE,
  S_UPDATE,
  S_WORKER,
  TABLE_AGGREGATED,
  TABLE_BATCH,
  TABLE_GRAD,
  TABLE_JOURNAL,
  TABLE_PARAMS,
  TABLE_SLOTS,
} from './scratch-slots.js';
import type { WasmTable } from './table.js';
import { HogwildPool, UpdatePool } from './threads.js';
import {
  journalLayout,
  UPDATE_PARAMS_BYTES,
  updateScratchBytes,
  writeUpdateParams,
} from './update-params.js';

// The words of the update's parameter block that differ between the threads splitting one
// table's rows (written directly: the rest of a block is copied from the calling thread's).
const P_ROWS = UPDATE_LAYOUT.slots.rows;
const P_GRADS = UPDATE_LAYOUT.slots.grads;
const P_COUNT = UPDATE_LAYOUT.slots.count;
const P_SCRATCH = UPDATE_LAYOUT.slots.scratch;
const P_JOURNAL = UPDATE_LAYOUT.slots.journal;
// What the kernel reports (see UPDATE_LAYOUT).
const P_DONE = UPDATE_LAYOUT.slots.done;
const P_SKIPPED = UPDATE_LAYOUT.slots.skipped;

/** Hogwild: a backward call waits for any update handed off more than this many calls ago. */
const HOGWILD_MAX_LAG = 4;

/** The first slot of table `i` of a backward call. */
function tableSlot(i: number): number {
  return S_TABLE + TABLE_SLOTS * i;
}

/**
 * How many leading tables of a call journal their rows: those at or before its last table with
 * policy 'error', whose refusal must leave them unchanged (after it nothing can refuse the call).
 */
function journaledTables(updates: readonly BagUpdate[]): number {
  for (let i = updates.length - 1; i >= 0; i--) {
    if ((updates[i]!.nonFinite ?? 'error') === 'error') return i + 1;
  }
  return 0;
}

/** One table's update as the kernel reported it. */
interface TableOutcome {
  /** The table's parameter block (0: no row to update), covering all its rows. */
  readonly block: number;
  /** Rows skipped for a non-finite result ('skip-rows'). */
  readonly skipped: number;
  /** The smallest row whose result is not finite ('error'; the table rolled back), else -1. */
  readonly badRow: number;
}

/** Hogwild: a call's update handed to a worker thread, and its outcome once read. */
interface HandedCall {
  readonly worker: number;
  readonly names: readonly string[];
  /** Per table: its parameter block in the worker's buffers (0: no row to update). */
  readonly blocks: readonly number[];
  readonly aggregated: readonly AggregatedRows[];
  outcome: BagUpdateResult[] | BadInputError | undefined;
  result: StepResult<BagUpdateResult[]> | undefined;
}

/** A table's counts once `skipped` rows were left unchanged for a non-finite result. */
function counts(agg: AggregatedRows, skipped: number): BagUpdateResult {
  return {
    updatedRows: agg.count - agg.badCount - skipped,
    skippedRows: agg.badCount + skipped,
  };
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
  /** One parameter block per pool worker (the calling thread's are in the tables' slots). */
  private readonly workerParams: number[];
  /** Per hogwild worker: the buffers of the job it runs (reused only while it is idle). */
  private readonly jobScratch: Scratch[];
  /** Per hogwild worker: the call it was handed whose outcome is not read yet. */
  private readonly handed: (HandedCall | undefined)[];
  private readonly onFailure: (result: StepResult<unknown>) => void;

  /**
   * @param traffic - whose `submissions` counts the hand-offs to worker threads.
   * @param onFailure - receives a hogwild step's result found failed before anyone awaited it
   *   (the backend keeps it for `flush()` to report).
   */
  constructor(
    kernels: Kernels,
    scratch: Scratch,
    formats: FormatBlocks,
    pool: UpdatePool | HogwildPool | undefined,
    minRowsPerThread: number,
    traffic: { submissions: number },
    onFailure: (result: StepResult<unknown>) => void = () => {},
  ) {
    this.k = kernels;
    this.scratch = scratch;
    this.formats = formats;
    this.pool = pool instanceof UpdatePool ? pool : undefined;
    this.hogwild = pool instanceof HogwildPool ? pool : undefined;
    this.minRowsPerThread = minRowsPerThread;
    this.traffic = traffic;
    this.onFailure = onFailure;
    this.workerParams = Array.from({ length: this.pool?.workers ?? 0 }, () =>
      kernels.allocator.alloc(UPDATE_PARAMS_BYTES, 'update parameters'),
    );
    this.jobScratch = Array.from(
      { length: this.hogwild?.workers ?? 0 },
      () => new Scratch(kernels),
    );
    this.handed = this.jobScratch.map(() => undefined);
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
   * Phase 2: aggregates and updates every table. Reproducible: returns with every update stored
   * (the counts), or with the call rolled back (the error). Hogwild: hands the whole call to an
   * idle worker when there is one and returns its result, which settles once the worker is done.
   * A worker thread that exited never loses rows: the calling thread runs them (threads.ts).
   * Under the 'error' policy a row whose new weights or state are not finite refuses the call:
   * every table of it is restored from the undo journal, and the error names the smallest such
   * row of the first table that has one.
   * @returns the counts per table, the refusal, or (hogwild) the result to come.
   * @throws BadInputError for a row sum that overflows (policy 'error'; no table changed), or
   *   the pool's error once it is out of service (its supervisor fell silent).
   */
  update(
    updates: readonly BagUpdate[],
    tables: readonly WasmTable[],
    staged: readonly StagedUpdate[],
  ): BagUpdateResult[] | BadInputError | StepResult<BagUpdateResult[]> {
    // Hogwild: the aggregated rows go to an idle worker's own buffers, and the worker runs the
    // whole call's update while this thread returns (when all are busy, this thread runs it).
    const worker = this.hogwild?.nextCall(HOGWILD_MAX_LAG) ?? -1;
    if (worker >= 0) return this.handOff(updates, tables, staged, worker);
    const aggregated = updates.map((u, i) =>
      aggregateRows(this.k, this.scratch, u, staged[i]!, tableSlot(i), (bytes) =>
        this.scratch.get(tableSlot(i) + TABLE_AGGREGATED, bytes),
      ),
    );
    const journaled = journaledTables(updates);
    const written: number[] = [];
    const results: BagUpdateResult[] = [];
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i]!;
      const agg = aggregated[i]!;
      const stop = (u.nonFinite ?? 'error') === 'error';
      const outcome = this.applyUpdate(i, tables[i]!, agg, u.step, stop, i < journaled);
      if (outcome.badRow >= 0) {
        for (let j = written.length - 1; j >= 0; j--) this.k.exports.rollbackUpdate(written[j]!);
        return nonFiniteRowResult(u.table.name, outcome.badRow);
      }
      if (i < journaled && outcome.block !== 0) written.push(outcome.block);
      results.push(counts(agg, outcome.skipped));
    }
    return results;
  }

  /**
   * Blocks until every update handed to a worker thread (hogwild) is stored (by the calling
   * thread for a worker that exited), and reads their outcomes (a refused one goes to
   * `onFailure` unless awaited).
   * @throws the pool's error once it is out of service.
   */
  settle(): void {
    if (this.hogwild === undefined) return;
    this.hogwild.settle();
    for (const call of this.handed) if (call !== undefined) this.collect(call);
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
   * @returns the call's result (awaiting it waits for the worker), or the counts at once when
   *   no table has a row to update.
   */
  private handOff(
    updates: readonly BagUpdate[],
    tables: readonly WasmTable[],
    staged: readonly StagedUpdate[],
    worker: number,
  ): BagUpdateResult[] | StepResult<BagUpdateResult[]> {
    // The worker is idle: its last call is over; read its outcome before reusing the buffers.
    const previous = this.handed[worker];
    if (previous !== undefined) this.collect(previous);
    const js = this.jobScratch[worker]!;
    const slot = (i: number) => J_TABLE + J_TABLE_SLOTS * i;
    const aggregated = updates.map((u, i) =>
      aggregateRows(this.k, this.scratch, u, staged[i]!, tableSlot(i), (bytes) =>
        js.get(slot(i), bytes),
      ),
    );
    // One work area for the whole job, sized for its widest table: its tables run in turn.
    const width = Math.max(1, ...tables.map((t) => Math.max(t.handle.dim, t.stateSize)));
    const work = js.get(J_WORK, updateScratchBytes(width));
    const journaled = journaledTables(updates);
    const perTable: number[] = [];
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i]!;
      const params = js.get(slot(i) + 1, UPDATE_PARAMS_BYTES);
      const good = this.prepareUpdate(tables[i]!, aggregated[i]!, u.step, params, work, {
        stop: (u.nonFinite ?? 'error') === 'error',
        journal: i < journaled ? (bytes) => js.get(slot(i) + 2, bytes) : null,
      });
      perTable.push(good > 0 ? params : 0);
    }
    const blocks = perTable.filter((b) => b !== 0);
    if (blocks.length === 0) return aggregated.map((agg) => counts(agg, 0));
    const descriptor = js.get(J_DESCRIPTOR, 4 * (1 + updates.length));
    const i32 = this.k.i32();
    i32[descriptor >>> 2] = blocks.length;
    i32.set(blocks, (descriptor >>> 2) + 1);
    const call: HandedCall = {
      worker,
      names: tables.map((t) => t.handle.name),
      blocks: perTable,
      aggregated,
      outcome: undefined,
      result: undefined,
    };
    const result = new StepResult<BagUpdateResult[]>(async () => {
      if (call.outcome === undefined) {
        this.hogwild?.wait(worker);
        this.collect(call);
      }
      const outcome = call.outcome as BagUpdateResult[] | BadInputError;
      if (outcome instanceof BadInputError) throw outcome;
      return outcome;
    });
    call.result = result;
    this.handed[worker] = call;
    const names = call.names.map((n) => `"${n}"`).join(', ');
    const steps = [...new Set(updates.map((u) => u.step))].join(', ');
    this.hogwild?.assign(
      worker,
      descriptor,
      `the update of a backward call (step ${steps}; table${tables.length === 1 ? '' : 's'} ${names})`,
    );
    this.traffic.submissions++;
    return result;
  }

  /**
   * Hogwild: reads the outcome of `call`, whose job is over (its blocks' `done`/`skipped`): the
   * counts, or the refusal of its first table stopped at a non-finite result (the worker rolled
   * the call back). A refusal nobody awaited yet goes to `onFailure`.
   */
  private collect(call: HandedCall): void {
    if (this.handed[call.worker] === call) this.handed[call.worker] = undefined;
    if (call.outcome !== undefined) return;
    const i32 = this.k.i32();
    const results: BagUpdateResult[] = [];
    for (let i = 0; i < call.blocks.length; i++) {
      const block = call.blocks[i]!;
      const p = block >>> 2;
      if (block !== 0 && i32[p + P_DONE]! < i32[p + P_COUNT]!) {
        const row = i32[(i32[p + P_ROWS]! >>> 2) + i32[p + P_DONE]!]!;
        call.outcome = nonFiniteRowResult(call.names[i]!, row);
        const result = call.result;
        if (result !== undefined && !result.observed) this.onFailure(result);
        return;
      }
      results.push(counts(call.aggregated[i]!, block === 0 ? 0 : i32[p + P_SKIPPED]!));
    }
    call.outcome = results;
  }

  /**
   * Drops skipped rows and writes the parameter block of `applyUpdate` at `params` with the
   * work area `work`, the policy (`stop`) and, when `journal` is given, an undo journal from
   * it (called with its size); returns the rows to update.
   */
  private prepareUpdate(
    t: WasmTable,
    agg: AggregatedRows,
    step: number,
    params: number,
    work: number,
    policy: { readonly stop: boolean; readonly journal: ((bytes: number) => number) | null },
  ): number {
    if (agg.count === agg.badCount) return 0;
    const h = t.handle;
    const good = dropSkippedRows(this.k, agg, h.dim);
    const layout = journalLayout(t);
    const journal = policy.journal === null ? 0 : policy.journal(good * layout.stride);
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
      stop: policy.stop,
      journal,
      journalLayout: layout,
    });
    return good;
  }

  /**
   * Runs table `i`'s update on the calling thread, or split by rows across the pool. When a
   * part stops at a non-finite result ('error'), rolls back every part of the table.
   */
  private applyUpdate(
    i: number,
    t: WasmTable,
    agg: AggregatedRows,
    step: number,
    stop: boolean,
    journaled: boolean,
  ): TableOutcome {
    const k = this.k;
    const dim = t.handle.dim;
    const width = Math.max(dim, t.stateSize);
    const work = this.scratch.get(S_UPDATE, updateScratchBytes(width));
    const params = this.scratch.get(tableSlot(i) + TABLE_PARAMS, UPDATE_PARAMS_BYTES);
    const good = this.prepareUpdate(t, agg, step, params, work, {
      stop,
      journal: journaled ? (bytes) => this.scratch.get(tableSlot(i) + TABLE_JOURNAL, bytes) : null,
    });
    if (good === 0) return { block: 0, skipped: 0, badRow: -1 };
    const parts = Math.min(this.threads, Math.floor(good / this.minRowsPerThread));
    if (this.pool === undefined || parts < 2) {
      k.exports.applyUpdate(params);
      return this.outcome([params]);
    }
    // Split the rows into contiguous parts, one per thread. Rows are distinct and each row's
    // update depends only on its own data and its counter-based random bits, so the result is
    // the same for every split: bit-identical to one thread.
    const bytesPerThread = updateScratchBytes(width);
    const works = Array.from({ length: parts }, (_, part) =>
      part === 0 ? work : this.scratch.get(S_WORKER + part, bytesPerThread),
    );
    const stride = journalLayout(t).stride;
    const u8 = k.u8();
    const i32 = k.i32();
    const journal = i32[(params >>> 2) + P_JOURNAL]!;
    const blocks: number[] = [];
    for (let part = parts - 1; part >= 0; part--) {
      const start = Math.floor((good * part) / parts);
      const end = Math.floor((good * (part + 1)) / parts);
      const block = part === 0 ? params : this.workerParams[part - 1]!;
      if (part > 0) {
        u8.copyWithin(block, params, params + UPDATE_PARAMS_BYTES);
        i32[(block >>> 2) + P_SCRATCH] = works[part]!;
      }
      const base = block >>> 2;
      i32[base + P_ROWS] = agg.rows + start * 4;
      i32[base + P_GRADS] = agg.grads + start * dim * 4;
      i32[base + P_COUNT] = end - start;
      if (journal !== 0) i32[base + P_JOURNAL] = journal + start * stride;
      blocks[part] = block;
    }
    this.traffic.submissions++;
    this.pool.run(
      blocks.slice(1),
      () => k.exports.applyUpdate(params),
      `the update of table "${t.handle.name}" (step ${step})`,
    );
    const outcome = this.outcome(blocks);
    if (outcome.badRow < 0) {
      // The whole table in its block, for a rollback should a later table refuse the call.
      const v = k.i32();
      const base = params >>> 2;
      v[base + P_ROWS] = agg.rows;
      v[base + P_GRADS] = agg.grads;
      v[base + P_COUNT] = good;
      v[base + P_DONE] = good;
    }
    return outcome;
  }

  /**
   * The outcome of a table's update from its parts' blocks (part 0 first, rows ascending): the
   * first part that stopped gives the smallest bad row, and then every part is rolled back.
   */
  private outcome(blocks: readonly number[]): TableOutcome {
    const k = this.k;
    const i32 = k.i32();
    let skipped = 0;
    let badRow = -1;
    for (const block of blocks) {
      const p = block >>> 2;
      const done = i32[p + P_DONE]!;
      if (badRow < 0 && done < i32[p + P_COUNT]!) badRow = i32[(i32[p + P_ROWS]! >>> 2) + done]!;
      skipped += i32[p + P_SKIPPED]!;
    }
    if (badRow >= 0) for (const block of blocks) k.exports.rollbackUpdate(block);
    return { block: blocks[0]!, skipped, badRow };
  }
}

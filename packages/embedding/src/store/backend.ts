import {
  type Backend,
  type BackendStats,
  BadInputError,
  type BagInput,
  type BagUpdate,
  type BagUpdateResult,
  bytesPerElement,
  checkBagInput,
  checkBagUpdate,
  checkFiniteGradient,
  checkMatmul,
  checkRowNumbers,
  checkRowsCols,
  checkTableSpec,
  checkWriteRows,
  HostTensors,
  type MatmulArgs,
  nonFiniteRowResult,
  type Pooling,
  StepResult,
  type TableData,
  type TableHandle,
  type TableSpec,
  type Tensor,
  tableHandle,
  UnobservedErrors,
  type WriteRowsOptions,
} from '@halfstep/backend';
import {
  AggregateScratch,
  addBias,
  aggregate,
  bceWithLogits,
  matmul,
  poolRows,
  relu,
  reluBackward,
  sigmoid,
  sumRows,
} from '@halfstep/backend-js';
import {
  decode,
  encode,
  type FormatName,
  type Overflow,
  type RoundingStrategy,
} from '@halfstep/codecs';
import { OrderedQueue } from './queue.js';
import {
  copyBatch,
  type DistinctGradients,
  distinctGradients,
  distinctRows,
  positionsIn,
} from './rows.js';
import type { OpenedTable, StoreUpdateResult, TableStore } from './types.js';

/** What a backward did to one table of a store-backed backend. */
export interface StoreBagUpdateResult extends BagUpdateResult {
  /** Rows whose update the store acknowledged as durable (see `StoreUpdateResult`). */
  readonly acknowledgedRows: number;
  /**
   * Rows whose update has an unknown outcome (the store's `outcomeUnknown` said so of its
   * error, e.g. a failover mid-call): applied or not, the store is intact and training goes on.
   */
  readonly unconfirmedRows: number;
}

/** Options of {@link createStoreBackend}. */
export interface StoreBackendOptions {
  /** Where the tables live: a `MemoryTableStore`, a Redis Cluster store, ... */
  readonly store: TableStore;
  /**
   * This trainer's number, 0 .. workers - 1, when several trainers share the store. The backward
   * of step k updates with optimizer step `k * workers + worker`, so that no two trainers use the
   * same random bits. Default 0.
   */
  readonly worker?: number;
  /** The number of trainers sharing the store. Default 1. */
  readonly workers?: number;
  /** Close the store when the backend is disposed. Default false (the caller owns it). */
  readonly ownsStore?: boolean;
}

/**
 * `nonFiniteRowResult(table, row)` (the same `BadInputError`, fields and opening words), saying
 * what a store did instead of "nothing was updated": the bad row was not written, the step's
 * other rows were.
 */
function storeNonFiniteRowResult(table: string, row: number): BadInputError {
  const error = nonFiniteRowResult(table, row);
  const prefix = `table "${table}": `;
  const message = error.message
    .slice(prefix.length)
    .replace(
      'nothing was updated',
      "this row was not written, but the step's other rows were (a store commits per block)",
    );
  return new BadInputError(error.table, error.argument, error.position, error.value, message);
}

/** A step's outcome inside the queue: results, or the error its promise rejects with. */
type Outcome = { readonly value: StoreBagUpdateResult[] } | { readonly error: unknown };

/**
 * A backend whose tables live in a {@link TableStore} (this process's memory, or a Redis Cluster
 * shared by many trainers): the store is its device. Tensors and the dense ops run on the host
 * (backend-js's kernels); a forward fetches the distinct rows of a batch from the store and pools them with
 * backend-js's arithmetic; a backward sums each row's gradient with backend-js's `aggregate` and
 * sends one summed gradient per distinct row to the store's `applyGradients`. Every operation is
 * queued in call order, as on a GPU, so the collection and the trainer are the same as for any
 * backend. With one writer the tables evolve bit-identically to `@halfstep/backend-js`.
 *
 * A failed store call (a lost connection, a table that does not match) fails the backend: the
 * calls after it reject with the same error, never a silent skip; only an update whose outcome the
 * store calls unknown but harmless (`TableStore.outcomeUnknown`, e.g. a failover) is reported as
 * unconfirmed rows and training goes on.
 *
 * Non-finite values: a gradient that is not finite is handled before anything is sent, as on
 * every backend ('error': the step rejects and no table changes; 'skip-rows': those rows are
 * skipped). A row whose NEW float32 weights or optimizer state are not finite (an overflow from
 * finite inputs) is never written by the store, per row; under 'skip-rows' it counts in
 * `skippedRows`. Under 'error' the step rejects with `nonFiniteRowResult`'s `BadInputError`
 * (naming the smallest such row of the first table, in `updates` order, that has one; its
 * message says that this row was not written but the step's other rows were), **but
 * unlike the other backends the finite rows of the step stay applied**, in every table of the
 * call: a store commits per block, on several masters, without a transaction across blocks, so
 * it cannot take them back. The error is reported, not hidden; the backend goes on working.
 *
 * `stats()` counts the store
 * traffic: rows fetched (downloads), gradients sent (uploads), store calls (submissions).
 * `writeRows`, `exportTable` and `importTable` are not offered by stores yet: a table's initial
 * weights come from its spec's `init`.
 */
export class StoreBackend implements Backend {
  /** Always "store"; `store.kind` says which store. */
  readonly name = 'store';
  /** The store holding the tables. */
  readonly store: TableStore;
  /** This trainer's number (see `StoreBackendOptions.worker`). */
  readonly worker: number;
  /** The number of trainers sharing the store. */
  readonly workers: number;
  readonly #ownsStore: boolean;
  readonly #tensors = new HostTensors('store');
  readonly #dead = new WeakSet<Tensor>();
  readonly #tables = new Map<number, TableHandle>();
  readonly #scratch = new Map<number, AggregateScratch>();
  readonly #opened: OpenedTable[] = [];
  readonly #unobserved = new UnobservedErrors();
  readonly #stats = { uploadBytes: 0, downloadBytes: 0, submissions: 0 };
  readonly #queue = new OrderedQueue();
  #nextId = 1;
  #disposed = false;

  /** @internal Use `createStoreBackend`. */
  constructor(options: StoreBackendOptions) {
    this.store = options.store;
    this.worker = options.worker ?? 0;
    this.workers = options.workers ?? 1;
    this.#ownsStore = options.ownsStore ?? false;
  }

  /** What opening each table did (created or attached), in creation order, once flushed. */
  get opened(): readonly OpenedTable[] {
    return this.#opened;
  }

  #live(): void {
    if (this.#disposed) throw new Error('backend "store" was disposed');
  }

  #table(table: TableHandle): TableHandle {
    this.#live();
    if (this.#tables.get(table?.id) !== table)
      throw new Error(`table "${table?.name}" does not belong to this backend (or was disposed)`);
    return table;
  }

  /** The values of a tensor of this backend (checked now; read when the queue gets there). */
  #data(tensor: Tensor, name: string, atLeast = 0): Float32Array {
    this.#live();
    // Disposed at the call, freed when the queue gets there: dead from now on either way.
    if (this.#dead.has(tensor)) {
      throw new TypeError(
        `${name}: not a tensor of backend "store" (made by "${tensor.backend}", or disposed)`,
      );
    }
    return this.#tensors.data(tensor, name, atLeast);
  }

  stats(): BackendStats {
    const host = this.#tensors.stats();
    return {
      uploadBytes: host.uploadBytes + this.#stats.uploadBytes,
      downloadBytes: host.downloadBytes + this.#stats.downloadBytes,
      submissions: this.#stats.submissions,
    };
  }

  async flush(): Promise<void> {
    this.#live();
    await this.#queue.settled();
    await this.#unobserved.report();
  }

  // --- tensors (host memory, in queue order) -------------------------------------------------

  tensor(valuesOrSize: Float32Array | number): Tensor {
    this.#live();
    return this.#tensors.create(valuesOrSize);
  }

  write(tensor: Tensor, values: Float32Array, offset = 0): void {
    const data = this.#data(tensor, 'tensor');
    if (!(values instanceof Float32Array)) throw new TypeError('values: expected a Float32Array');
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + values.length > data.length) {
      throw new RangeError(
        `write: ${values.length} values at offset ${offset} do not fit a tensor of ${data.length}`,
      );
    }
    const copy = values.slice();
    this.#queue.enqueue(() => this.#tensors.write(tensor, copy, offset));
  }

  async read(tensor: Tensor): Promise<Float32Array> {
    this.#data(tensor, 'tensor');
    return this.#queue.ask(() => this.#tensors.read(tensor));
  }

  disposeTensor(tensor: Tensor): void {
    this.#data(tensor, 'tensor');
    this.#dead.add(tensor);
    this.#queue.enqueue(() => this.#tensors.dispose(tensor));
  }

  // --- tables --------------------------------------------------------------------------------

  createTable(spec: TableSpec): TableHandle {
    this.#live();
    checkTableSpec(spec);
    this.store.checkSpec?.(spec);
    const stateBytes =
      spec.rows *
      spec.optimizer.stateSize(spec.dim) *
      (spec.optimizer.stateStorage === 'float32' ? 4 : 2);
    const handle = tableHandle(
      spec,
      this.#nextId++,
      spec.rows * spec.dim * bytesPerElement(spec.storage),
      stateBytes,
    );
    this.#tables.set(handle.id, handle);
    this.#queue.enqueue(async () => {
      this.#stats.submissions++;
      const [opened] = await this.store.openTables([spec]);
      if (opened) this.#opened.push(opened);
    });
    return handle;
  }

  disposeTable(table: TableHandle): void {
    this.#table(table);
    this.#tables.delete(table.id);
    this.#scratch.delete(table.id);
  }

  async readRows(table: TableHandle, rows?: Int32Array): Promise<Float32Array> {
    this.#table(table);
    checkRowNumbers(table, rows);
    const ids =
      rows === undefined ? Int32Array.from({ length: table.rows }, (_, i) => i) : rows.slice();
    return this.#queue.ask(async () => {
      this.#stats.submissions++;
      const values = await this.store.readRows(table.name, ids);
      this.#stats.downloadBytes += values.byteLength;
      return values;
    });
  }

  /**
   * Not offered yet: throws, after the shared checks of `writeRows` (`checkWriteRows`), so that
   * bad values get the same RangeError as on any backend.
   */
  writeRows(
    table: TableHandle,
    values: Float32Array,
    rows?: Int32Array,
    options?: WriteRowsOptions,
  ): void {
    this.#table(table);
    checkWriteRows(table, values, rows, options);
    throw new Error(
      `writeRows: the ${this.store.kind} store does not write rows directly; give a table's initial values as its init`,
    );
  }

  async exportTable(table: TableHandle): Promise<TableData> {
    this.#table(table);
    throw new Error(`exportTable: the ${this.store.kind} store does not export tables yet`);
  }

  importTable(table: TableHandle): void {
    this.#table(table);
    throw new Error(`importTable: the ${this.store.kind} store does not import tables yet`);
  }

  // --- codecs (pure host functions) --------------------------------------------------------

  encode(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow?: Overflow,
  ): Promise<void> {
    this.#live();
    encode(format, src, { out, rounding, overflow });
    return Promise.resolve();
  }

  decode(format: FormatName, codes: Uint16Array | Uint8Array, out: Float32Array): Promise<void> {
    this.#live();
    decode(format, codes, out);
    return Promise.resolve();
  }

  // --- embedding kernels ---------------------------------------------------------------------

  embeddingBagForward(table: TableHandle, input: BagInput, pooling: Pooling, out: Tensor): void {
    this.#table(table);
    checkBagInput(table.name, table.rows, input, pooling);
    const pooled = this.#data(out, 'out', input.offsets.length * table.dim);
    const batch = copyBatch(input);
    this.#queue.enqueue(async () => {
      const rows = distinctRows(batch.indices);
      this.#stats.submissions++;
      const values = await this.store.readRows(table.name, rows);
      this.#stats.downloadBytes += values.byteLength;
      poolRows(
        values,
        table.dim,
        { ...batch, indices: positionsIn(rows, batch.indices) },
        pooling,
        pooled,
      );
    });
  }

  embeddingBagBackward(updates: readonly BagUpdate[]): StepResult<BagUpdateResult[]> {
    // The order of the other backends' checks, so that a call with several faults gets the
    // same error everywhere: tables, then each batch and shape, then the gradients' tensors.
    const seen = new Set<number>();
    for (const u of updates) {
      this.#table(u.table);
      if (seen.has(u.table.id))
        throw new RangeError(`table "${u.table.name}" appears twice in one backward call`);
      seen.add(u.table.id);
    }
    for (const u of updates) checkBagUpdate(u);
    for (const u of updates) this.#data(u.gradOutput, 'gradOutput');
    const queued = updates.map((u) => ({
      ...u,
      input: copyBatch(u.input),
      step: u.step * this.workers + this.worker,
    }));
    const outcome = this.#queue.ask(() => this.#applyStep(queued));
    const result = new StepResult<BagUpdateResult[]>(async () => {
      const o = await outcome;
      if ('error' in o) throw o.error;
      return o.value;
    });
    outcome.then(
      (o) => {
        if ('error' in o) this.#unobserved.add(result);
      },
      () => undefined, // a store failure fails the backend: flush and every later call report it
    );
    return result;
  }

  /** One queued backward: checks on the gradients' values, aggregation, then the store. */
  async #applyStep(updates: readonly BagUpdate[]): Promise<Outcome> {
    const grads = updates.map((u) => this.#tensors.data(u.gradOutput));
    const summed: DistinctGradients[] = [];
    for (let k = 0; k < updates.length; k++) {
      const u = updates[k]!;
      const error = checkFiniteGradient(u, grads[k]!);
      if (error) return { error };
      let scratch = this.#scratch.get(u.table.id);
      if (!scratch) {
        scratch = new AggregateScratch();
        this.#scratch.set(u.table.id, scratch);
      }
      try {
        summed.push(
          distinctGradients(
            aggregate({ ...u, gradOutput: grads[k]! }, scratch),
            grads[k]!,
            u.table.dim,
          ),
        );
      } catch (error) {
        return { error }; // a row sum that overflows: nothing was sent
      }
    }
    const settled = await Promise.allSettled(
      summed.map((s, k) => {
        if (s.rows.length === 0)
          return Promise.resolve<StoreUpdateResult>({
            updatedRows: 0,
            acknowledgedRows: 0,
            nonFiniteRows: 0,
            firstNonFiniteRow: -1,
          });
        this.#stats.submissions++;
        this.#stats.uploadBytes += s.rows.byteLength + s.gradients.byteLength;
        return this.store.applyGradients(
          updates[k]!.table.name,
          s.rows,
          s.gradients,
          updates[k]!.step,
        );
      }),
    );
    const fatal = settled.find(
      (s) => s.status === 'rejected' && !this.store.outcomeUnknown?.(s.reason),
    );
    if (fatal) {
      // Some rows may have been written: the backend fails rather than train on.
      throw this.#queue.fail((fatal as PromiseRejectedResult).reason);
    }
    // Rows whose new weights or state were not finite: the store left them unchanged (per row,
    // whatever the policy). Under 'error' the step rejects naming the smallest such row of the
    // first table that has one, but the other rows of every table stay written: a store commits
    // per block (on several masters) and cannot undo them.
    for (let k = 0; k < updates.length; k++) {
      const s = settled[k]!;
      const u = updates[k]!;
      if (s.status === 'fulfilled' && s.value.nonFiniteRows > 0 && u.nonFinite !== 'skip-rows')
        return { error: storeNonFiniteRowResult(u.table.name, s.value.firstNonFiniteRow) };
    }
    return {
      value: settled.map((s, k) => {
        if (s.status === 'rejected') {
          return {
            updatedRows: 0,
            skippedRows: summed[k]!.skipped,
            acknowledgedRows: 0,
            unconfirmedRows: summed[k]!.rows.length,
          };
        }
        return {
          updatedRows: s.value.updatedRows,
          skippedRows: summed[k]!.skipped + s.value.nonFiniteRows,
          acknowledgedRows: s.value.acknowledgedRows,
          unconfirmedRows: 0,
        };
      }),
    };
  }

  // --- dense ops (host, in queue order) ----------------------------------------------------

  matmul(args: MatmulArgs): void {
    this.#live();
    checkMatmul(args);
    const arrays = {
      ...args,
      a: this.#data(args.a, 'a'),
      b: this.#data(args.b, 'b'),
      c: this.#data(args.c, 'c'),
    };
    this.#queue.enqueue(() => matmul(arrays));
  }

  addBias(x: Tensor, bias: Tensor, rows: number, cols: number): void {
    checkRowsCols(rows, cols);
    const xs = this.#data(x, 'x', rows * cols);
    const b = this.#data(bias, 'bias', cols);
    this.#queue.enqueue(() => addBias(xs, b, rows, cols));
  }

  relu(x: Tensor, out: Tensor): void {
    const xs = this.#data(x, 'x');
    const o = this.#data(out, 'out', x.size);
    this.#queue.enqueue(() => relu(xs, o));
  }

  reluBackward(grad: Tensor, x: Tensor, out: Tensor): void {
    const g = this.#data(grad, 'grad');
    const xs = this.#data(x, 'x', grad.size);
    const o = this.#data(out, 'out', grad.size);
    this.#queue.enqueue(() => reluBackward(g, xs, o));
  }

  sigmoid(x: Tensor, out: Tensor): void {
    const xs = this.#data(x, 'x');
    const o = this.#data(out, 'out', x.size);
    this.#queue.enqueue(() => sigmoid(xs, o));
  }

  bceWithLogits(logits: Tensor, labels: Tensor, loss: Tensor, grad?: Tensor): void {
    const x = this.#data(logits, 'logits');
    const y = this.#data(labels, 'labels', x.length).subarray(0, x.length);
    const l = this.#data(loss, 'loss', 1);
    const g = grad === undefined ? undefined : this.#data(grad, 'grad', x.length);
    this.#queue.enqueue(() => {
      l[0] = bceWithLogits(x, y, g);
    });
  }

  sumRows(x: Tensor, rows: number, cols: number, out: Tensor): void {
    checkRowsCols(rows, cols);
    const xs = this.#data(x, 'x', rows * cols);
    const o = this.#data(out, 'out', cols);
    this.#queue.enqueue(() => sumRows(xs, rows, cols, o));
  }

  /** Frees the host memory; closes the store when the backend owns it. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#tensors.clear();
    this.#tables.clear();
    if (this.#ownsStore) void this.store.close().catch(() => undefined);
  }

  /** Waits for the queued work, then closes the store when the backend owns it. */
  async close(): Promise<void> {
    await this.#queue.settled().catch(() => undefined);
    const owns = this.#ownsStore && !this.#disposed;
    this.#disposed = true;
    this.#tensors.clear();
    if (owns) await this.store.close();
  }
}

/**
 * A backend over `options.store` (see {@link StoreBackend}).
 *
 * Known limit: under the default `nonFinite: 'error'`, a step in which some row's new weights or
 * optimizer state are not finite rejects (`nonFiniteRowResult`) while the finite rows of that
 * step stay applied (the bad rows are never written); on the other backends such a step changes
 * nothing. A store commits per block, across masters, without a cross-block transaction.
 * @throws RangeError for a bad `worker` / `workers`.
 *
 * @example
 * ```ts
 * import { createEmbeddingBagCollection, createMemoryTableStore, createStoreBackend } from '@halfstep/embedding';
 * import { sgd } from '@halfstep/optim';
 *
 * const store = await createMemoryTableStore(); // or a Redis Cluster store
 * const backend = createStoreBackend({ store });
 * const tables = await createEmbeddingBagCollection(
 *   [{ name: 'users', rows: 100, dim: 8, optimizer: sgd({ lr: 0.1 }) }],
 *   { backend },
 * );
 * const forward = tables.forward([{ indices: [1, 2, 3], offsets: [0, 2] }]);
 * await tables.backward(forward, [new Float32Array(16).fill(0.1)]);
 * console.log(backend.opened); // [{ name: 'users', created: true }]
 * ```
 */
export function createStoreBackend(options: StoreBackendOptions): StoreBackend {
  const workers = options.workers ?? 1;
  const worker = options.worker ?? 0;
  if (!Number.isInteger(workers) || workers < 1)
    throw new RangeError(`workers must be a positive integer, got ${workers}`);
  if (!Number.isInteger(worker) || worker < 0 || worker >= workers)
    throw new RangeError(`worker must be an integer in [0, ${workers}), got ${worker}`);
  if (typeof options.store?.openTables !== 'function')
    throw new TypeError('store: expected a TableStore');
  return new StoreBackend(options);
}

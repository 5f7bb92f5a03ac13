/**
 * # Table stores: the contract
 *
 * A {@link TableStore} keeps the rows of embedding tables somewhere (this process's memory, or a
 * Redis Cluster shared by many trainers) and runs the sparse optimizer step on them. A
 * `StoreBackend` (`createStoreBackend`) turns any store into a halfstep `Backend`, so that the
 * one `EmbeddingBagCollection` trains on it: it fetches the distinct rows a batch touches
 * (`readRows`), pools them exactly as `@halfstep/backend-js` does, and on backward sums the
 * gradients of duplicate rows exactly as backend-js does before handing one summed gradient per
 * distinct row to `applyGradients`.
 *
 * Contract every store keeps:
 * - Tables are addressed by name. `openTables` creates the tables that do not exist yet
 *   (weights initialised from the spec's `init` and seed: `initialRows` of `@halfstep/backend`,
 *   optimizer state at each slot's `initial`) and attaches to those that do, after checking that
 *   rows, dim, storage, rounding, optimizer kind and options, and seed match
 *   ({@link TableMismatchError} otherwise, naming the table and the field). Several processes may
 *   open the same tables concurrently: exactly one creates each.
 * - `readRows(table, rows)` returns rows x dim decoded float32 values, in the order asked
 *   (duplicates allowed). A missing table or a damaged row is an error naming the table and the
 *   row; a store never returns zeros for a row it cannot read.
 * - `applyGradients(table, rows, gradients, step)`: `rows` are distinct; `gradients` is
 *   rows x dim float32 (already summed per row, all finite). Each row is updated atomically:
 *   decode weights and state to float32, `optimizer.updateRow`, store with the table's rounding,
 *   the stochastic bits being the counter-based bits of (seed, step, table index, row) (see
 *   `@halfstep/backend`'s README). For one writer and the same sequence of calls the stored bytes
 *   are bit-identical to `EmbeddingBagCollection` on `@halfstep/backend-js`.
 * - A row whose new float32 weights or optimizer state are not finite (checked before rounding
 *   to the storage format, as `@halfstep/backend-js` does; a finite value beyond a 16/8-bit
 *   format's range still saturates) is never written: its weights and state keep every bit, the
 *   other rows of the call are written exactly as if it were not there (a row's random bits
 *   depend only on (seed, step, table, row)), and the result reports it (`nonFiniteRows`,
 *   `firstNonFiniteRow`). This is per row, whatever the caller's `nonFinite` policy: a store
 *   cannot undo the rows it already wrote (a Redis store commits per block, on several masters),
 *   so a `StoreBackend` maps the report to the policy (see `createStoreBackend`).
 * - `close()` releases connections/memory; the store is unusable afterwards.
 *
 * @module
 */
import type { TableSpec } from '@halfstep/backend';

/** What `openTables` did for one table. */
export interface OpenedTable {
  /** The table's name. */
  readonly name: string;
  /** True when this call created the table, false when it attached to an existing one. */
  readonly created: boolean;
}

/** What one `applyGradients` call did. */
export interface StoreUpdateResult {
  /** Rows whose update the store confirmed applied. */
  readonly updatedRows: number;
  /**
   * Rows whose update was applied and acknowledged as durable by the store's durability rule
   * (for the in-memory store: every updated row; for a replicated store: applied and copied to
   * the required number of replicas).
   */
  readonly acknowledgedRows: number;
  /**
   * Rows left unchanged (weights and state, every bit) because their new float32 weights or
   * optimizer state were not finite (NaN or infinite, before rounding to the storage format).
   * Counted in neither `updatedRows` nor `acknowledgedRows`.
   */
  readonly nonFiniteRows: number;
  /** The smallest row counted in `nonFiniteRows`, or -1 when there is none. */
  readonly firstNonFiniteRow: number;
}

/** A place that holds embedding tables and applies sparse optimizer steps to their rows. */
export interface TableStore {
  /** What kind of store this is, e.g. "memory" or "redis-cluster". */
  readonly kind: string;
  /**
   * Creates the tables that do not exist and attaches to those that do.
   * @throws TableMismatchError when an existing table differs from its spec.
   */
  openTables(specs: readonly TableSpec[]): Promise<OpenedTable[]>;
  /**
   * Decoded float32 values of `rows` of `table`, rows x dim, in the order given.
   * @throws Error naming the table (and the row) when the table was not opened, a row is out of
   *   range, or a row cannot be read.
   */
  readRows(table: string, rows: Int32Array): Promise<Float32Array>;
  /**
   * Applies one optimizer step to distinct `rows` of `table` with their summed float32
   * `gradients` (rows x dim), at optimizer step `step`. A row whose result is not finite is
   * not written and is reported (`nonFiniteRows`, `firstNonFiniteRow`): that is not an error.
   * @throws Error naming the table when the arguments are bad (nothing is written), or naming the
   *   table and row when the store fails.
   */
  applyGradients(
    table: string,
    rows: Int32Array,
    gradients: Float32Array,
    step: number,
  ): Promise<StoreUpdateResult>;
  /** Releases the store's resources; it is unusable afterwards. */
  close(): Promise<void>;
  /**
   * Whether `error`, thrown by `applyGradients`, leaves the update's outcome unknown without
   * harming the store (e.g. a master failing over mid-call: applied or not, the rows are intact).
   * A `StoreBackend` then reports the rows as unconfirmed and trains on instead of failing.
   * Absent: every failure is fatal.
   */
  outcomeUnknown?(error: unknown): boolean;
  /**
   * Checks what only this store limits (names, storage formats, row width), synchronously, so
   * that a `StoreBackend`'s `createTable` throws before anything is queued.
   * @throws RangeError naming the table and the limit.
   */
  checkSpec?(spec: TableSpec): void;
}

/** An existing table differs from the spec it was opened with. */
export class TableMismatchError extends Error {
  /** The table's name. */
  readonly table: string;
  /** The field that differs, e.g. "dim". */
  readonly field: string;

  /**
   * @param table - the table's name.
   * @param field - the field that differs.
   * @param stored - the stored value.
   * @param requested - the value asked for.
   */
  constructor(table: string, field: string, stored: unknown, requested: unknown) {
    super(
      `table "${table}": the stored table has ${field} = ${String(stored)}, but ${String(requested)} was requested`,
    );
    this.name = 'TableMismatchError';
    this.table = table;
    this.field = field;
  }
}

import {
  type Backend,
  BadInputError,
  type NonFinitePolicy,
  nonFiniteRowResult,
  type TableHandle,
  type TableSpec,
} from '@halfstep/backend';
import { resolveBackend } from '../backend.js';
import { checkApplyArguments, checkTableIdentity, tableIdentity } from './checks.js';
import type { OpenedTable, StoreUpdateResult, TableStore } from './types.js';

interface MemoryTable {
  readonly spec: TableHandle;
  readonly handle: TableHandle;
  readonly identity: Record<string, string | number>;
  /** 0, 1, ..., n - 1: the offsets of n one-row bags. */
  offsets: Int32Array;
}

/**
 * The row named by `error` when it is the backend's refusal of a row whose result is not finite
 * (`nonFiniteRowResult` of `table`), else null.
 */
function nonFiniteRowOf(error: unknown, table: string): number | null {
  if (!(error instanceof BadInputError) || error.table !== table) return null;
  return error.message === nonFiniteRowResult(table, error.value).message ? error.value : null;
}

/**
 * The default store: tables in this process, on a halfstep `Backend` (the JS backend unless
 * given). `applyGradients` runs the backend's fused update on one-row bags, so training through
 * it is bit-identical to `EmbeddingBagCollection` on the same backend.
 *
 * A row whose new weights or state are not finite is skipped per row, as in every store (see
 * `TableStore`): the fused update runs with `nonFinite: 'error'` first, which writes nothing and
 * names the smallest such row when there is one; only then does it run again with
 * `nonFinite: 'skip-rows'`, which writes the other rows with the bits they get anyway. The common
 * step (every row finite) is one pass.
 */
export class MemoryTableStore implements TableStore {
  /** Always "memory". */
  readonly kind = 'memory';
  /** The backend holding the tables. */
  readonly backend: Backend;
  readonly #tables = new Map<string, MemoryTable>();
  #closed = false;

  /** @param backend - the backend that owns the tables' memory. */
  constructor(backend: Backend) {
    this.backend = backend;
  }

  #table(name: string): MemoryTable {
    if (this.#closed) throw new Error('this memory table store was closed');
    const t = this.#tables.get(name);
    if (!t) throw new Error(`table "${name}" is not open in this store (call openTables first)`);
    return t;
  }

  /** Creates the missing tables (initialised from their `init`) and checks the existing ones. */
  async openTables(specs: readonly TableSpec[]): Promise<OpenedTable[]> {
    if (this.#closed) throw new Error('this memory table store was closed');
    const opened: OpenedTable[] = [];
    for (const spec of specs) {
      const existing = this.#tables.get(spec.name);
      if (existing) {
        checkTableIdentity(spec, existing.identity);
        opened.push({ name: spec.name, created: false });
        continue;
      }
      const handle = this.backend.createTable(spec);
      this.#tables.set(spec.name, {
        spec: handle,
        handle,
        identity: tableIdentity(spec),
        offsets: new Int32Array(0),
      });
      opened.push({ name: spec.name, created: true });
    }
    return opened;
  }

  /** Decoded rows, rows x dim. @throws RangeError naming the table for a row out of range. */
  async readRows(table: string, rows: Int32Array): Promise<Float32Array> {
    const t = this.#table(table);
    return this.backend.readRows(t.handle, rows);
  }

  /**
   * One optimizer step on distinct rows, through the backend's fused update. A row whose result
   * is not finite is left unchanged and reported (`nonFiniteRows`, `firstNonFiniteRow`).
   */
  async applyGradients(
    table: string,
    rows: Int32Array,
    gradients: Float32Array,
    step: number,
  ): Promise<StoreUpdateResult> {
    const t = this.#table(table);
    checkApplyArguments(t.spec, rows, gradients, step);
    const n = rows.length;
    if (t.offsets.length < n) {
      t.offsets = new Int32Array(Math.max(n, 2 * t.offsets.length));
      for (let i = 0; i < t.offsets.length; i++) t.offsets[i] = i;
    }
    const gradOutput = this.backend.tensor(gradients);
    const update = (nonFinite: NonFinitePolicy) =>
      this.backend.embeddingBagBackward([
        {
          table: t.handle,
          input: { indices: rows, offsets: t.offsets.subarray(0, n) },
          pooling: 'sum',
          gradOutput,
          step,
          nonFinite,
        },
      ]);
    try {
      try {
        const [result] = await update('error');
        const updated = result!.updatedRows;
        return {
          updatedRows: updated,
          acknowledgedRows: updated,
          nonFiniteRows: 0,
          firstNonFiniteRow: -1,
        };
      } catch (error) {
        const row = nonFiniteRowOf(error, table);
        if (row === null) throw error;
        // Nothing was written: write the finite rows, with the bits they get anyway.
        const [result] = await update('skip-rows');
        const updated = result!.updatedRows;
        return {
          updatedRows: updated,
          acknowledgedRows: updated,
          nonFiniteRows: result!.skippedRows,
          firstNonFiniteRow: row,
        };
      }
    } finally {
      this.backend.disposeTensor(gradOutput);
    }
  }

  /** The backend handle of an open table (for `exportTable` and other backend-level access). */
  handle(table: string): TableHandle {
    return this.#table(table).handle;
  }

  /** Frees every table on the backend (the backend stays usable). */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const t of this.#tables.values()) this.backend.disposeTable(t.handle);
    this.#tables.clear();
    this.#closed = true;
  }
}

/**
 * A memory store on `backend` (an instance, or a registered backend's name; default "js").
 */
export async function createMemoryTableStore(
  backend?: Backend | string,
): Promise<MemoryTableStore> {
  return new MemoryTableStore(await resolveBackend(backend));
}

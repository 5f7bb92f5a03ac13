import { createStoreBackend, type TableStore } from '@halfstep/embedding';
import { type DlrmTablesSpec, EmbeddingTables } from '../model/embeddings.js';

/** What {@link openStoreTables} needs. */
export interface StoreTablesOptions extends DlrmTablesSpec {
  /** Where the rows live (the caller owns it and closes it). */
  readonly store: TableStore;
  /** Run seed: the tables' init and rounding bits derive from it as in `EmbeddingTables`. */
  readonly seed: number;
  /** This worker's number, 0 .. workers - 1. */
  readonly worker: number;
  /** Workers sharing the tables. */
  readonly workers: number;
}

/**
 * The embedding bags of a DLRM kept in a {@link TableStore}: the same {@link EmbeddingTables}
 * as an in-memory run (names `C1`.., DLRM's uniform init, seed derived the same way, one lookup
 * per bag, sum pooling), on `@halfstep/embedding`'s store backend. Local step k of worker w
 * updates with optimizer step `k * workers + w`, so that no two workers use the same
 * stochastic-rounding bits; with one worker that is step k, and on the memory store the tables
 * evolve bit-identically to an in-memory run. Opens the tables (creating them when missing,
 * initialised from the seed); disposing them leaves the store open (its owner closes it).
 */
export function openStoreTables(options: StoreTablesOptions): Promise<EmbeddingTables> {
  const backend = createStoreBackend({
    store: options.store,
    worker: options.worker,
    workers: options.workers,
  });
  return EmbeddingTables.create({ ...options, backend });
}

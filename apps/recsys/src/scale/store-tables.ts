import { bytesPerElement } from '@halfstep/backend';
import {
  createStoreEmbeddingBagCollection,
  type StoreEmbeddingBagCollection,
  type TableStore,
} from '@halfstep/embedding';
import type { DlrmTables } from '../model/dlrm.js';
import {
  type DlrmTablesSpec,
  dlrmTableConfigs,
  dlrmTablesSeed,
  OneLookupBags,
} from '../model/embeddings.js';

/** What {@link StoreTables.open} needs. */
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
 * The embedding bags of a DLRM kept in a {@link TableStore}: the same tables as
 * `EmbeddingTables` (names `C1`.., DLRM's uniform init, seed derived the same way, one lookup per
 * bag, sum pooling), through `@halfstep/embedding`'s `StoreEmbeddingBagCollection`. Local step
 * k of worker w updates with optimizer step `k * workers + w`, so that no two workers use the
 * same stochastic-rounding bits; with one worker that is step k, and on the memory store the
 * tables evolve bit-identically to `EmbeddingTables`.
 */
export class StoreTables implements DlrmTables {
  readonly #batches = new OneLookupBags();

  /** The `@halfstep/embedding` collection that reads and updates the rows in the store. */
  readonly collection: StoreEmbeddingBagCollection;
  /** What the tables were opened with. */
  readonly options: StoreTablesOptions;

  private constructor(collection: StoreEmbeddingBagCollection, options: StoreTablesOptions) {
    this.collection = collection;
    this.options = options;
  }

  /** Opens (creating when missing, initialised from the seed) the tables in `options.store`. */
  static async open(options: StoreTablesOptions): Promise<StoreTables> {
    const collection = await createStoreEmbeddingBagCollection(dlrmTableConfigs(options), {
      seed: dlrmTablesSeed(options.seed),
      store: options.store,
      worker: options.worker,
      workers: options.workers,
    });
    return new StoreTables(collection, options);
  }

  /** Number of tables. */
  get count(): number {
    return this.collection.configs.length;
  }

  /** The tables' names in the store. */
  get names(): string[] {
    return this.collection.configs.map((c) => c.name);
  }

  /** Exact bytes of the stored weights of every table (rows x dim x bytes per element). */
  get weightBytes(): number {
    const { tableSizes, dim, precision } = this.options;
    const per = bytesPerElement(precision.storage);
    return tableSizes.reduce((sum, rows) => sum + rows * dim * per, 0);
  }

  /** Exact bytes of the optimizer state of every table. */
  get stateBytes(): number {
    const { tableSizes, dim, optimizer } = this.options;
    const per = optimizer.stateStorage === 'float32' ? 4 : 2;
    return tableSizes.reduce((sum, rows) => sum + rows * optimizer.stateSize(dim) * per, 0);
  }

  /**
   * Pooled lookups of a batch (`sparse`: `batch x tables` row indices, example-major), one
   * `batch x dim` array per table, from rows fetched from the store; kept for `update`.
   */
  lookup(sparse: Int32Array, batch: number): Promise<Float32Array[]> {
    return this.collection.forward(this.#batches.of(sparse, batch, this.count));
  }

  /** Applies d loss / d pooled output of the last lookup in the store; advances the local step. */
  async update(grads: readonly Float32Array[]): Promise<void> {
    await this.collection.backward(grads);
  }

  /** Nothing to free here: the rows stay in the store, which its owner closes. */
  dispose(): void {}
}

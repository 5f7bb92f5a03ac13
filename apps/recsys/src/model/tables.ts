import type { Backend, BagUpdateResult, Tensor } from '@halfstep/backend';

/**
 * The embedding tables of a `Dlrm`'s step, wherever their rows live: the in-memory
 * `EmbeddingTables` (pooled outputs are backend tensors) or tables in a store (pooled
 * outputs fetched into host arrays). One lookup at a time: `update` or `release` ends it.
 */
export interface DlrmTables {
  /** The backend holding the tables and their pooled outputs (may differ from the model's). */
  readonly backend: Backend;
  /** Number of tables (one pooled vector per table per example). */
  readonly count: number;
  /** Exact bytes of the stored weights of every table. */
  readonly weightBytes: number;
  /** Exact bytes of the optimizer state of every table. */
  readonly stateBytes: number;
  /**
   * Pooled lookups of a batch (`sparse`: `batch x tables` row indices, example-major): one
   * `batch x dim` tensor or host array per table, valid until `update` or `release`; the lookup
   * is kept for `update`.
   */
  lookup(sparse: Int32Array, batch: number): Promise<readonly (Tensor | Float32Array)[]>;
  /**
   * Applies d loss / d pooled output (`grads[t]`, `batch x dim`) of the last lookup (sparse
   * optimizer update, rounded store) and advances the step. Rejects, changing nothing in the
   * in-memory tables, for a gradient that is not finite.
   */
  update(grads: readonly Float32Array[]): Promise<BagUpdateResult[]>;
  /** Ends the last lookup without an update (evaluation); no-op when there is none. */
  release(): void;
  /** Frees the tables' memory (a remote store closes its connections elsewhere). */
  dispose(): void;
}

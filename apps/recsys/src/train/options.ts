import type { Backend } from '@halfstep/backend';
import type { DlrmConfig } from '../model/config.js';
import type { EmbeddingTables, EmbeddingTablesOptions } from '../model/embeddings.js';
import type { Precision } from '../model/precision.js';
import type { DataSource } from './data-source.js';
import type { OptimizerSettings } from './dense-optimizer.js';
import type { CurvePoint } from './state.js';

/** What defines a run's embedding tables; {@link TrainOptions.openTables} opens them from it. */
export type TablesSpec = Omit<EmbeddingTablesOptions, 'backend'>;

/** Everything a training run needs. */
export interface TrainOptions {
  readonly backend: Backend;
  readonly config: DlrmConfig;
  readonly precision: Precision;
  readonly optimizer: OptimizerSettings;
  /** The training examples of every epoch (the whole data, or one worker's shard) and validation. */
  readonly data: DataSource;
  readonly batchSize: number;
  readonly epochs: number;
  /** Seeds the dense init, the tables' init and the stochastic rounding bits. */
  readonly seed: number;
  /**
   * Opens the embedding tables from their spec somewhere else than in memory on `backend`, e.g.
   * in a store (`openStoreTables`). Default: in memory on `backend`.
   */
  readonly openTables?: (spec: TablesSpec) => Promise<EmbeddingTables>;
  /**
   * At the end of each epoch, read the training loss (so that the epoch's last event has one)
   * and validate (default true). A data-parallel worker does neither: its dense part means
   * something only once averaged with the others', which its caller does after the run.
   */
  readonly validateEachEpoch?: boolean;
  /** Also validate every this many batches (0 or absent: only at the end of each epoch). */
  readonly evalEvery?: number;
  /** Validation batch size (default max(batchSize, 1024)). */
  readonly evalBatchSize?: number;
  /** Save to (and resume from) this folder at the end of each epoch and every `checkpointEvery` batches. */
  readonly checkpointDir?: string;
  readonly checkpointEvery?: number;
  /** Stop (and checkpoint) after this many steps in total, as if interrupted. */
  readonly maxSteps?: number;
  /** Read the training loss from the backend every this many steps (default 50; see `BatchEvent.loss`). */
  readonly lossEvery?: number;
  /** Called after every training batch. */
  readonly onBatch?: (event: BatchEvent) => void;
  /** Called after every validation. */
  readonly onEval?: (point: CurvePoint) => void;
  /** Log lines (resume, checkpoints, and those of the run's hooks). */
  readonly log?: (line: string) => void;
}

/** What `TrainOptions.onBatch` sees. */
export interface BatchEvent {
  readonly step: number;
  readonly epoch: number;
  readonly examplesSeen: number;
  /**
   * Mean training loss of the batches since the last event that had one: set every `lossEvery`
   * steps, at the end of each epoch (unless `validateEachEpoch` is false) and where a hook asks
   * (the loss stays on the backend in between).
   */
  readonly loss?: number;
  /** Training examples per second so far (training steps only). */
  readonly examplesPerSecond: number;
}

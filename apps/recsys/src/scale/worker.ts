import type { Backend } from '@halfstep/backend';
import type { TableStore } from '@halfstep/embedding';
import type { Precision } from '../model/precision.js';
import { progressOf, trainOptionsOf } from '../run.js';
import type { RunSettings } from '../settings.js';
import type { DataSource } from '../train/data-source.js';
import type { Validation } from '../train/evaluate.js';
import { LossQuarters } from '../train/loss-quarters.js';
import type { CurvePoint } from '../train/state.js';
import { Trainer } from '../train/trainer.js';
import type { Coordinator } from './coordinator.js';
import { DenseAveraging } from './dense-averaging.js';
import { shardOf, shardSource } from './shard.js';
import { openStoreTables } from './store-tables.js';
import { UnconfirmedUpdates } from './unconfirmed-updates.js';

/** The data-parallel knobs of a run (`--workers`, `--sync-every`, `--rank`, `--run-id`). */
export interface ScaleSettings {
  /** Workers in the run. */
  readonly workers: number;
  /** Average the dense parameters every this many local steps (0: only at the end). */
  readonly syncEvery: number;
  /** Names the run: its tables (under `halfstep:recsys:<runId>` in Redis) and coordination keys. */
  readonly runId: string;
  /** Keep the run's tables in the store after it (`--keep-tables`); else worker 0 drops them. */
  readonly keepTables: boolean;
}

/** What one worker did, as it publishes it for worker 0's summary. */
export interface WorkerStats {
  /** The worker's number. */
  readonly rank: number;
  /** Local optimizer steps (batches) taken. */
  readonly steps: number;
  /** Training examples this worker trained on. */
  readonly examples: number;
  /** Seconds in training steps (embedding reads and updates in the store included). */
  readonly trainSeconds: number;
  /** Seconds in dense averaging (writes, barrier waits, reads). */
  readonly syncSeconds: number;
  /** Seconds from the start barrier to the end of the final averaging. */
  readonly wallSeconds: number;
  /** `examples / wallSeconds`. */
  readonly examplesPerSecond: number;
  /** Dense averagings done (the final one included). */
  readonly syncs: number;
  /**
   * Steps whose embedding update the store reported unreachable (e.g. a master failing over):
   * some of their rows may not have been applied. Training goes on after them.
   */
  readonly unconfirmedUpdates: number;
  /**
   * Coordination commands (barriers, dense averaging) sent again because the cluster could not
   * serve them, e.g. while the master of the run's keys failed over.
   */
  readonly coordinationRetries: number;
  /** Mean training loss of this worker's first quarter of steps. */
  readonly lossFirstQuarter: number;
  /** Mean training loss of this worker's last quarter of steps. */
  readonly lossLastQuarter: number;
}

/** The outcome of a data-parallel run, as worker 0 sees it after the last averaging. */
export interface DistributedResult {
  /** Embedding storage and rounding. */
  readonly precision: Precision;
  /** The backend of worker 0's dense math (each worker reports its own in its log). */
  readonly backend: string;
  /** The store's kind, e.g. "memory" or "redis-cluster". */
  readonly store: string;
  /** The optimizer of tables and dense layers. */
  readonly optimizer: string;
  /** Its learning rate. */
  readonly lr: number;
  /** Examples per step of each worker. */
  readonly batchSize: number;
  /** Epochs over the data (each worker trains its shard of every epoch). */
  readonly epochs: number;
  /** The run seed. */
  readonly seed: number;
  /** Workers in the run. */
  readonly workers: number;
  /** Dense averaging every this many local steps (0: only at the end). */
  readonly syncEvery: number;
  /** Examples trained by all workers. */
  readonly examplesSeen: number;
  /** The longest worker wall time (start barrier to final averaging). */
  readonly wallSeconds: number;
  /** `examplesSeen / wallSeconds`: the run's throughput. */
  readonly examplesPerSecond: number;
  /** Exact bytes of the embedding weights (in the store). */
  readonly embeddingBytes: number;
  /** Exact bytes of the embedding optimizer state (in the store). */
  readonly embeddingStateBytes: number;
  /** Validation of the final (averaged) dense part with the final tables, by worker 0. */
  readonly validation: Validation;
  /**
   * Worker 0's validations: every `--eval-every` steps of its own (its dense copy, the mean of
   * every worker's when the step is a multiple of `--sync-every`, with the shared tables), then
   * the final one.
   */
  readonly curve: readonly CurvePoint[];
  /** Every worker's numbers, in rank order. */
  readonly perWorker: readonly WorkerStats[];
}

/** What {@link runWorker} needs. */
export interface WorkerOptions {
  /** The run's knobs, as for a single-process run. */
  readonly settings: RunSettings;
  /** The data-parallel knobs. */
  readonly scale: ScaleSettings;
  /** Where the tables live (the caller opens and closes it). */
  readonly store: TableStore;
  /** This worker's place in the run. */
  readonly group: Coordinator;
  /** Runs the dense math. */
  readonly backend: Backend;
  /** The whole data; the worker takes its shard. */
  readonly data: DataSource;
  /** Where progress and log lines go. */
  readonly log: (line: string) => void;
}

const PUBLISHED = ['stats'];

/**
 * One worker of a data-parallel run: the {@link Trainer}'s loop over its shard (see `shardOf`) of
 * every epoch, with the tables in the store, and plugged into it the dense averaging with the
 * other workers every `syncEvery` local steps (see {@link DenseAveraging}), the count of
 * unconfirmed store updates and the loss of the first and last quarters. After the loop it
 * averages once more, publishes its {@link WorkerStats}, and worker 0 validates the averaged
 * model and returns the run's result; the others return null.
 */
export async function runWorker(options: WorkerOptions): Promise<DistributedResult | null> {
  const { settings, scale, store, group, backend, data, log } = options;
  const { rank, workers } = group;
  const shard = shardOf(data.trainExamples, settings.batchSize, rank, workers);
  const shardData = shardSource(data, settings.batchSize, shard);
  // Several workers write to one terminal: plain lines, not bars fighting over it.
  const progress = progressOf(settings, shardData, log, workers > 1 ? false : undefined);
  const trainer = await Trainer.create({
    ...trainOptionsOf(settings, backend, shardData),
    openTables: (spec) => openStoreTables({ ...spec, store, worker: rank, workers }),
    validateEachEpoch: false,
    // Worker 0 validates every --eval-every steps; the others train on.
    evalEvery: rank === 0 ? settings.evalEvery : 0,
    onEval: (point) =>
      progress.log(
        `validation @ ${point.examplesSeen} examples of worker 0 (step ${point.step}): logloss ${point.logloss.toFixed(5)}  AUC ${point.auc.toFixed(5)}  accuracy ${point.accuracy.toFixed(5)}`,
      ),
    // Read for the progress lines; `LossQuarters` adds the reads its means need.
    lossEvery: settings.progressEvery,
    onBatch: (event) => progress.batch(event),
    log: (line) => progress.log(line),
  });
  try {
    const { model } = trainer;
    const averaging = new DenseAveraging({
      group,
      params: model.denseParams(),
      upload: () => model.uploadDense(),
      every: scale.syncEvery,
      commonSteps: shard.minBatches * settings.epochs,
    });
    const unconfirmed = new UnconfirmedUpdates((line) => progress.log(line));
    const quarters = new LossQuarters(shard.batches * settings.epochs);
    progress.log(
      `worker ${rank} of ${workers}: batches ${shard.firstBatch}..${shard.firstBatch + shard.batches - 1} of ${shard.totalBatches} per epoch, tables in ${store.kind}`,
    );
    await group.barrier('start');
    const start = performance.now();
    const trained = await trainer.run([unconfirmed, quarters, averaging]);
    await averaging.average();
    const wallSeconds = (performance.now() - start) / 1000;
    progress.stop();
    const losses = quarters.means(trained.steps);
    const stats: WorkerStats = {
      rank,
      steps: trained.steps,
      examples: trained.examplesSeen,
      trainSeconds: trained.trainSeconds,
      syncSeconds: averaging.seconds,
      wallSeconds,
      examplesPerSecond: trained.examplesSeen / wallSeconds,
      syncs: averaging.count,
      unconfirmedUpdates: unconfirmed.steps,
      coordinationRetries: group.retries,
      lossFirstQuarter: losses.first,
      lossLastQuarter: losses.last,
    };
    await group.publish('stats', stats);
    await group.barrier('stats published');
    const perWorker = rank === 0 ? await group.collect<WorkerStats>('stats') : [];
    await group.leave();
    if (rank !== 0) return null;
    const { logloss, auc, accuracy, examples } = await trainer.validate();
    await group.removeKeys(PUBLISHED);
    const examplesSeen = perWorker.reduce((sum, w) => sum + w.examples, 0);
    const wall = Math.max(...perWorker.map((w) => w.wallSeconds));
    return {
      precision: settings.precision,
      backend: backend.name,
      store: store.kind,
      optimizer: settings.optimizer,
      lr: settings.lr,
      batchSize: settings.batchSize,
      epochs: settings.epochs,
      seed: settings.seed,
      workers,
      syncEvery: scale.syncEvery,
      examplesSeen,
      wallSeconds: wall,
      examplesPerSecond: examplesSeen / wall,
      embeddingBytes: model.embeddings.weightBytes,
      embeddingStateBytes: model.embeddings.stateBytes,
      validation: { logloss, auc, accuracy, examples },
      curve: trainer.state.curve,
      perWorker,
    };
  } finally {
    progress.stop();
    trainer.dispose();
  }
}

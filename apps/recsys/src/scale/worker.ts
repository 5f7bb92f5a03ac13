import type { Backend } from '@halfstep/backend';
import type { StoreBagUpdateResult, TableStore } from '@halfstep/embedding';
import { Dlrm } from '../model/dlrm.js';
import { type Precision, precisionSpec } from '../model/precision.js';
import type { RunSettings } from '../settings.js';
import type { DataSource } from '../train/data-source.js';
import { DenseOptimizer } from '../train/dense-optimizer.js';
import { evaluate, type Validation } from '../train/evaluate.js';
import { sparseOptimizer } from '../train/optimizers.js';
import { createProgress } from '../train/progress.js';
import { type LossWindow, TrainStep } from '../train/step.js';
import type { Coordinator } from './coordinator.js';
import { shardBatches, shardOf } from './shard.js';
import { openStoreTables } from './store-tables.js';

/** The data-parallel knobs of a run (`--workers`, `--sync-every`, `--rank`, `--run-id`). */
export interface ScaleSettings {
  /** Workers in the run. */
  readonly workers: number;
  /** Average the dense parameters every this many local steps (0: only at the end). */
  readonly syncEvery: number;
  /** Names the run: its tables (under `halfstep:recsys:<runId>` in Redis) and coordination keys. */
  readonly runId: string;
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
 * One worker of a data-parallel run: trains its shard (see `shardOf`) of every epoch, each step
 * the `TrainStep` of `Trainer` (forward with the rows fetched from the store, BCE, backward,
 * dense update at the local step, embedding update in the store), averages the dense parameters
 * with the others every `syncEvery` local steps while every worker still has steps at that count
 * (so all take part in the same averagings) and once more at the end. Worker 0 then validates and
 * returns the run's result; the others return null.
 */
export async function runWorker(options: WorkerOptions): Promise<DistributedResult | null> {
  const { settings, scale, store, group, backend, data, log } = options;
  const { rank, workers } = group;
  const shard = shardOf(data.trainExamples, settings.batchSize, rank, workers);
  const commonSteps = shard.minBatches * settings.epochs;
  const optimizer = { name: settings.optimizer, lr: settings.lr };
  const tables = await openStoreTables({
    store,
    tableSizes: data.tableSizes,
    dim: settings.embeddingDim,
    precision: precisionSpec(settings.precision),
    optimizer: sparseOptimizer(optimizer),
    seed: settings.seed,
    worker: rank,
    workers,
  });
  const model = Dlrm.withTables(
    {
      backend,
      config: {
        denseFeatures: 13,
        bottom: settings.bottom,
        top: settings.top,
        embeddingDim: settings.embeddingDim,
        tableSizes: data.tableSizes,
      },
      seed: settings.seed,
    },
    tables,
  );
  const params = model.denseParams();
  const denseOptimizer = new DenseOptimizer(optimizer, params);
  const progress = createProgress({
    totalSteps: shard.batches * settings.epochs,
    every: settings.progressEvery,
    label: settings.precision,
    quiet: settings.quiet,
    write: log,
    ...(workers > 1 ? { tty: false } : {}),
  });
  log(
    `worker ${rank} of ${workers}: batches ${shard.firstBatch}..${shard.firstBatch + shard.batches - 1} of ${shard.totalBatches} per epoch, tables in ${store.kind}`,
  );
  await group.barrier('start');
  const start = performance.now();
  const trainStep = new TrainStep(model, denseOptimizer);
  const totalSteps = shard.batches * settings.epochs;
  const quarter = Math.max(1, Math.floor(totalSteps / 4));
  // The loss stays on the backend; it is read for the progress display and at the quarter
  // boundaries, so that the first and last quarters' means are exact.
  const lossEvery = Math.max(1, settings.progressEvery);
  const windows: { end: number; window: LossWindow }[] = [];
  let step = 0;
  let examples = 0;
  let trainSeconds = 0;
  let syncSeconds = 0;
  let generation = 0;
  let unconfirmedUpdates = 0;
  const sync = async () => {
    const t0 = performance.now();
    await group.averageDense(
      params.map((p) => p.host),
      generation++,
    );
    model.uploadDense();
    syncSeconds += (performance.now() - t0) / 1000;
  };
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    for await (const batch of shardBatches(data, settings.batchSize, shard)) {
      const t0 = performance.now();
      // A master failing over leaves some rows' updates with an unknown outcome (the store
      // never re-sends one): the store backend reports them unconfirmed and training goes on,
      // as the replica takes over within seconds.
      const results = (await trainStep.run(batch, step)) as StoreBagUpdateResult[];
      const unconfirmed = results.reduce((sum, r) => sum + (r.unconfirmedRows ?? 0), 0);
      if (unconfirmed > 0) {
        unconfirmedUpdates++;
        log(`step ${step + 1}: embedding updates of ${unconfirmed} rows not confirmed; continuing`);
      }
      trainSeconds += (performance.now() - t0) / 1000;
      step++;
      examples += batch.size;
      let loss: number | undefined;
      if (
        step % lossEvery === 0 ||
        step === quarter ||
        step === totalSteps - quarter ||
        step === totalSteps
      ) {
        const window = await trainStep.takeLoss();
        windows.push({ end: step, window });
        loss = window.mean;
      }
      progress.batch({
        step,
        epoch,
        examplesSeen: examples,
        ...(loss === undefined ? {} : { loss }),
        examplesPerSecond: examples / trainSeconds,
      });
      if (scale.syncEvery > 0 && step % scale.syncEvery === 0 && step <= commonSteps) await sync();
    }
  }
  if (trainStep.pendingLossSteps > 0)
    windows.push({ end: step, window: await trainStep.takeLoss() });
  trainStep.dispose();
  await sync();
  const wallSeconds = (performance.now() - start) / 1000;
  progress.stop();
  const lossOf = (from: number, to: number) => {
    const inside = windows.filter((w) => w.end > from && w.end <= to);
    const steps = inside.reduce((sum, w) => sum + w.window.steps, 0);
    return steps === 0 ? Number.NaN : inside.reduce((sum, w) => sum + w.window.sum, 0) / steps;
  };
  const stats: WorkerStats = {
    rank,
    steps: step,
    examples,
    trainSeconds,
    syncSeconds,
    wallSeconds,
    examplesPerSecond: examples / wallSeconds,
    syncs: generation,
    unconfirmedUpdates,
    lossFirstQuarter: lossOf(0, Math.min(quarter, step)),
    lossLastQuarter: lossOf(Math.max(0, step - quarter), step),
  };
  await group.publish('stats', stats);
  await group.barrier('stats published');
  const perWorker = rank === 0 ? await group.collect<WorkerStats>('stats') : [];
  await group.leave();
  if (rank !== 0) return null;
  const validation = await evaluate(
    model,
    data.validationBatches(Math.max(settings.batchSize, 1024)),
  );
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
    embeddingBytes: tables.weightBytes,
    embeddingStateBytes: tables.stateBytes,
    validation,
    perWorker,
  };
}

import type { Backend } from '@halfstep/backend';
import type { TableStore } from '@halfstep/embedding';
import { RedisStoreError } from '@halfstep/store-redis';
import { Dlrm } from '../model/dlrm.js';
import { type Precision, precisionSpec } from '../model/precision.js';
import type { RunSettings } from '../settings.js';
import type { DataSource } from '../train/data-source.js';
import { DenseOptimizer } from '../train/dense-optimizer.js';
import { evaluateLogits, type Validation } from '../train/evaluate.js';
import { sparseOptimizer } from '../train/optimizers.js';
import { createProgress } from '../train/progress.js';
import type { Coordinator } from './coordinator.js';
import { shardBatches, shardOf } from './shard.js';
import { StoreTables } from './store-tables.js';

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

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

/**
 * One worker of a data-parallel run: trains its shard (see `shardOf`) of every epoch, each step
 * as `Trainer.trainStep` does it (forward with the rows fetched from the store, BCE, backward,
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
  const tables = await StoreTables.open({
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
  let lossGrad = new Float32Array(0);
  const losses: number[] = [];
  let step = 0;
  let examples = 0;
  let trainSeconds = 0;
  let syncSeconds = 0;
  let generation = 0;
  let unconfirmedUpdates = 0;
  const sync = async () => {
    const t0 = performance.now();
    await group.averageDense(params, generation++);
    syncSeconds += (performance.now() - t0) / 1000;
  };
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    for await (const batch of shardBatches(data, settings.batchSize, shard)) {
      const t0 = performance.now();
      const pooled = await tables.lookup(batch.sparse, batch.size);
      const logits = model.forwardPooled(batch.dense, pooled, batch.size);
      if (lossGrad.length !== batch.size) lossGrad = new Float32Array(batch.size);
      const loss = backend.bceWithLogits(logits, batch.labels, lossGrad);
      const embeddingGrads = model.backward(lossGrad);
      denseOptimizer.step(params, step);
      try {
        await tables.update(embeddingGrads);
      } catch (error) {
        // A master failing over: the outcome of some rows' updates is unknown (the store never
        // re-sends one); count them and go on, as the replica takes over within seconds.
        if (!(error instanceof RedisStoreError && error.reason === 'unreachable')) throw error;
        unconfirmedUpdates++;
        log(`step ${step + 1}: embedding update not confirmed (${error.message}); continuing`);
      }
      trainSeconds += (performance.now() - t0) / 1000;
      step++;
      examples += batch.size;
      losses.push(loss);
      progress.batch({
        step,
        epoch,
        examplesSeen: examples,
        loss,
        examplesPerSecond: examples / trainSeconds,
      });
      if (scale.syncEvery > 0 && step % scale.syncEvery === 0 && step <= commonSteps) await sync();
    }
  }
  await sync();
  const wallSeconds = (performance.now() - start) / 1000;
  progress.stop();
  const quarter = Math.max(1, Math.floor(losses.length / 4));
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
    lossFirstQuarter: mean(losses.slice(0, quarter)),
    lossLastQuarter: mean(losses.slice(-quarter)),
  };
  await group.publish('stats', stats);
  await group.barrier('stats published');
  const perWorker = rank === 0 ? await group.collect<WorkerStats>('stats') : [];
  await group.leave();
  if (rank !== 0) return null;
  const validation = await evaluateLogits(
    backend,
    data.validationBatches(Math.max(settings.batchSize, 1024)),
    async (batch) =>
      model.forwardPooled(batch.dense, await tables.lookup(batch.sparse, batch.size), batch.size),
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

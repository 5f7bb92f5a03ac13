import { writeFile } from 'node:fs/promises';
import type { Backend } from '@halfstep/backend';
import { type BackendChoice, chooseBackend } from './backends.js';
import type { RunSettings } from './settings.js';
import { DEFAULT_TRAIN_EXAMPLES } from './settings.js';
import { type DataSource, fileSource, syntheticSource } from './train/data-source.js';
import { createProgress, type Progress } from './train/progress.js';
import type { CurvePoint } from './train/state.js';
import {
  describeTableMemory,
  LARGE_TABLES_BYTES,
  type ProgressSink,
  stderrSink,
  tableMemory,
  withTableProgress,
} from './train/table-memory.js';
import { Trainer, type TrainOptions, type TrainResult } from './train/trainer.js';

/** Where a run's lines go. */
export type Log = (line: string) => void;

/** The data a run trains on: the file, or the built-in synthetic data. */
export async function openData(settings: RunSettings): Promise<DataSource> {
  if (settings.data !== undefined) {
    return fileSource({
      path: settings.data,
      maxIndRange: settings.maxIndRange,
      ...(settings.trainExamples === undefined ? {} : { trainExamples: settings.trainExamples }),
    });
  }
  return syntheticSource({
    seed: settings.dataSeed,
    cap: settings.cap,
    trainExamples: settings.trainExamples ?? DEFAULT_TRAIN_EXAMPLES,
    validationExamples: settings.validationExamples,
  });
}

/** Logs which backend runs and why each better one was passed over. */
export function describeBackend(choice: BackendChoice, log: Log): void {
  log(`backend: ${choice.name}`);
  for (const r of choice.rejected) log(`  (not ${r.name}: ${r.reason})`);
}

function formatPoint(p: CurvePoint): string {
  return `validation @ ${p.examplesSeen} examples (step ${p.step}): logloss ${p.logloss.toFixed(5)}  AUC ${p.auc.toFixed(5)}  accuracy ${p.accuracy.toFixed(5)}`;
}

/**
 * The {@link TrainOptions} every run of `settings` on `data` has, whatever else it adds
 * (validation points, checkpoints, callbacks, tables in a store).
 */
export function trainOptionsOf(
  settings: RunSettings,
  backend: Backend,
  data: DataSource,
): TrainOptions {
  return {
    backend,
    config: {
      denseFeatures: 13,
      bottom: settings.bottom,
      top: settings.top,
      embeddingDim: settings.embeddingDim,
      tableSizes: data.tableSizes,
    },
    precision: settings.precision,
    optimizer: { name: settings.optimizer, lr: settings.lr },
    data,
    batchSize: settings.batchSize,
    epochs: settings.epochs,
    seed: settings.seed,
  };
}

/**
 * The progress display of a run of `settings` over `data`'s training batches (the whole data,
 * or a worker's shard); `tty: false` forces plain lines.
 */
export function progressOf(
  settings: RunSettings,
  data: DataSource,
  log: Log,
  tty?: boolean,
): Progress {
  return createProgress({
    totalSteps: Math.ceil(data.trainExamples / settings.batchSize) * settings.epochs,
    every: settings.progressEvery,
    label: settings.precision,
    quiet: settings.quiet,
    write: log,
    ...(tty === undefined ? {} : { tty }),
  });
}

/**
 * One training run with a progress display: picks the backend (or uses `choice`), opens the
 * data, trains, and returns the result. Before the tables are made it logs what they take; a
 * large table (`isLargeTable`) shows its initialisation's progress on `tableProgress` (default
 * standard error; none with `settings.quiet`).
 */
export async function runTraining(
  settings: RunSettings,
  log: Log,
  choice?: BackendChoice,
  data?: DataSource,
  tableProgress: ProgressSink = stderrSink(),
): Promise<TrainResult> {
  const backendChoice = choice ?? (await chooseBackend(settings.backend));
  if (!choice) describeBackend(backendChoice, log);
  const source = data ?? (await openData(settings));
  if (!data) log(`data: ${source.description}`);
  const progress = progressOf(settings, source, log);
  const options = trainOptionsOf(settings, backendChoice.backend, source);
  // Before anything is allocated: what the tables will take (large ones take minutes to make).
  const memory = tableMemory(
    source.tableSizes,
    settings.embeddingDim,
    settings.precision,
    options.optimizer,
  );
  log(describeTableMemory(memory, settings.precision));
  const create = () =>
    Trainer.create({
      ...options,
      evalEvery: settings.evalEvery,
      ...(settings.checkpoint === undefined ? {} : { checkpointDir: settings.checkpoint }),
      checkpointEvery: settings.checkpointEvery,
      ...(settings.maxSteps === undefined ? {} : { maxSteps: settings.maxSteps }),
      onBatch: (event) => progress.batch(event),
      onEval: (point) => progress.log(`[${settings.precision}] ${formatPoint(point)}`),
      log: (line) => progress.log(line),
    });
  let trainer: Trainer;
  const big = memory.weightBytes + memory.stateBytes >= LARGE_TABLES_BYTES;
  const progressOfTables = settings.quiet ? undefined : tableProgress;
  if (big || (memory.largeTables > 0 && progressOfTables !== undefined)) {
    if (big) log(`[${settings.precision}] allocating and initialising ${memory.tables} tables...`);
    trainer = await withTableProgress(
      backendChoice.backend,
      memory.tables,
      big ? log : undefined,
      create,
      { progress: progressOfTables, label: `[${settings.precision}]` },
    );
  } else trainer = await create();
  try {
    return await trainer.run();
  } finally {
    progress.stop();
    trainer.dispose();
  }
}

/** The metrics JSON of a run (`--metrics-out`). */
export function metricsJson(result: TrainResult, settings: RunSettings): string {
  return `${JSON.stringify({ ...result, settings }, null, 2)}\n`;
}

/** Writes {@link metricsJson} to `path`. */
export async function writeMetrics(
  path: string,
  result: TrainResult,
  settings: RunSettings,
): Promise<void> {
  await writeFile(path, metricsJson(result, settings));
}

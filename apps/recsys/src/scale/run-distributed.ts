import { writeFile } from 'node:fs/promises';
import { RedisClusterStore } from '@halfstep/store-redis';
import { chooseBackend } from '../backends.js';
import { dlrmTableName } from '../model/embeddings.js';
import { describeBackend, type Log, openData } from '../run.js';
import type { RunSettings } from '../settings.js';
import { type Coordinator, SoloCoordinator } from './coordinator.js';
import { openTableStore, redisConnection, runKeyPrefix } from './open-store.js';
import { formatStoreUrl, type StoreLocation } from './store-url.js';
import { type DistributedResult, runWorker, type ScaleSettings } from './worker.js';
import { WorkerGroup } from './worker-group.js';

/** The data-parallel settings of this process: the run's, and which worker it is. */
export interface WorkerProcessSettings extends ScaleSettings {
  /** Where the tables live. */
  readonly store: StoreLocation;
  /** This process's worker number, 0 .. workers - 1. */
  readonly rank: number;
}

/**
 * Runs this process as worker `scale.rank` of a data-parallel run: picks the backend, opens the
 * data, the table store and the coordination, trains (see `runWorker`), and closes them. Worker 0
 * returns the run's result; the others null.
 */
export async function runWorkerProcess(
  settings: RunSettings,
  scale: WorkerProcessSettings,
  log: Log,
): Promise<DistributedResult | null> {
  const choice = await chooseBackend(settings.backend);
  describeBackend(choice, log);
  const data = await openData(settings);
  log(`data: ${data.description}`);
  log(
    `store: ${formatStoreUrl(scale.store)}, run ${scale.runId}${scale.store.kind === 'redis' ? ` (tables under ${runKeyPrefix(scale.runId)}:C1 ..)` : ''}`,
  );
  const store = await openTableStore(scale.store, choice.backend, scale.runId);
  let group: Coordinator | undefined;
  try {
    group =
      scale.store.kind === 'redis'
        ? await WorkerGroup.connect({
            ...redisConnection(scale.store),
            runId: scale.runId,
            rank: scale.rank,
            workers: scale.workers,
          })
        : new SoloCoordinator();
    const result = await runWorker({
      settings,
      scale,
      store,
      group,
      backend: choice.backend,
      data,
      log,
    });
    // Worker 0 returns once every worker has left the run: its tables are no longer used.
    if (result !== null && store instanceof RedisClusterStore) {
      if (scale.keepTables) {
        log(
          `tables kept under ${runKeyPrefix(scale.runId)}: (drop them with: halfstep-recsys tables drop --store ${formatStoreUrl(scale.store)} --run-id ${scale.runId})`,
        );
      } else {
        const names = data.tableSizes.map((_, t) => dlrmTableName(t));
        const dropped = await store.dropTables(names);
        log(
          `dropped the run's ${dropped.tables.length} tables (${dropped.keys} keys) from the store; --keep-tables keeps them`,
        );
      }
    }
    return result;
  } finally {
    await group?.close();
    await store.close();
  }
}

/** The lines that summarise a data-parallel run: one per worker, the total, the validation. */
export function formatDistributed(result: DistributedResult): string[] {
  const lines = result.perWorker.map(
    (w) =>
      `worker ${w.rank}: ${w.steps} steps, ${w.examples} examples, ${w.examplesPerSecond.toFixed(0)} ex/s (training ${w.trainSeconds.toFixed(2)} s, dense averaging ${w.syncSeconds.toFixed(2)} s in ${w.syncs}); training loss ${w.lossFirstQuarter.toFixed(4)} (first quarter) -> ${w.lossLastQuarter.toFixed(4)} (last quarter)${w.unconfirmedUpdates > 0 ? `; embedding updates of ${w.unconfirmedUpdates} step${w.unconfirmedUpdates === 1 ? '' : 's'} not confirmed (store unreachable)` : ''}${w.coordinationRetries > 0 ? `; ${w.coordinationRetries} coordination command${w.coordinationRetries === 1 ? '' : 's'} retried through a failover` : ''}`,
  );
  const v = result.validation;
  lines.push(
    `total: ${result.workers} worker${result.workers === 1 ? '' : 's'}, ${result.examplesSeen} examples in ${result.wallSeconds.toFixed(2)} s: ${result.examplesPerSecond.toFixed(0)} examples/s`,
    `${result.precision} on ${result.backend}, tables in ${result.store} (${result.workers} worker${result.workers === 1 ? '' : 's'}, dense parameters averaged ${result.syncEvery > 0 ? `every ${result.syncEvery} steps and ` : ''}at the end): validation logloss ${v.logloss.toFixed(5)}, AUC ${v.auc.toFixed(5)}, accuracy ${v.accuracy.toFixed(5)}; embeddings ${result.embeddingBytes} bytes`,
  );
  return lines;
}

/** Writes a data-parallel run's metrics JSON (`--metrics-out`). */
export async function writeDistributedMetrics(
  path: string,
  result: DistributedResult,
  settings: RunSettings,
  scale: WorkerProcessSettings,
): Promise<void> {
  const json = {
    ...result,
    settings,
    scale: { ...scale, store: formatStoreUrl(scale.store) },
  };
  await writeFile(path, `${JSON.stringify(json, null, 2)}\n`);
}

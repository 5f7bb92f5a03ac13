import { createRedisClusterStore, type StoredTableInfo } from '@halfstep/store-redis';
import { redisConnection, runKeyPrefix } from './open-store.js';
import type { RedisLocation } from './store-url.js';

/** The key prefix under which every run keeps its tables (`halfstep:recsys:<run id>:...`). */
export const RUNS_PREFIX = 'halfstep:recsys';

/** `n` with thousands separators. */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** The store of `location` under `prefix`, for listing and dropping (no function library). */
function adminStore(location: RedisLocation, prefix: string) {
  return createRedisClusterStore({
    ...redisConnection(location),
    keyPrefix: prefix,
    library: 'none',
  });
}

/** Tables of several runs (names `<run id>:<table>`) grouped by run, in run order. */
function byRun(tables: readonly StoredTableInfo[]): Map<string, StoredTableInfo[]> {
  const runs = new Map<string, StoredTableInfo[]>();
  for (const t of tables) {
    const colon = t.name.indexOf(':');
    if (colon <= 0) continue; // not a run's table
    const run = t.name.slice(0, colon);
    const list = runs.get(run) ?? [];
    list.push({ ...t, name: t.name.slice(colon + 1) });
    runs.set(run, list);
  }
  return runs;
}

/** One line summing a run's tables. */
function runLine(run: string, tables: readonly StoredTableInfo[]): string {
  const rows = tables.reduce((s, t) => s + t.rows, 0);
  const bytes = tables.reduce((s, t) => s + t.bytes, 0);
  const creating = tables.filter((t) => t.status !== 'ready').length;
  return `run ${run}: ${tables.length} table${tables.length === 1 ? '' : 's'}, ${count(rows)} rows, ${count(bytes)} bytes${creating > 0 ? ` (${creating} still being created, or abandoned while created)` : ''}`;
}

/**
 * `halfstep-recsys tables list`: one line per run with tables in the store (tables, rows, payload
 * bytes), or with `runId` that run's line and one line per table.
 */
export async function listStoreTables(
  location: RedisLocation,
  runId: string | undefined,
  log: (line: string) => void,
): Promise<void> {
  const store = await adminStore(location, runId === undefined ? RUNS_PREFIX : runKeyPrefix(runId));
  try {
    const tables = await store.listTables();
    if (runId !== undefined) {
      if (tables.length === 0) {
        log(`run ${runId}: no tables in the store`);
        return;
      }
      log(runLine(runId, tables));
      for (const t of tables)
        log(
          `  ${t.name}: ${count(t.rows)} rows x ${t.dim} ${t.storage} (${t.optimizer}), ${count(t.bytes)} bytes in ${count(t.blocks)} keys${t.status === 'ready' ? '' : ` [${t.status}]`}`,
        );
      return;
    }
    const runs = byRun(tables);
    if (runs.size === 0) log('no tables of any run in the store');
    for (const [run, list] of [...runs].sort(([a], [b]) => a.localeCompare(b)))
      log(runLine(run, list));
  } finally {
    await store.close();
  }
}

/** `halfstep-recsys tables drop`: deletes run `runId`'s tables, or (undefined) every run's. */
export async function dropStoreTables(
  location: RedisLocation,
  runId: string | undefined,
  log: (line: string) => void,
): Promise<void> {
  const store = await adminStore(location, runId === undefined ? RUNS_PREFIX : runKeyPrefix(runId));
  try {
    const dropped = await store.dropTables();
    if (runId !== undefined) {
      log(`run ${runId}: dropped ${dropped.tables.length} tables (${count(dropped.keys)} keys)`);
      return;
    }
    const runs = new Set(dropped.tables.map((n) => n.slice(0, Math.max(0, n.indexOf(':')))));
    log(
      `dropped ${dropped.tables.length} tables of ${runs.size} run${runs.size === 1 ? '' : 's'} (${count(dropped.keys)} keys)`,
    );
  } finally {
    await store.close();
  }
}

import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TableSpec } from '@halfstep/backend';
import { createMemoryTableStore, type TableStore } from '@halfstep/embedding';
import { sgd } from '@halfstep/optim';
import { createRedisClusterStore, type RedisClusterStore } from '@halfstep/store-redis';
import type { BenchGroup, BenchRow, BenchTable, Measured } from '../harness.js';

/**
 * The `store` group: embedding rows read and updated through a Redis Cluster of 3 masters and
 * 3 replicas on loopback (started and stopped here with `scripts/redis-cluster.sh`), by 1, 2 and
 * 4 worker processes, against the in-memory store in this process; bytes on the wire per row;
 * Redis memory per row for float32 and float16 storage. Skipped, with the reason printed, when
 * redis-server is missing.
 */

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../../../scripts/redis-cluster.sh', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const BASE_PORT = Number(process.env.BENCH_STORE_PORT ?? 7400);
const NODES = `redis://127.0.0.1:${BASE_PORT},127.0.0.1:${BASE_PORT + 1},127.0.0.1:${BASE_PORT + 2}`;
/** Seconds each measurement runs (after a warm-up call). */
const SECONDS = Number(process.env.BENCH_STORE_SECONDS ?? 2);
const ROWS = 100_000;
const DIM = 64;
/** Distinct rows per read or update call (about what a batch of 128 examples touches in 8 tables). */
const BATCH = 1024;
const KEY_PREFIX = 'halfstep:bench';
const WORKER_COUNTS = [1, 2, 4] as const;

type Op = 'read' | 'update';

/** The bench table: 100k rows of dim 64, `storage`, SGD, stochastic rounding. */
function spec(name: string, storage: 'float16' | 'float32'): TableSpec {
  return {
    name,
    index: 0,
    rows: ROWS,
    dim: DIM,
    storage,
    rounding: 'stochastic',
    optimizer: sgd({ lr: 0.01 }),
    seed: 7n,
    init: { uniform: 0.05 },
  };
}

/** Batches of distinct uniform rows and small gradients, from a fixed LCG stream per worker. */
function workload(worker: number) {
  let state = (worker * 2654435761 + 1) >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const batches = Array.from({ length: 16 }, () => {
    const set = new Set<number>();
    while (set.size < BATCH) set.add(Math.floor(next() * ROWS));
    return Int32Array.from([...set].sort((a, b) => a - b));
  });
  const gradients = Float32Array.from({ length: BATCH * DIM }, () => (next() - 0.5) * 0.02);
  return { batches, gradients };
}

/**
 * Runs `op` on `store` back to back for `seconds` after one warm-up call; returns the rows done
 * and the seconds taken. Update k of worker w uses optimizer step `k * workers + w`.
 */
async function hammer(
  store: TableStore,
  table: string,
  op: Op,
  seconds: number,
  worker: number,
  workers: number,
): Promise<{ rows: number; seconds: number }> {
  const { batches, gradients } = workload(worker);
  let k = 0;
  const once = async () => {
    const rows = batches[k % batches.length]!;
    if (op === 'read') await store.readRows(table, rows);
    else await store.applyGradients(table, rows, gradients, k * workers + worker);
    k++;
  };
  await once();
  let rows = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await once();
    rows += BATCH;
  }
  return { rows, seconds: (performance.now() - start) / 1000 };
}

/** A worker process: opens the table, says "ready", waits for "go", hammers, prints JSON. */
async function workerMain(op: Op, worker: number, workers: number): Promise<void> {
  const store = await createRedisClusterStore({ nodes: NODES, keyPrefix: KEY_PREFIX });
  await store.openTables([spec('f16', 'float16')]);
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line === 'go') break;
  const result = await hammer(store, 'f16', op, SECONDS, worker, workers);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await store.close();
  lines.close();
}

/** Rows/s of `workers` processes doing `op` at the same time: total rows / longest run. */
async function measureWorkers(op: Op, workers: number): Promise<Measured> {
  const children = Array.from({ length: workers }, (_, w) =>
    spawn(
      process.execPath,
      [...process.execArgv, SELF, 'store-worker', op, String(w), String(workers)],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    ),
  );
  const outputs = children.map((child) => {
    const lines = createInterface({ input: child.stdout });
    const queue: string[] = [];
    const waiters: ((line: string) => void)[] = [];
    lines.on('line', (line) => {
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else queue.push(line);
    });
    return () =>
      new Promise<string>((resolve, reject) => {
        const line = queue.shift();
        if (line !== undefined) resolve(line);
        else {
          waiters.push(resolve);
          child.once('exit', (code) => reject(new Error(`store worker exited with code ${code}`)));
        }
      });
  });
  try {
    for (const next of outputs) {
      const line = await next();
      if (line !== 'ready') throw new Error(`store worker said "${line}"`);
    }
    for (const child of children) child.stdin.write('go\n');
    const results = await Promise.all(
      outputs.map(async (next) => JSON.parse(await next()) as { rows: number; seconds: number }),
    );
    const rows = results.reduce((s, r) => s + r.rows, 0);
    const seconds = Math.max(...results.map((r) => r.seconds));
    return { itemsPerSecond: rows / seconds };
  } catch (error) {
    for (const child of children) child.kill();
    return { unavailable: (error as Error).message };
  } finally {
    for (const child of children) child.stdin.end();
  }
}

/**
 * Sums of INFO counters over the six nodes (read with redis-cli, each node classified by its
 * role): network bytes of the masters, CPU seconds of masters and of replicas.
 */
async function counters() {
  const sums = { input: 0, output: 0, replication: 0, masterCpu: 0, replicaCpu: 0 };
  for (let port = BASE_PORT; port < BASE_PORT + 6; port++) {
    const { stdout: info } = await run('redis-cli', ['-p', String(port), 'info', 'everything']);
    const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    const cpu = field('used_cpu_sys') + field('used_cpu_user');
    if (/role:slave/.test(info)) {
      sums.replicaCpu += cpu;
      continue;
    }
    sums.masterCpu += cpu;
    sums.input += field('total_net_input_bytes');
    sums.output += field('total_net_output_bytes');
    sums.replication += field('total_net_repl_output_bytes');
  }
  return sums;
}

/**
 * Per row of `calls` calls of `op` from one client: bytes on the wire (INFO stats deltas over the
 * masters) and Redis CPU microseconds (INFO cpu deltas, masters and replicas).
 */
async function perRowCosts(store: RedisClusterStore, op: Op, calls: number) {
  const { batches, gradients } = workload(9);
  const before = await counters();
  for (let k = 0; k < calls; k++) {
    const rows = batches[k % batches.length]!;
    if (op === 'read') await store.readRows('f16', rows);
    else await store.applyGradients('f16', rows, gradients, 1_000_000 + k);
  }
  const after = await counters();
  const rows = calls * BATCH;
  const replication = after.replication - before.replication;
  return {
    toRedis: (after.input - before.input) / rows,
    fromRedis: (after.output - before.output - replication) / rows,
    toReplicas: replication / rows,
    masterCpuUs: ((after.masterCpu - before.masterCpu) * 1e6) / rows,
    replicaCpuUs: ((after.replicaCpu - before.replicaCpu) * 1e6) / rows,
  };
}

/** MEMORY USAGE of every key of table `name` (blocks and description), per row. */
async function memoryPerRow(store: RedisClusterStore, name: string): Promise<number> {
  const { blocks } = store.layout(name);
  let bytes = Number(await store.cluster.memory('USAGE', store.metaKey(name), 'SAMPLES', 0));
  for (let b = 0; b < blocks; b++)
    bytes += Number(await store.cluster.memory('USAGE', store.blockKey(name, b), 'SAMPLES', 0));
  return bytes / ROWS;
}

function row(name: string, value: Measured): BenchRow {
  return { name, measure: async () => value };
}

/** Starts the cluster, measures everything, stops it; the tables report the stored figures. */
async function measureAll(): Promise<BenchTable[]> {
  await run('bash', [SCRIPT, 'stop', String(BASE_PORT)]).catch(() => {});
  await run('bash', [SCRIPT, 'start', String(BASE_PORT)], { timeout: 90_000 });
  try {
    const store = await createRedisClusterStore({ nodes: NODES, keyPrefix: KEY_PREFIX });
    const memory = await createMemoryTableStore('js');
    try {
      await store.openTables([spec('f16', 'float16'), spec('f32', 'float32')]);
      await memory.openTables([spec('f16', 'float16')]);
      const tables: BenchTable[] = [];
      for (const op of ['read', 'update'] as const) {
        const rows: BenchRow[] = [
          row('in-memory store, 1 process', {
            itemsPerSecond: await hammer(memory, 'f16', op, SECONDS, 0, 1).then(
              (r) => r.rows / r.seconds,
            ),
          }),
        ];
        for (const workers of WORKER_COUNTS) {
          const name = `Redis Cluster, ${workers} worker${workers > 1 ? 's' : ''}`;
          rows.push(row(name, await measureWorkers(op, workers)));
        }
        tables.push({
          title: `rows ${op === 'read' ? 'read' : 'updated (SGD + stochastic rounding in Redis)'}, float16 dim ${DIM}, ${BATCH} distinct rows per call, ${ROWS} rows; 3 masters + 3 replicas on loopback`,
          unit: op === 'read' ? 'rows read' : 'row updates',
          baseline: 'in-memory store, 1 process',
          rows,
        });
      }
      const read = await perRowCosts(store, 'read', 40);
      const update = await perRowCosts(store, 'update', 40);
      const f16 = await memoryPerRow(store, 'f16');
      const f32 = await memoryPerRow(store, 'f32');
      const b = (x: number) => x.toFixed(1);
      console.log(
        [
          `### store: cost per row in Redis (one client, ${BATCH} rows per call; float16 dim ${DIM}, SGD; INFO stats and cpu deltas)`,
          '',
          '| operation | bytes client -> Redis | bytes Redis -> client | bytes master -> replica | master CPU µs | replica CPU µs |',
          '| --- | ---: | ---: | ---: | ---: | ---: |',
          ...(
            [
              ['read', read],
              ['update', update],
            ] as const
          ).map(
            ([name, c]) =>
              `| ${name} | ${b(c.toRedis)} | ${b(c.fromRedis)} | ${b(c.toReplicas)} | ${c.masterCpuUs.toFixed(2)} | ${c.replicaCpuUs.toFixed(2)} |`,
          ),
          '',
          `### store: Redis memory per row (MEMORY USAGE of every key of a ${ROWS}-row table, dim ${DIM}, SGD: no optimizer state)`,
          '',
          '| storage | bytes per row | payload per row | vs float32 |',
          '| --- | ---: | ---: | ---: |',
          `| float32 | ${b(f32)} | ${DIM * 4} | 1.00x |`,
          `| float16 | ${b(f16)} | ${DIM * 2} | ${(f16 / f32).toFixed(2)}x |`,
          '',
        ].join('\n'),
      );
      return tables;
    } finally {
      await store.close();
      await memory.close();
    }
  } finally {
    await run('bash', [SCRIPT, 'stop', String(BASE_PORT)]).catch(() => {});
  }
}

/** Why the group cannot run here, or null. */
function unavailable(): string | null {
  if (spawnSync('redis-server', ['--version']).status !== 0)
    return 'redis-server is not installed (Debian: apt-get install redis-server)';
  if (!existsSync(SCRIPT)) return `the cluster script ${SCRIPT} is missing`;
  return null;
}

/** Embedding rows through a local Redis Cluster against the in-memory store (see the module). */
export const storeGroup: BenchGroup = {
  name: 'store',
  async tables() {
    const reason = unavailable();
    if (reason !== null) {
      console.log(`### store: skipped: ${reason}\n`);
      return [];
    }
    return measureAll();
  },
};

if (process.argv[1] === SELF && process.argv[2] === 'store-worker') {
  const [op, worker, workers] = process.argv.slice(3);
  await workerMain(op as Op, Number(worker), Number(workers));
}

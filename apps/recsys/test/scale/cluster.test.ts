import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStoreUrl } from '../../src/scale/store-url.js';
import type { DistributedResult } from '../../src/scale/worker.js';
import { WorkerGroup } from '../../src/scale/worker-group.js';
import { syntheticSource } from '../../src/train/data-source.js';
import type { TrainResult } from '../../src/train/trainer.js';
import { Trainer } from '../../src/train/trainer.js';
import { jsInstance } from '../helpers.js';
import {
  clusterUnavailable,
  guideAclRules,
  killNode,
  masterOf,
  masters,
  startCluster,
  startNode,
  stopCluster,
} from './local-cluster.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/halfstep-recsys.js', import.meta.url));
const BASE_PORT = 7300;
const RUN = {
  bottom: [16, 4],
  top: [8, 1],
  dim: 4,
  batch: 64,
  cap: 500,
  train: 2048,
  validation: 512,
  dataSeed: 1,
  seed: 0,
};
const ARGS = [
  '--bottom-mlp',
  RUN.bottom.join('-'),
  '--top-mlp',
  RUN.top.join('-'),
  '--embedding-dim',
  String(RUN.dim),
  '--batch-size',
  String(RUN.batch),
  '--cap',
  String(RUN.cap),
  '--train-examples',
  String(RUN.train),
  '--validation-examples',
  String(RUN.validation),
  '--precision',
  'fp16-sr',
  '--backend',
  'js',
  '--quiet',
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'recsys-scale-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI with `args`; its standard output. */
async function cli(args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [BIN, ...args], { timeout: 60_000 });
  return stdout;
}

async function train(name: string, extra: string[]): Promise<{ metrics: unknown; stdout: string }> {
  const out = join(dir, `${name}.json`);
  const { stdout } = await exec(
    process.execPath,
    [BIN, 'train', ...ARGS, ...extra, '--metrics-out', out],
    {
      timeout: 240_000,
      maxBuffer: 1 << 24,
    },
  );
  return { metrics: JSON.parse(await readFile(out, 'utf8')), stdout };
}

/** A result without the fields that measure time or name the run. */
function numbers(result: TrainResult): Partial<TrainResult> {
  const {
    trainSeconds: _t,
    examplesPerSecond: _e,
    settings: _s,
    ...rest
  } = result as TrainResult & {
    settings: unknown;
  };
  return rest;
}

describe('--workers 1 on the memory store', () => {
  it("is today's single-process run, bit for bit", async () => {
    const today = await train('today', []);
    const flagged = await train('flagged', [
      '--workers',
      '1',
      '--store',
      'memory',
      '--sync-every',
      '3',
    ]);
    expect(numbers(flagged.metrics as TrainResult)).toEqual(numbers(today.metrics as TrainResult));
  }, 240_000);
});

const unavailable = clusterUnavailable();
if (unavailable !== null && process.env.CI) {
  describe('data-parallel training on a local Redis Cluster', () => {
    it('needs redis-server in CI', () => {
      throw new Error(`cannot start the local Redis Cluster: ${unavailable}`);
    });
  });
} else if (unavailable !== null) {
  console.warn(`skipping the Redis Cluster training tests: ${unavailable}`);
}

describe.skipIf(unavailable !== null)('data-parallel training on a local Redis Cluster', () => {
  let store: string;
  /** Every node's users: the guide's least-privilege "trainer" (and the default user). */
  let aclFile: string;
  const PASSWORD = 'tr4iner-s3cret';
  beforeAll(async () => {
    aclFile = join(dir, 'users.acl');
    await writeFile(
      aclFile,
      `user default on nopass ~* &* +@all\nuser trainer ${guideAclRules(PASSWORD)}\n`,
    );
    store = await startCluster(BASE_PORT, aclFile);
  }, 90_000);
  afterAll(async () => {
    await stopCluster(BASE_PORT);
  }, 90_000);

  it('averages dense parameters through Redis: every worker gets the same float32 mean', async () => {
    const location = parseStoreUrl(store);
    if (location.kind !== 'redis') throw new Error('expected a Redis store');
    const groups = await Promise.all(
      [0, 1, 2].map((rank) =>
        WorkerGroup.connect({ nodes: location.nodes, runId: 'avg-test', rank, workers: 3 }),
      ),
    );
    const param = (values: number[]) => Float32Array.from(values);
    const f = Math.fround;
    const copies = [
      [param([1, 0.1, -3]), param([10])],
      [param([2, 0.2, 3]), param([20])],
      [param([4, 0.4, 0]), param([31])],
    ];
    for (let generation = 0; generation < 3; generation++) {
      await Promise.all(groups.map((g, r) => g.averageDense(copies[r]!, generation)));
      for (const c of copies) {
        expect(Array.from(c[0]!)).toEqual([f(7 / 3), f((f(0.1) + f(0.2) + f(0.4)) / 3), 0]);
        expect(c[1]![0]).toBe(Math.fround(61 / 3));
      }
    }
    await Promise.all(groups.map((g) => g.leave()));
    await groups[0]!.removeKeys([]);
    await Promise.all(groups.map((g) => g.close()));
  }, 60_000);

  it('fails a barrier that not every worker reaches, naming it and the count', async () => {
    const location = parseStoreUrl(store);
    if (location.kind !== 'redis') throw new Error('expected a Redis store');
    const group = await WorkerGroup.connect({
      nodes: location.nodes,
      runId: 'timeout-test',
      rank: 1,
      workers: 3,
      timeoutMs: 300,
    });
    await expect(group.barrier('start')).rejects.toThrow(
      /barrier "start" \(worker 1 of 3, run timeout-test\): only 1 of 3 workers arrived within 0.3 s/,
    );
    await group.close();
  }, 60_000);

  it('one worker on the cluster trains exactly as the in-memory run, --eval-every included', async () => {
    const memory = (await train('memory', ['--eval-every', '10'])).metrics as TrainResult;
    const { metrics, stdout } = await train('redis-1', [
      ...['--store', store, '--workers', '1', '--eval-every', '10', '--run-id', 'one-worker'],
    ]);
    const redis = metrics as DistributedResult;
    expect(redis.store).toBe('redis-cluster');
    expect(redis.validation).toEqual(memory.validation);
    expect(redis.examplesSeen).toBe(memory.examplesSeen);
    expect(redis.embeddingBytes).toBe(memory.embeddingBytes);
    // Validations at steps 10, 20, 30 and the end (32), the same as in memory, bit for bit.
    const points = (curve: readonly { step: number; logloss: number; auc: number }[]) =>
      curve.map(({ step, logloss, auc }) => ({ step, logloss, auc }));
    expect(points(redis.curve).map((p) => p.step)).toEqual([10, 20, 30, 32]);
    expect(points(redis.curve)).toEqual(points(memory.curve));
    expect(stdout).toMatch(/validation @ 640 examples of worker 0 \(step 10\): logloss/);
    // The run dropped its tables at its end.
    expect(stdout).toMatch(/dropped the run's 26 tables \(\d+ keys\) from the store/);
    expect(await cli(['tables', 'list', '--store', store, '--run-id', 'one-worker'])).toBe(
      'run one-worker: no tables in the store\n',
    );
  }, 240_000);

  it('two worker processes share the tables, average the dense part and lower the loss', async () => {
    const { metrics, stdout } = await train('redis-2', [
      ...['--store', store, '--workers', '2', '--sync-every', '4'],
      ...['--run-id', 'two-workers', '--keep-tables'],
    ]);
    const result = metrics as DistributedResult;
    expect(result.workers).toBe(2);
    expect(result.perWorker.map((w) => w.steps)).toEqual([16, 16]);
    expect(result.perWorker.map((w) => w.syncs)).toEqual([5, 5]);
    expect(result.examplesSeen).toBe(RUN.train);
    expect(stdout).toMatch(/\[worker 0\] worker 0: 16 steps, 1024 examples/);
    expect(stdout).toMatch(/\[worker 0\] worker 1: 16 steps, 1024 examples/);
    expect(stdout).toMatch(
      /\[worker 0\] total: 2 workers, 2048 examples in [\d.]+ s: \d+ examples\/s/,
    );
    // The same model untrained (same seed: same initial tables and dense part).
    const data = syntheticSource({
      seed: RUN.dataSeed,
      cap: RUN.cap,
      trainExamples: RUN.train,
      validationExamples: RUN.validation,
    });
    const untrained = await Trainer.create({
      backend: await jsInstance(),
      config: {
        denseFeatures: 13,
        bottom: RUN.bottom,
        top: RUN.top,
        embeddingDim: RUN.dim,
        tableSizes: data.tableSizes,
      },
      precision: 'fp16-sr',
      optimizer: { name: 'sgd', lr: 0.1 },
      data,
      batchSize: RUN.batch,
      epochs: 1,
      seed: RUN.seed,
    });
    const before = await untrained.validate();
    expect(result.validation.logloss).toBeLessThan(before.logloss);
    const first = result.perWorker.reduce((s, w) => s + w.lossFirstQuarter, 0);
    const last = result.perWorker.reduce((s, w) => s + w.lossLastQuarter, 0);
    expect(last).toBeLessThan(first);
    // --keep-tables: the tables stay until `tables drop`.
    expect(stdout).toContain(
      `tables kept under halfstep:recsys:two-workers: (drop them with: halfstep-recsys tables drop --store ${store} --run-id two-workers)`,
    );
    const listed = await cli(['tables', 'list', '--store', store, '--run-id', 'two-workers']);
    expect(listed).toMatch(/^run two-workers: 26 tables, [\d,]+ rows, [\d,]+ bytes\n/);
    expect(listed).toMatch(/\n {2}C1: [\d,]+ rows x 4 float16 \(sgd\), [\d,]+ bytes in \d+ keys\n/);
    expect(await cli(['tables', 'list', '--store', store])).toMatch(/^run two-workers: 26 tables/m);
    expect(await cli(['tables', 'drop', '--store', store, '--run-id', 'two-workers'])).toMatch(
      /^run two-workers: dropped 26 tables \(\d+ keys\)\n$/,
    );
    expect(await cli(['tables', 'list', '--store', store])).toBe(
      'no tables of any run in the store\n',
    );
  }, 240_000);

  it('keeps training when a master is killed mid-run, and says what happened', async () => {
    const out = join(dir, 'failover.json');
    const child = spawn(
      process.execPath,
      [
        BIN,
        'train',
        ...ARGS.filter((a) => a !== '--quiet'),
        '--train-examples',
        '4096',
        '--progress-every',
        '4',
        '--store',
        store,
        '--workers',
        '2',
        '--run-id',
        'failover-drill',
        '--metrics-out',
        out,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let killed: number | null = null;
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stderr.on('data', (chunk) => {
      stdout += String(chunk);
    });
    for await (const chunk of child.stdout) {
      stdout += String(chunk);
      if (killed === null && /step 8\/32/.test(stdout)) {
        // A master holding table blocks, not the run's coordination keys (their failover is
        // another drill): the rows' updates in flight there are the point.
        const coordination = masterOf(BASE_PORT, 'halfstep:{hs-run:failover-drill}:arrivals');
        killed = masters(BASE_PORT).find((port) => port !== coordination) ?? null;
        if (killed === null) throw new Error('no master to kill');
        await killNode(BASE_PORT, killed);
      }
    }
    expect(await exited, stdout).toBe(0);
    expect(killed, 'the master was killed during training').not.toBeNull();
    const result = JSON.parse(await readFile(out, 'utf8')) as DistributedResult;
    expect(result.examplesSeen).toBe(4096);
    expect(Number.isFinite(result.validation.logloss)).toBe(true);
    const unconfirmed = result.perWorker.map((w) => w.unconfirmedUpdates);
    console.log(
      `failover drill: killed master ${killed} at step 8 of 32; steps with unconfirmed embedding updates per worker: ${unconfirmed.join(', ')}; validation logloss ${result.validation.logloss.toFixed(5)}`,
    );
    // Back to 3 masters with a replica each (start-node waits for the failover, then the sync).
    await startNode(BASE_PORT, killed!, aclFile);
  }, 240_000);

  it('survives a failover of the master of its coordination keys (--sync-every 1, ACL user)', async () => {
    const out = join(dir, 'coordination-failover.json');
    const [, nodes] = store.split('//');
    const child = spawn(
      process.execPath,
      [
        BIN,
        'train',
        ...ARGS.filter((a) => a !== '--quiet'),
        ...['--train-examples', '2048', '--progress-every', '2', '--sync-every', '1'],
        ...['--workers', '2', '--run-id', 'coordination-drill', '--metrics-out', out],
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        // The guide's least-privilege user, through the environment.
        env: { ...process.env, HALFSTEP_STORE: `redis://trainer:${PASSWORD}@${nodes}` },
      },
    );
    let stdout = '';
    let killed: number | undefined;
    let killedAt = 0;
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stderr.on('data', (chunk) => {
      stdout += String(chunk);
    });
    for await (const chunk of child.stdout) {
      stdout += String(chunk);
      if (killed === undefined && /step 4\/16/.test(stdout)) {
        // Barriers, dense copies and results all live in the run's one hash slot.
        killed = masterOf(BASE_PORT, 'halfstep:{hs-run:coordination-drill}:arrivals:0');
        if (killed === undefined) throw new Error('no master holds the coordination keys');
        await killNode(BASE_PORT, killed);
        killedAt = Date.now();
      }
    }
    const code = await exited;
    const after = Date.now() - killedAt;
    expect(code, stdout).toBe(0);
    expect(killed, 'the master was killed during training').toBeDefined();
    expect(stdout).not.toContain(PASSWORD);
    const result = JSON.parse(await readFile(out, 'utf8')) as DistributedResult;
    expect(result.examplesSeen).toBe(2048);
    expect(result.perWorker.map((w) => w.syncs)).toEqual([17, 17]);
    // Commands the group sent again (ioredis absorbs some of the failover by itself).
    const retries = result.perWorker.map((w) => w.coordinationRetries);
    console.log(
      `coordination failover drill: killed master ${killed} (the run's coordination keys) at step 4 of 16 with --sync-every 1; the run finished ${after} ms later; coordination commands retried per worker: ${retries.join(', ')}; validation logloss ${result.validation.logloss.toFixed(5)}`,
    );
    expect(after).toBeLessThan(60_000);
  }, 120_000);
});

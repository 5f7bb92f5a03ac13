import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClusterStore } from '../src/index.js';
import { ROOT, redisAvailable, cluster as runScript, startCluster } from './cluster.js';

const BASE = 21300;
const available = redisAvailable();
const run = promisify(execFile);
const WORKER = join(ROOT, 'packages/store-redis/test/fixtures/worker.ts');

/** Runs `workers` trainer processes at once against table "hot" under `prefix`. */
async function train(
  nodes: string,
  prefix: string,
  storage: string,
  workers: number,
  updates: number,
  rows: number,
  dim: number,
): Promise<{ worker: number; updated: number }[]> {
  const procs = Array.from({ length: workers }, (_, w) =>
    run(
      process.execPath,
      [
        '--conditions=@halfstep/source',
        '--import',
        'tsx',
        WORKER,
        nodes,
        prefix,
        storage,
        String(w),
        String(workers),
        String(updates),
        String(rows),
        String(dim),
      ],
      { cwd: ROOT, timeout: 120_000 },
    ),
  );
  const outputs = await Promise.all(procs);
  return outputs.map((o) => JSON.parse(o.stdout.trim().split('\n').pop() as string));
}

describe.skipIf(!available)('concurrent trainers (separate processes) on the same hot rows', () => {
  let nodes = '';
  beforeAll(() => {
    nodes = startCluster(BASE);
  }, 90_000);
  afterAll(() => {
    if (available) runScript('stop', BASE);
  }, 60_000);

  it('float32: 4 workers x 50 updates of every row give exactly the sum (no lost update)', async () => {
    const workers = 4;
    const updates = 50;
    const rows = 8;
    const dim = 4;
    const reports = await train(nodes, 'sum32', 'float32', workers, updates, rows, dim);
    for (const r of reports) expect(r.updated).toBe(updates * rows);
    const store = await createRedisClusterStore({ nodes, keyPrefix: 'sum32' });
    await store.openTables([
      {
        name: 'hot',
        index: 0,
        rows,
        dim,
        storage: 'float32',
        rounding: 'stochastic',
        optimizer: (await import('@halfstep/optim')).sgd({ lr: 1 }),
        seed: 11n,
        init: new Float32Array(rows * dim),
      },
    ]);
    const values = await store.readRows(
      'hot',
      Int32Array.from({ length: rows }, (_, r) => r),
    );
    // The worker's gradient of element i at its update k is -(((w + k + i) mod 7) + 1); lr = 1.
    for (let i = 0; i < rows * dim; i++) {
      let expected = 0;
      for (let w = 0; w < workers; w++)
        for (let k = 0; k < updates; k++) expected += ((w + k + i) % 7) + 1;
      expect(values[i]).toBe(expected);
    }
    await store.close();
  }, 180_000);

  it('float16 with stochastic rounding: the result is unbiased (z-test)', async () => {
    const workers = 4;
    const updates = 25;
    const rows = 64;
    const dim = 8;
    const reports = await train(nodes, 'sr16', 'float16', workers, updates, rows, dim);
    for (const r of reports) expect(r.updated).toBe(updates * rows);
    const store = await createRedisClusterStore({ nodes, keyPrefix: 'sr16' });
    await store.openTables([
      {
        name: 'hot',
        index: 0,
        rows,
        dim,
        storage: 'float16',
        rounding: 'stochastic',
        optimizer: (await import('@halfstep/optim')).sgd({ lr: 1 }),
        seed: 11n,
        init: new Float32Array(rows * dim).fill(1),
      },
    ]);
    const values = await store.readRows(
      'hot',
      Int32Array.from({ length: rows }, (_, r) => r),
    );
    // Every element starts at 1 and receives n = 400 updates of +5 * 2^-14 = 5/16 of the float16
    // ulp (2^-10) on [1, 2): nearest-even would lose them all (result 1). With stochastic
    // rounding each store rounds up with probability p = 5/16, independently (distinct counters:
    // workers use disjoint steps), so the final value has mean 1 + n * 5 * 2^-14 and variance
    // n p (1 - p) ulp^2. The mean over the K = 512 elements is tested with |z| < 4.5: a false
    // alarm rate of about 7e-6 per run; a biased rounding (nearest, truncation) gives |z| > 100.
    const n = workers * updates;
    const p = 5 / 16;
    const ulp = 2 ** -10;
    const K = rows * dim;
    const mean = values.reduce((a, b) => a + b, 0) / K;
    const expected = 1 + n * 5 * 2 ** -14;
    const sd = (Math.sqrt(n * p * (1 - p)) * ulp) / Math.sqrt(K);
    const z = (mean - expected) / sd;
    console.log(
      `[store-redis] float16 SR, ${workers} workers x ${updates} updates x ${K} elements: mean ${mean.toFixed(6)}, expected ${expected.toFixed(6)}, z = ${z.toFixed(2)}`,
    );
    expect(Math.abs(z)).toBeLessThan(4.5);
    // Values are on the float16 grid and moved: not a float32 store in disguise.
    for (const v of values) expect((v - 1) / ulp).toBe(Math.round((v - 1) / ulp));
    expect(mean).toBeGreaterThan(1.02);
    await store.close();
  }, 180_000);
});

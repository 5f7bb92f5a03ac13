import { initProgressRows, type TableSpec } from '@halfstep/backend';
import { sgd } from '@halfstep/optim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClusterStore, type RedisClusterStore } from '../src/index.js';
import { redisAvailable, cluster as runScript, startCluster } from './cluster.js';

const BASE = 21500;
const available = redisAvailable();

// A table the store creates reports the progress of its blocks through `spec.onProgress`; one it
// attaches to reports nothing.
describe.skipIf(!available)('RedisClusterStore: TableSpec.onProgress', () => {
  let store: RedisClusterStore;
  beforeAll(async () => {
    const nodes = startCluster(BASE);
    store = await createRedisClusterStore({
      nodes,
      keyPrefix: `progress-${process.pid}-${Date.now()}`,
      blockBytes: 4096,
    });
  }, 90_000);
  afterAll(async () => {
    await store?.close();
    if (available) runScript('stop', BASE);
  }, 60_000);

  it('monotonic calls, at least initProgressRows apart, ending with done === total', async () => {
    const dim = 64;
    const every = initProgressRows(dim);
    const rows = 2 * every + 1000;
    const calls: [number, number][] = [];
    const spec: TableSpec = {
      name: 'progress',
      index: 0,
      rows,
      dim,
      storage: 'float8e4m3',
      rounding: 'nearest-even',
      optimizer: sgd({ lr: 0.1 }),
      seed: 5n,
      init: { uniform: 0.01 },
      onProgress: (done, total) => calls.push([done, total]),
    };
    const [opened] = await store.openTables([spec]);
    expect(opened).toEqual({ name: 'progress', created: true });
    expect(calls.at(-1)).toEqual([rows, rows]);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeLessThanOrEqual(Math.floor(rows / every) + 1);
    let last = 0;
    for (const [i, [done, total]] of calls.entries()) {
      expect(total).toBe(rows);
      expect(done).toBeGreaterThan(last);
      if (i < calls.length - 1) expect(done - last).toBeGreaterThanOrEqual(every);
      last = done;
    }
    // Attaching to the existing table writes nothing and reports nothing.
    calls.length = 0;
    const [again] = await store.openTables([spec]);
    expect(again).toEqual({ name: 'progress', created: false });
    expect(calls).toEqual([]);
  }, 120_000);
});

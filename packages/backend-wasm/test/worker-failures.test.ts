import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BagUpdate, TableHandle, TableSpec } from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import { adam } from '@halfstep/optim';
import { createEngine } from '@halfstep/rng';
import { afterAll, describe, expect, it } from 'vitest';
import {
  HogwildPool,
  loadKernels,
  type ThreadMode,
  UpdatePool,
  WasmBackend,
} from '../src/index.js';
import { type WorkerFaults, workerFaults } from '../src/threads.js';
import { firstDifference, threeTableSpecs } from './helpers.js';

/** A call that depends on a dead worker resolves or rejects within this bound. */
const BOUND_MS = 5000;

/** A WASM backend with worker threads and the JS reference, trained on the same inputs. */
class Twin {
  readonly js = new JsBackend();
  private readonly hw: TableHandle[];
  private readonly hj: TableHandle[];
  private readonly rng = createEngine('xoshiro128++', 21);
  private step = 0;

  constructor(
    readonly wasm: WasmBackend,
    readonly faults: WorkerFaults,
    specs: TableSpec[],
    private readonly lookups: number,
  ) {
    this.hw = specs.map((s) => wasm.createTable(s));
    this.hj = specs.map((s) => this.js.createTable(s));
    for (let i = 0; i < specs.length; i++) {
      const h = this.hw[i]!;
      const values = new Float32Array(h.rows * h.dim).map(() => this.rng.nextFloat() - 0.5);
      wasm.writeRows(h, values);
      this.js.writeRows(this.hj[i]!, values);
    }
  }

  /**
   * One backward call on both backends, same inputs; resolves with the WASM call's outcome and
   * how long it took to settle (ms). In hogwild mode the result is awaited only when `wait`
   * (awaiting it waits for the worker's update; the tests leave that to the next call, `flush`
   * or a read).
   */
  async backward(wait = this.wasm.mode !== 'hogwild'): Promise<{ error: unknown; ms: number }> {
    const step = this.step++;
    const inputs = this.hw.map((h) => {
      const bags = this.lookups / 3;
      const indices = new Int32Array(this.lookups).map(() =>
        Math.floor(h.rows * this.rng.nextFloat() ** 2),
      );
      const offsets = Int32Array.from({ length: bags }, (_, b) => 3 * b);
      const grad = new Float32Array(bags * h.dim).map(() => this.rng.nextFloat() - 0.5);
      return { input: { indices, offsets }, grad };
    });
    const updates = (backend: WasmBackend | JsBackend, handles: TableHandle[]): BagUpdate[] =>
      handles.map((table, i) => ({
        table,
        input: inputs[i]!.input,
        pooling: 'sum' as const,
        gradOutput: backend.tensor(inputs[i]!.grad),
        step,
      }));
    await this.js.embeddingBagBackward(updates(this.js, this.hj));
    const start = performance.now();
    let error: unknown;
    try {
      const result = this.wasm.embeddingBagBackward(updates(this.wasm, this.hw));
      if (wait) await result;
    } catch (e) {
      error = e;
    }
    return { error, ms: performance.now() - start };
  }

  /** Asserts that every table's weights and state are the reference's, bit for bit. */
  async expectSame(label: string): Promise<void> {
    for (let i = 0; i < this.hw.length; i++) {
      const got = await this.wasm.exportTable(this.hw[i]!);
      const want = await this.js.exportTable(this.hj[i]!);
      expect(firstDifference(got.weights, want.weights), `${label}: table ${i} weights`).toBe(-1);
      expect(firstDifference(got.state, want.state), `${label}: table ${i} state`).toBe(-1);
    }
  }
}

const backends: WasmBackend[] = [];
afterAll(() => {
  for (const b of backends) {
    try {
      b.dispose();
    } catch {
      // A pool out of service throws its error once more; its threads are stopped anyway.
    }
  }
});

async function twin(
  mode: ThreadMode,
  threads: number,
  specs: TableSpec[] = threeTableSpecs(),
  lookups = 300,
): Promise<Twin> {
  const kernels = await loadKernels({ shared: true });
  const pool =
    mode === 'hogwild'
      ? await HogwildPool.start(kernels, threads)
      : await UpdatePool.start(kernels, threads);
  const wasm = new WasmBackend(kernels, pool, 1, mode);
  backends.push(wasm);
  return new Twin(wasm, workerFaults(pool), specs, lookups);
}

/** Two tables big enough that a worker's share of an update takes a while. */
function bigSpecs(): TableSpec[] {
  return [0, 1].map((index) => ({
    name: `big${index}`,
    index,
    rows: 6000,
    dim: 64,
    storage: 'float16' as const,
    rounding: 'stochastic' as const,
    optimizer: adam({ lr: 0.01, stateStorage: 'float16' }),
    seed: BigInt(index + 1),
  }));
}

describe('reproducible mode: a worker that exits', () => {
  it('while idle: later backward calls run its rows on the calling thread, same bits', async () => {
    const t = await twin('reproducible', 2);
    expect((await t.backward()).error).toBeUndefined();
    await t.expectSame('before');
    expect(await t.faults.kill(0)).toBe(1);
    expect(t.wasm.threads).toBe(1);
    for (let s = 0; s < 3; s++) {
      const { error, ms } = await t.backward();
      expect(error).toBeUndefined();
      expect(ms).toBeLessThan(BOUND_MS);
      await t.expectSame(`after the kill, step ${s}`);
    }
    expect(t.wasm.stats().submissions).toBe(3);
    expect(t.faults.failures).toEqual([
      expect.stringMatching(
        /^wasm worker 1 of 1 \(thread id \d+\) exited \(code 1\) while idle; no update was lost; later updates run on the calling thread alone$/,
      ),
    ]);
  });

  it('half-way through its rows (rows and gradients overwritten): the caller restores and completes them, exactly once', async () => {
    const t = await twin('reproducible', 2);
    t.faults.arm(0, 'mid-update', 7);
    const { error, ms } = await t.backward();
    expect(error).toBeUndefined();
    expect(ms).toBeLessThan(BOUND_MS);
    await t.expectSame('the step of the death');
    expect(t.faults.exited(0)).toBe(true);
    expect(t.faults.failures).toHaveLength(1);
    expect(t.faults.failures[0]).toMatch(
      /^wasm worker 1 of 1 \(thread id \d+\) exited \(code 7\) during the update of table "a" \(step 0\); the calling thread ran its unfinished part \(\d+ rows, the first block restored from its backup\), so the update is complete, exactly once; later updates run on the calling thread alone$/,
    );
    for (let s = 0; s < 2; s++) {
      expect((await t.backward()).error).toBeUndefined();
      await t.expectSame(`later step ${s}`);
    }
  });

  it('with an uncaught error: the error is named, the update complete', async () => {
    const t = await twin('reproducible', 3);
    expect((await t.backward()).error).toBeUndefined();
    t.faults.arm(1, 'throw');
    const { error, ms } = await t.backward();
    expect(error).toBeUndefined();
    expect(ms).toBeLessThan(BOUND_MS);
    await t.expectSame('the step of the death');
    expect(t.faults.failures[0]).toMatch(
      /^wasm worker 2 of 2 \(thread id \d+\) exited \(code 1: Error: injected worker failure\) during the update of table "a" \(step 1\);.* later updates run on the 1 remaining worker thread and the calling thread$/,
    );
    // The remaining worker still takes its share.
    expect(t.wasm.threads).toBe(2);
    const before = t.wasm.stats().submissions;
    expect((await t.backward()).error).toBeUndefined();
    await t.expectSame('later step');
    expect(t.wasm.stats().submissions).toBe(before + 3);
  });

  it('on waking, before touching its job: the caller runs the whole share', async () => {
    const t = await twin('reproducible', 2);
    t.faults.arm(0, 'wake', 3);
    const { error, ms } = await t.backward();
    expect(error).toBeUndefined();
    expect(ms).toBeLessThan(BOUND_MS);
    await t.expectSame('the step of the death');
    expect(t.faults.failures[0]).toMatch(
      /exited \(code 3\) during the update of table "a" \(step 0\); the calling thread ran its unfinished part \(\d+ rows\), so/,
    );
  });

  it('terminated wherever it is in a long update: same bits every time', async () => {
    const t = await twin('reproducible', 3, bigSpecs(), 30000);
    t.faults.arm(0, 'terminate');
    expect((await t.backward()).error).toBeUndefined();
    await t.expectSame('worker 1 terminated');
    t.faults.arm(1, 'terminate');
    const { error, ms } = await t.backward();
    expect(error).toBeUndefined();
    expect(ms).toBeLessThan(BOUND_MS);
    await t.expectSame('worker 2 terminated');
    expect(t.faults.failures).toHaveLength(2);
    expect(t.wasm.threads).toBe(1);
    expect((await t.backward()).error).toBeUndefined();
    await t.expectSame('later step');
  });

  it('a silent supervisor with a hung worker: the call rejects in bounded time naming the worker, later calls fail fast, dispose stops the threads', async () => {
    const t = await twin('reproducible', 2);
    t.faults.silenceSupervisor(300);
    t.faults.arm(0, 'hang');
    const first = await t.backward();
    expect(first.ms).toBeLessThan(BOUND_MS);
    expect(String(first.error)).toMatch(
      /^Error: wasm worker 1 of 1 \(thread id \d+\): no heartbeat from the pool's supervisor thread for 300 ms while waiting for the update of table "a" \(step 0\)/,
    );
    const second = await t.backward();
    expect(second.error).toBe(first.error);
    expect(second.ms).toBeLessThan(100);
    t.wasm.dispose();
  });
});

describe('hogwild mode: a worker that exits', () => {
  it('half-way through a job: the next flush completes it, exactly once, nothing lost', async () => {
    const t = await twin('hogwild', 2);
    expect((await t.backward()).error).toBeUndefined();
    await t.expectSame('before');
    t.faults.arm(0, 'mid-update', 9);
    expect((await t.backward()).error).toBeUndefined();
    const start = performance.now();
    await t.wasm.flush();
    expect(performance.now() - start).toBeLessThan(BOUND_MS);
    expect(t.faults.exited(0)).toBe(true);
    await t.expectSame('after the flush');
    expect(t.faults.failures).toEqual([
      expect.stringMatching(
        /^wasm worker 1 of 1 \(thread id \d+\) exited \(code 9\) during the update of a backward call \(step 1; tables "a", "b", "c"\); the calling thread ran its unfinished part \(\d+ rows, the first block restored from its backup\), so the update is complete, exactly once; later updates run on the calling thread alone$/,
      ),
    ]);
    // Later calls run on the calling thread: nothing is handed off any more.
    const before = t.wasm.stats().submissions;
    for (let s = 0; s < 2; s++) {
      expect((await t.backward()).error).toBeUndefined();
      await t.expectSame(`later step ${s}`);
    }
    expect(t.wasm.stats().submissions).toBe(before);
  });

  it('with its job in flight: the next backward call completes it before its own update', async () => {
    const t = await twin('hogwild', 2);
    t.faults.arm(0, 'wake', 5);
    expect((await t.backward()).error).toBeUndefined();
    // Wait for the death without any call that settles the job.
    const deadline = performance.now() + BOUND_MS;
    while (!t.faults.exited(0) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(t.faults.exited(0)).toBe(true);
    expect(t.faults.failures).toHaveLength(0);
    const { error, ms } = await t.backward();
    expect(error).toBeUndefined();
    expect(ms).toBeLessThan(BOUND_MS);
    expect(t.faults.failures[0]).toMatch(
      /exited \(code 5\) during the update of a backward call \(step 0; tables "a", "b", "c"\); the calling thread ran its unfinished part/,
    );
    await t.expectSame('after the next call');
  });

  it('terminated wherever it is in a long job, or killed while idle: same bits, later jobs go to the other worker', async () => {
    const t = await twin('hogwild', 3, bigSpecs(), 30000);
    t.faults.arm(0, 'terminate');
    expect((await t.backward()).error).toBeUndefined();
    await t.wasm.flush();
    await t.expectSame('worker 1 terminated');
    expect(t.wasm.threads).toBe(2);
    const before = t.wasm.stats().submissions;
    expect((await t.backward()).error).toBeUndefined();
    await t.expectSame('on the other worker');
    expect(t.wasm.stats().submissions).toBe(before + 1);
    await t.faults.kill(1);
    expect((await t.backward()).error).toBeUndefined();
    await t.expectSame('on the calling thread');
    expect(t.wasm.stats().submissions).toBe(before + 1);
    expect(t.faults.failures).toHaveLength(2);
    expect(t.faults.failures[1]).toMatch(/^wasm worker 2 of 2 .* while idle; no update was lost/);
  });

  it('a silent supervisor with a hung worker: flush rejects in bounded time naming the worker and the job, later calls fail fast', async () => {
    const t = await twin('hogwild', 2);
    t.faults.silenceSupervisor(300);
    t.faults.arm(0, 'hang');
    expect((await t.backward()).error).toBeUndefined();
    const start = performance.now();
    const error = await t.wasm.flush().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(performance.now() - start).toBeLessThan(BOUND_MS);
    expect(String(error)).toMatch(
      /^Error: wasm worker 1 of 1 \(thread id \d+\): no heartbeat from the pool's supervisor thread for 300 ms while waiting for the update of a backward call \(step 0; tables "a", "b", "c"\)/,
    );
    // Refused at once (the pool is out of service): awaiting does not wait for any worker.
    expect((await t.backward(true)).error).toBe(error);
    await expect(t.wasm.flush()).rejects.toBe(error);
    // dispose stops the threads and frees the memory, then reports the error once more.
    expect(() => t.wasm.dispose()).toThrow(error as Error);
    expect(() => t.wasm.dispose()).not.toThrow();
  });
});

describe('after worker deaths', () => {
  it('the process exits by itself, disposed or not', async () => {
    const script = fileURLToPath(new URL('./fixtures/worker-death-exit.ts', import.meta.url));
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          ['--conditions=@halfstep/source', '--import', 'tsx', script],
          { cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 60_000 },
          (error, out) => resolve({ code: error ? (error.code as number | null) : 0, stdout: out }),
        );
      },
    );
    expect(stdout).toContain('done');
    expect(code).toBe(0);
  }, 70_000);
});

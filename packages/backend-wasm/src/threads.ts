import type { Kernels } from './kernels.js';

/**
 * How threads share the fused update. 'reproducible': each table's distinct rows are split
 * across the threads, bit-identical for every thread count. 'hogwild': each backward call is
 * one job, run by an idle worker thread while the caller goes on (or by the caller when every
 * worker is busy), so that jobs overlap and race on shared rows (see the README's "Threads").
 */
export type ThreadMode = 'reproducible' | 'hogwild';

/**
 * The worker's code (no file, so that the package needs no path juggling): instantiate the
 * module on the shared memory, then loop: wait for a new generation, run `applyUpdate` on this
 * worker's parameter block (if any), count down, wake the main thread.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, index } = workerData;
const instance = new WebAssembly.Instance(module, {
  env: { memory, abort() { throw new Error('wasm kernel aborted'); } },
});
const ctl = new Int32Array(control);
let seen = 0;
for (;;) {
  Atomics.wait(ctl, 0, seen);
  seen = Atomics.load(ctl, 0);
  if (Atomics.load(ctl, 2) === 1) break;
  const params = Atomics.load(ctl, 4 + index);
  if (params !== 0) instance.exports.applyUpdate(params);
  if (Atomics.sub(ctl, 1, 1) === 1) Atomics.notify(ctl, 1);
}
`;

/** The part of `node:worker_threads` used here. */
interface WorkerLike {
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'error', listener: (error: Error) => void): void;
  once(event: 'message' | 'error', listener: (value: unknown) => void): void;
}

/**
 * Starts `threads - 1` worker threads running `source`, each given the kernels' module and shared
 * memory, the buffer of a new control array of `words` int32 words (returned with them) and its
 * index.
 * @throws Error when the memory is not shared or worker_threads is unavailable.
 */
async function startWorkers(
  kernels: Kernels,
  threads: number,
  source: string,
  words: number,
): Promise<{ workers: WorkerLike[]; control: Int32Array }> {
  if (!kernels.shared) throw new Error('threads need kernels loaded with { shared: true }');
  let threadsModule: { Worker: new (code: string, options: object) => WorkerLike };
  try {
    threadsModule = (await import('node:worker_threads')) as unknown as typeof threadsModule;
  } catch {
    throw new Error('threads need node:worker_threads (Node.js); use threads: 1 elsewhere');
  }
  const control = new Int32Array(new SharedArrayBuffer(4 * words));
  const workers = Array.from(
    { length: threads - 1 },
    (_, index) =>
      new threadsModule.Worker(source, {
        eval: true,
        workerData: {
          module: kernels.module,
          memory: kernels.memory,
          control: control.buffer,
          index,
        },
      }),
  );
  return { workers, control };
}

/** Lets the process exit with the workers alive, and hands their errors to `onError`. */
function watchWorkers(workers: readonly WorkerLike[], onError: (error: Error) => void): void {
  for (const worker of workers) {
    worker.unref();
    worker.on('error', onError);
  }
}

/**
 * Worker threads that run the fused update on the backend's shared WASM memory. Each run hands
 * every worker one parameter block (a slice of the rows) and blocks the calling thread until all
 * are done (`Atomics.wait`: Node's main thread, or a worker; not a browser's main thread).
 *
 * Control words (Int32Array on a SharedArrayBuffer): 0 generation, 1 workers still running,
 * 2 stop flag, 4 + w the parameter block of worker w (0: nothing to do).
 */
export class UpdatePool {
  /** Worker threads (the calling thread works too: `threads` = workers + 1). */
  readonly workers: number;
  private readonly control: Int32Array;
  private readonly handles: WorkerLike[];
  private failure: Error | undefined;

  private constructor(workers: WorkerLike[], control: Int32Array) {
    this.workers = workers.length;
    this.handles = workers;
    this.control = control;
    watchWorkers(workers, (error) => {
      this.failure = error;
    });
  }

  /**
   * Starts `threads - 1` workers on the kernels' shared memory.
   * @throws Error when the memory is not shared or worker_threads is unavailable.
   */
  static async start(kernels: Kernels, threads: number): Promise<UpdatePool> {
    const { workers, control } = await startWorkers(kernels, threads, WORKER_SOURCE, 4 + threads);
    return new UpdatePool(workers, control);
  }

  /**
   * Runs `applyUpdate` on `blocks[w]` in worker w (0 = skip) while the caller runs `own()`, and
   * returns when all are done.
   * @throws the first error a worker reported.
   */
  run(blocks: readonly number[], own: () => void): void {
    const c = this.control;
    for (let w = 0; w < this.workers; w++) Atomics.store(c, 4 + w, blocks[w] ?? 0);
    Atomics.store(c, 1, this.workers);
    Atomics.add(c, 0, 1);
    Atomics.notify(c, 0);
    try {
      own();
    } finally {
      for (let left = Atomics.load(c, 1); left !== 0; left = Atomics.load(c, 1)) {
        if (this.failure) break;
        Atomics.wait(c, 1, left, 1000);
      }
    }
    if (this.failure) throw this.failure;
  }

  /** Stops the workers. */
  stop(): void {
    Atomics.store(this.control, 2, 1);
    Atomics.add(this.control, 0, 1);
    Atomics.notify(this.control, 0);
    for (const worker of this.handles) void worker.terminate();
  }
}

/**
 * The hogwild worker's code: like the reproducible one, but each worker has its own mailbox and
 * runs a whole job (one backward call: `applyUpdate` on every parameter block of the job
 * descriptor) while the calling thread goes on.
 */
const HOGWILD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, control, index } = workerData;
const instance = new WebAssembly.Instance(module, {
  env: { memory, abort() { throw new Error('wasm kernel aborted'); } },
});
parentPort.postMessage('ready');
const ctl = new Int32Array(control);
const base = 4 + 4 * index;
let seen = 0;
for (;;) {
  Atomics.wait(ctl, base, seen);
  seen = Atomics.load(ctl, base);
  if (Atomics.load(ctl, 0) === 1) break;
  const job = Atomics.load(ctl, base + 2) >>> 2;
  try {
    const words = new Int32Array(memory.buffer);
    for (let k = 0, n = words[job]; k < n; k++) instance.exports.applyUpdate(words[job + 1 + k]);
  } catch (error) {
    Atomics.store(ctl, base + 3, 1);
    throw error;
  } finally {
    Atomics.store(ctl, base + 1, 0);
    Atomics.notify(ctl, base + 1);
  }
}
`;

/**
 * Worker threads of the hogwild mode: each takes whole jobs (a backward call's updates) and runs
 * them while the calling thread goes on, so that jobs overlap each other and the caller's next
 * forward pass, racing on shared rows.
 *
 * Control words (Int32Array on a SharedArrayBuffer): 0 stop flag; for worker w at 4 + 4w:
 * generation, busy (1 from hand-off until the job is done), job descriptor address, failed (1
 * once a job threw: the worker is gone).
 */
export class HogwildPool {
  /** Worker threads (the calling thread also runs jobs when every worker is busy). */
  readonly workers: number;
  private readonly control: Int32Array;
  private readonly handles: WorkerLike[];
  private failure: Error | undefined;
  /** Backward calls started so far. */
  private calls = 0;
  /** Per worker: the call whose job it runs (+infinity once known to be done). */
  private readonly jobCall: number[];

  private constructor(workers: WorkerLike[], control: Int32Array) {
    this.workers = workers.length;
    this.handles = workers;
    this.control = control;
    this.jobCall = workers.map(() => Number.POSITIVE_INFINITY);
    watchWorkers(workers, (error) => {
      this.failure = error;
    });
  }

  /**
   * Starts `threads - 1` workers on the kernels' shared memory and waits until each is ready.
   * @throws Error when the memory is not shared, worker_threads is unavailable, or a worker
   *   fails to start.
   */
  static async start(kernels: Kernels, threads: number): Promise<HogwildPool> {
    const { workers, control } = await startWorkers(
      kernels,
      threads,
      HOGWILD_SOURCE,
      4 + 4 * threads,
    );
    // Wait until every worker has instantiated the module: a job handed to a worker still
    // starting would land many steps late.
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            worker.once('message', () => resolve());
            worker.once('error', reject);
          }),
      ),
    );
    return new HogwildPool(workers, control);
  }

  /**
   * Starts a backward call: first waits for every job handed off more than `maxLag` calls ago
   * (so that no update lands more than `maxLag` calls late, even when a worker thread is
   * descheduled), then returns a worker with no job (its buffers may be reused), or -1 when all
   * are busy.
   * @throws the first error a worker reported.
   */
  nextCall(maxLag: number): number {
    this.calls++;
    for (let w = 0; w < this.workers; w++) {
      if (this.calls - this.jobCall[w]! > maxLag) this.settleWorker(w);
    }
    this.throwIfFailed();
    for (let w = 0; w < this.workers; w++) {
      if (Atomics.load(this.control, 4 + 4 * w + 1) === 0) return w;
    }
    return -1;
  }

  /**
   * Hands the job descriptor at `job` (an i32 count, then that many parameter block addresses)
   * to idle worker `w` and returns at once.
   */
  assign(w: number, job: number): void {
    this.jobCall[w] = this.calls;
    const c = this.control;
    const base = 4 + 4 * w;
    Atomics.store(c, base + 2, job);
    Atomics.store(c, base + 1, 1);
    Atomics.add(c, base, 1);
    Atomics.notify(c, base);
  }

  /**
   * Blocks until every worker is idle (all handed-off jobs stored).
   * @throws the first error a worker reported.
   */
  settle(): void {
    for (let w = 0; w < this.workers; w++) this.settleWorker(w);
    this.throwIfFailed();
  }

  /** Blocks until worker `w` is idle (or a worker failed). */
  private settleWorker(w: number): void {
    const c = this.control;
    const busy = 4 + 4 * w + 1;
    while (Atomics.load(c, busy) !== 0 && !this.failure && !this.failed()) {
      Atomics.wait(c, busy, 1, 1000);
    }
    this.jobCall[w] = Number.POSITIVE_INFINITY;
  }

  /** Whether a worker's job threw (seen through the control words, without the event loop). */
  private failed(): boolean {
    for (let w = 0; w < this.workers; w++)
      if (Atomics.load(this.control, 4 + 4 * w + 3) === 1) return true;
    return false;
  }

  /** @throws the worker's error, or an Error when a worker's job threw and its error event is not in yet. */
  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
    if (this.failed()) throw new Error('a hogwild worker thread failed while running an update');
  }

  /** Stops the workers (after their current job). */
  stop(): void {
    Atomics.store(this.control, 0, 1);
    for (let w = 0; w < this.workers; w++) {
      Atomics.add(this.control, 4 + 4 * w, 1);
      Atomics.notify(this.control, 4 + 4 * w);
    }
    for (const worker of this.handles) void worker.terminate();
  }
}

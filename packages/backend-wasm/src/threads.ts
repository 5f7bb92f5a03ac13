import type { Kernels } from './kernels.js';

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
    for (const worker of workers) {
      worker.unref();
      worker.on('error', (error) => {
        this.failure = error;
      });
    }
  }

  /**
   * Starts `threads - 1` workers on the kernels' shared memory.
   * @throws Error when the memory is not shared or worker_threads is unavailable.
   */
  static async start(kernels: Kernels, threads: number): Promise<UpdatePool> {
    if (!kernels.shared) throw new Error('threads need kernels loaded with { shared: true }');
    let threadsModule: { Worker: new (code: string, options: object) => WorkerLike };
    try {
      threadsModule = (await import('node:worker_threads')) as unknown as typeof threadsModule;
    } catch {
      throw new Error('threads need node:worker_threads (Node.js); use threads: 1 elsewhere');
    }
    const control = new Int32Array(new SharedArrayBuffer(4 * (4 + threads)));
    const workers = Array.from(
      { length: threads - 1 },
      (_, index) =>
        new threadsModule.Worker(WORKER_SOURCE, {
          eval: true,
          workerData: {
            module: kernels.module,
            memory: kernels.memory,
            control: control.buffer,
            index,
          },
        }),
    );
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

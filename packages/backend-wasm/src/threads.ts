import type { Worker } from 'node:worker_threads';
import { bytesPerElement, type StorageName } from '@halfstep/backend';
import type { Kernels } from './kernels.js';
import { STORAGE_KINDS, UPDATE_LAYOUT } from './layouts.js';

/**
 * How threads share the fused update. 'reproducible': each table's distinct rows are split
 * across the threads, bit-identical for every thread count. 'hogwild': each backward call is
 * one job, run by an idle worker thread while the caller goes on (or by the caller when every
 * worker is busy), so that jobs overlap and race on shared rows (see the README's "Threads").
 */
export type ThreadMode = 'reproducible' | 'hogwild';

// Control words (an Int32Array on a SharedArrayBuffer). Global words first:
/** 1 once the pool stops: the workers leave their loops. */
const G_STOP = 0;
/** Bumped by the supervisor thread every `HEARTBEAT_MS` (its liveness, seen without events). */
const G_HEARTBEAT = 1;
/** Worker w's words start at WORKER_BASE + WORKER_WORDS * w: */
const WORKER_BASE = 8;
const WORKER_WORDS = 16;
/** Generation: the caller bumps it (and notifies) to hand a job over. */
const W_GEN = 0;
/** 1 from the hand-off until the worker has run the whole job. */
const W_BUSY = 1;
/** Address of the job descriptor: an i32 count n, then n `applyUpdate` parameter blocks. */
const W_JOB = 2;
/**
 * Progress through the job, 2k + s: blocks before k are stored; s = 0: block k untouched (its
 * backup may be under way); s = 1: block k's backup is complete and its update may have begun.
 * 2n (n blocks) once the job is over, also when it ended early, rolled back (see `runBlock`).
 */
const W_PROGRESS = 3;
/** Address of the worker's backup area (one block's rows and gradients, see ROWS_SOURCE). */
const W_BACKUP = 4;
/** 0 while starting, STATE_RUNNING, or STATE_EXITED (written by the supervisor after 'exit'). */
const W_STATE = 5;
/** The exit code (valid once STATE_EXITED). */
const W_EXIT_CODE = 6;
/** The worker's thread id (from its supervisor). */
const W_THREAD_ID = 7;
/** Test hooks: where the worker is to fail in its next job (KILL_*), and its exit code. */
const W_KILL = 8;
const W_KILL_CODE = 9;

const STATE_RUNNING = 1;
const STATE_EXITED = 2;

/** @internal Test hook points (W_KILL; see {@link WorkerFaults}). */
export const KILL_POINTS = { wake: 1, 'mid-update': 2, terminate: 3, hang: 4, throw: 5 } as const;

/** Bytes per worker of the supervisor's note of why it exited (the error's first line). */
const NOTE_BYTES = 256;
/** How often the supervisor bumps its heartbeat. */
const HEARTBEAT_MS = 50;
/** The slice of a bounded wait: the waiting thread checks liveness at least this often. */
const WAIT_SLICE_MS = 5;
/** The supervisor's silence (observed while waiting) after which the pool gives up. */
const SUPERVISOR_TIMEOUT_MS = 5000;

const P = UPDATE_LAYOUT.slots;
const KIND_BYTES: number[] = [];
for (const [name, kind] of Object.entries(STORAGE_KINDS)) {
  KIND_BYTES[kind] = bytesPerElement(name as StorageName);
}

/**
 * The backup of one `applyUpdate` parameter block, as JS source run by the workers (saving) and
 * by the calling thread (restoring): the block's summed gradients (the kernel adds weight decay
 * to them in place), then its rows of weights and of optimizer state, each section padded to 16
 * bytes. Rows are copied in aligned 4-, 2- or 1-byte units, each holding whole elements, so no
 * element is torn even when a hogwild update races on the row (the hardware guarantee of the
 * README's "Never a torn code").
 */
const ROWS_SOURCE = `
const KIND_BYTES = ${JSON.stringify(KIND_BYTES)};
function padded(n) { return Math.ceil(n / 16) * 16; }
function blockSections(i32, block) {
  const p = block >>> 2;
  const count = i32[p + ${P.count}];
  const dim = i32[p + ${P.dim}];
  const stateSize = i32[p + ${P.stateSize}];
  const wBytes = KIND_BYTES[i32[p + ${P.wKind}]];
  const sBytes = KIND_BYTES[i32[p + ${P.sKind}]];
  return {
    count, dim, stateSize, wBytes, sBytes,
    rows: i32[p + ${P.rows}] >>> 0,
    grads: i32[p + ${P.grads}] >>> 0,
    weights: i32[p + ${P.weights}] >>> 0,
    state: i32[p + ${P.state}] >>> 0,
    gradBytes: padded(count * dim * 4),
    weightBytes: padded(count * dim * wBytes),
    stateBytes: stateSize === 0 ? 0 : padded(count * stateSize * sBytes),
  };
}
function blockBackupBytes(buffer, block) {
  const s = blockSections(new Int32Array(buffer), block);
  return s.gradBytes + s.weightBytes + s.stateBytes;
}
// One loop per access width, each on one typed array type (monomorphic: fast).
function copy32(buffer, table, rows, count, width, backup, save) {
  const v = new Int32Array(buffer);
  const i32 = v;
  const t = table >>> 2;
  const r = rows >>> 2;
  for (let u = 0, b = backup >>> 2; u < count; u++, b += width) {
    const at = t + i32[r + u] * width;
    if (save) for (let c = 0; c < width; c++) v[b + c] = v[at + c];
    else for (let c = 0; c < width; c++) v[at + c] = v[b + c];
  }
}
function copy16(buffer, table, rows, count, width, backup, save) {
  const v = new Uint16Array(buffer);
  const i32 = new Int32Array(buffer);
  const t = table >>> 1;
  const r = rows >>> 2;
  for (let u = 0, b = backup >>> 1; u < count; u++, b += width) {
    const at = t + i32[r + u] * width;
    if (save) for (let c = 0; c < width; c++) v[b + c] = v[at + c];
    else for (let c = 0; c < width; c++) v[at + c] = v[b + c];
  }
}
function copy8(buffer, table, rows, count, width, backup, save) {
  const v = new Uint8Array(buffer);
  const i32 = new Int32Array(buffer);
  const r = rows >>> 2;
  for (let u = 0, b = backup; u < count; u++, b += width) {
    const at = table + i32[r + u] * width;
    if (save) for (let c = 0; c < width; c++) v[b + c] = v[at + c];
    else for (let c = 0; c < width; c++) v[at + c] = v[b + c];
  }
}
// Copies rows of rowBytes bytes in the widest aligned unit that holds whole elements (4 bytes
// when the row size and the table's address allow): every element is read and written whole.
function copyRows(buffer, table, rows, count, rowBytes, backup, save) {
  if (rowBytes === 0 || count === 0) return;
  if (rowBytes % 4 === 0 && table % 4 === 0) copy32(buffer, table, rows, count, rowBytes / 4, backup, save);
  else if (rowBytes % 2 === 0 && table % 2 === 0) copy16(buffer, table, rows, count, rowBytes / 2, backup, save);
  else copy8(buffer, table, rows, count, rowBytes, backup, save);
}
function copyBlock(buffer, block, backup, save) {
  const i32 = new Int32Array(buffer);
  const s = blockSections(i32, block);
  const g = s.grads >>> 2;
  const n = s.count * s.dim;
  if (save) i32.copyWithin(backup >>> 2, g, g + n);
  else i32.copyWithin(g, backup >>> 2, (backup >>> 2) + n);
  copyRows(buffer, s.weights, s.rows, s.count, s.dim * s.wBytes, backup + s.gradBytes, save);
  copyRows(buffer, s.state, s.rows, s.count, s.stateSize * s.sBytes, backup + s.gradBytes + s.weightBytes, save);
}
// Runs block k of the job at i32 index "job" (a count, then the blocks). A block that stopped at
// a row with a non-finite result (policy 'error') is rolled back, with the job's earlier blocks,
// from their journals: the job then leaves its tables as they were, and ends. A rollback only
// rewrites journaled codes, so running it twice (a worker that died half-way) changes nothing.
// Returns whether the job goes on.
function runBlock(exports, i32, job, k) {
  const block = i32[job + 1 + k];
  exports.applyUpdate(block);
  const p = block >>> 2;
  if (i32[p + ${P.done}] >= i32[p + ${P.count}]) return true;
  for (let j = k; j >= 0; j--) exports.rollbackUpdate(i32[job + 1 + j]);
  return false;
}
function scribbleBlock(buffer, block) {
  const i32 = new Int32Array(buffer);
  const u8 = new Uint8Array(buffer);
  const s = blockSections(i32, block);
  u8.fill(0xa5, s.grads, s.grads + s.count * s.dim * 4);
  for (let u = 0; u < s.count; u++) {
    const row = i32[(s.rows >>> 2) + u];
    const w = s.weights + row * s.dim * s.wBytes;
    u8.fill(0xa5, w, w + s.dim * s.wBytes);
    const st = s.state + row * s.stateSize * s.sBytes;
    if (s.stateSize > 0) u8.fill(0xa5, st, st + s.stateSize * s.sBytes);
  }
}
`;

/** The block backup's functions on the calling thread (the same source as the workers'). */
interface RowsCode {
  blockBackupBytes(buffer: ArrayBufferLike, block: number): number;
  copyBlock(buffer: ArrayBufferLike, block: number, backup: number, save: boolean): void;
  runBlock(exports: Kernels['exports'], i32: Int32Array, job: number, k: number): boolean;
}

let rowsFunctions: RowsCode | undefined;

/** The calling thread's copy of ROWS_SOURCE's functions (compiled on first use: threads only). */
function rowsCode(): RowsCode {
  rowsFunctions ??= new Function(
    `${ROWS_SOURCE}\nreturn { blockBackupBytes, copyBlock, runBlock };`,
  )() as RowsCode;
  return rowsFunctions;
}

/**
 * The worker's code (no file, so that the package needs no path juggling): instantiate the
 * module on the shared memory, tell the supervisor, then loop: wait for a job, run
 * `applyUpdate` on each of its parameter blocks (each saved to the backup area first, with the
 * progress in W_PROGRESS; a block refused for a non-finite result rolls the job back and ends
 * it, `runBlock`), mark the job done, wake the caller.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, control, index } = workerData;
${ROWS_SOURCE}
const instance = new WebAssembly.Instance(module, {
  env: { memory, abort() { throw new Error('wasm kernel aborted'); } },
});
const ctl = new Int32Array(control);
const base = ${WORKER_BASE} + ${WORKER_WORDS} * index;
// Test hook (the pool's workerFaults): fail at 'point' of this job, if asked to.
function failHere(point, buffer, block) {
  if (Atomics.load(ctl, base + ${W_KILL}) !== point) return;
  Atomics.store(ctl, base + ${W_KILL}, 0);
  const code = Atomics.load(ctl, base + ${W_KILL_CODE});
  if (point === ${KILL_POINTS.terminate}) { parentPort.postMessage('terminate-me'); return; }
  if (point === ${KILL_POINTS.hang}) for (;;) Atomics.wait(ctl, base + ${W_KILL}, 0);
  if (point === ${KILL_POINTS['mid-update']} || point === ${KILL_POINTS.throw}) scribbleBlock(buffer, block);
  if (point === ${KILL_POINTS.throw}) throw new Error('injected worker failure');
  process.exit(code);
}
parentPort.postMessage('ready');
let seen = 0;
for (;;) {
  Atomics.wait(ctl, base + ${W_GEN}, seen);
  seen = Atomics.load(ctl, base + ${W_GEN});
  if (Atomics.load(ctl, ${G_STOP}) === 1) break;
  const buffer = memory.buffer;
  const i32 = new Int32Array(buffer);
  const job = Atomics.load(ctl, base + ${W_JOB}) >>> 2;
  const backup = Atomics.load(ctl, base + ${W_BACKUP}) >>> 0;
  failHere(${KILL_POINTS.wake}, buffer, 0);
  failHere(${KILL_POINTS.hang}, buffer, 0);
  for (let k = 0, n = i32[job]; k < n; k++) {
    const block = i32[job + 1 + k];
    Atomics.store(ctl, base + ${W_PROGRESS}, 2 * k);
    copyBlock(buffer, block, backup, true);
    Atomics.store(ctl, base + ${W_PROGRESS}, 2 * k + 1);
    failHere(${KILL_POINTS.terminate}, buffer, block);
    const more = runBlock(instance.exports, i32, job, k);
    failHere(${KILL_POINTS['mid-update']}, buffer, block);
    failHere(${KILL_POINTS.throw}, buffer, block);
    Atomics.store(ctl, base + ${W_PROGRESS}, more ? 2 * k + 2 : 2 * n);
    if (!more) break;
  }
  Atomics.store(ctl, base + ${W_BUSY}, 0);
  Atomics.notify(ctl, base + ${W_BUSY});
}
`;

/**
 * The supervisor's code: a thread whose event loop stays free (the calling thread blocks in
 * `Atomics.wait` and cannot receive events). It starts the workers, and when one exits (a crash,
 * `process.exit`, termination) it writes the exit code, the error and STATE_EXITED into the
 * shared words and wakes whoever waits for that worker. 'exit' fires once the thread has
 * stopped, so nothing it ran is still writing. It also beats a heartbeat, and terminating it
 * terminates the workers.
 */
const SUPERVISOR_SOURCE = `
const { Worker, parentPort, workerData } = require('node:worker_threads');
const { module, memory, control, notes, workers, source } = workerData;
const ctl = new Int32Array(control);
const text = new Uint8Array(notes);
const children = [];
let ready = 0;
let starting = true;
function note(w, message) {
  const bytes = new TextEncoder().encode(message).subarray(0, ${NOTE_BYTES - 1});
  text.fill(0, w * ${NOTE_BYTES}, (w + 1) * ${NOTE_BYTES});
  text.set(bytes, w * ${NOTE_BYTES});
}
for (let w = 0; w < workers; w++) {
  const base = ${WORKER_BASE} + ${WORKER_WORDS} * w;
  const child = new Worker(source, { eval: true, workerData: { module, memory, control, index: w } });
  Atomics.store(ctl, base + ${W_THREAD_ID}, child.threadId);
  children.push(child);
  child.on('message', (m) => {
    if (m === 'ready') {
      Atomics.store(ctl, base + ${W_STATE}, ${STATE_RUNNING});
      if (++ready === workers && starting) { starting = false; parentPort.postMessage({ ready: true }); }
    } else if (m === 'terminate-me') child.terminate();
  });
  child.on('error', (error) => {
    note(w, error && typeof error.message === 'string' ? (error.name || 'Error') + ': ' + error.message : String(error));
  });
  child.on('exit', (code) => {
    Atomics.store(ctl, base + ${W_EXIT_CODE}, code);
    Atomics.store(ctl, base + ${W_STATE}, ${STATE_EXITED});
    Atomics.notify(ctl, base + ${W_BUSY});
    if (starting) {
      starting = false;
      const why = new TextDecoder().decode(text.subarray(w * ${NOTE_BYTES}, (w + 1) * ${NOTE_BYTES})).replace(/\\0+$/, '');
      parentPort.postMessage({ error: 'wasm worker ' + (w + 1) + ' of ' + workers + ' exited (code ' + code + ') while starting' + (why ? ': ' + why : '') });
    }
  });
}
let beat = setInterval(() => { Atomics.add(ctl, ${G_HEARTBEAT}, 1); }, ${HEARTBEAT_MS});
parentPort.on('message', (m) => {
  if (m && typeof m.kill === 'number') children[m.kill].terminate();
  if (m && m.freeze) clearInterval(beat);
});
`;

/** A job handed to a worker and not yet seen finished. */
interface Job {
  /** The job descriptor's address (count, then parameter blocks). */
  readonly descriptor: number;
  /** What the job is, for messages: 'the update of table "users" at step 3'. */
  readonly label: string;
}

/** A worker's death as the calling thread sees it. */
interface Death {
  readonly code: number;
  readonly note: string;
}

/**
 * The worker threads of a pool, their supervisor and their shared words: hands jobs over, waits
 * for them in bounded slices, and when a worker has exited completes its unfinished job on the
 * calling thread (restoring the block it was in from its backup first), so that no update is
 * lost and none is applied twice.
 */
class WorkerGroup {
  readonly workers: number;
  readonly control: Int32Array;
  /** Deaths seen so far, as messages (the workers' own words are in `control`). */
  readonly failures: string[] = [];
  /** Silence of the supervisor (while waiting) after which the pool gives up. */
  supervisorTimeoutMs = SUPERVISOR_TIMEOUT_MS;
  private readonly kernels: Kernels;
  private readonly notes: Uint8Array;
  private readonly supervisor: Worker;
  private readonly pending: (Job | undefined)[];
  private readonly reaped: boolean[];
  private readonly backups: number[];
  private readonly backupBytes: number[];
  private broken: Error | undefined;
  private stopped = false;

  private constructor(
    kernels: Kernels,
    supervisor: Worker,
    control: Int32Array,
    notes: Uint8Array,
  ) {
    this.kernels = kernels;
    this.supervisor = supervisor;
    this.control = control;
    this.notes = notes;
    this.workers = notes.length / NOTE_BYTES;
    this.pending = Array.from({ length: this.workers }, () => undefined);
    this.reaped = Array.from({ length: this.workers }, () => false);
    this.backups = Array.from({ length: this.workers }, () => 0);
    this.backupBytes = Array.from({ length: this.workers }, () => 0);
    supervisor.unref();
    supervisor.on('error', () => {});
    // The supervisor exited on its own (its workers stopped with it): every worker is gone.
    supervisor.on('exit', (code) => {
      if (this.stopped) return;
      for (let w = 0; w < this.workers; w++) {
        const base = WORKER_BASE + WORKER_WORDS * w;
        if (Atomics.load(control, base + W_STATE) === STATE_EXITED) continue;
        this.writeNote(w, `its supervisor thread exited (code ${code})`);
        Atomics.store(control, base + W_EXIT_CODE, code);
        Atomics.store(control, base + W_STATE, STATE_EXITED);
      }
    });
  }

  /**
   * Starts the supervisor thread, which starts `threads - 1` workers on the kernels' shared
   * memory, and waits until every worker has instantiated the module.
   * @throws Error when the memory is not shared, worker_threads is unavailable, or a worker
   *   fails to start.
   */
  static async start(kernels: Kernels, threads: number): Promise<WorkerGroup> {
    if (!kernels.shared) throw new Error('threads need kernels loaded with { shared: true }');
    let threadsModule: typeof import('node:worker_threads');
    try {
      threadsModule = await import('node:worker_threads');
    } catch {
      throw new Error('threads need node:worker_threads (Node.js); use threads: 1 elsewhere');
    }
    const workers = threads - 1;
    const control = new Int32Array(
      new SharedArrayBuffer(4 * (WORKER_BASE + WORKER_WORDS * workers)),
    );
    const notes = new Uint8Array(new SharedArrayBuffer(NOTE_BYTES * workers));
    const supervisor = new threadsModule.Worker(SUPERVISOR_SOURCE, {
      eval: true,
      workerData: {
        module: kernels.module,
        memory: kernels.memory,
        control: control.buffer,
        notes: notes.buffer,
        workers,
        source: WORKER_SOURCE,
      },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        supervisor.once('message', (m: { ready?: boolean; error?: string }) =>
          m.ready ? resolve() : reject(new Error(m.error)),
        );
        supervisor.once('error', reject);
        supervisor.once('exit', (code) =>
          reject(new Error(`the wasm worker supervisor exited (code ${code}) while starting`)),
        );
      });
    } catch (error) {
      void supervisor.terminate();
      throw error;
    }
    return new WorkerGroup(kernels, supervisor, control, notes);
  }

  private base(w: number): number {
    return WORKER_BASE + WORKER_WORDS * w;
  }

  /** Whether worker `w` has exited (as its supervisor recorded). */
  exited(w: number): boolean {
    return Atomics.load(this.control, this.base(w) + W_STATE) === STATE_EXITED;
  }

  /** The workers that have not exited, in order. */
  live(): number[] {
    const live: number[] = [];
    for (let w = 0; w < this.workers; w++) if (!this.exited(w)) live.push(w);
    return live;
  }

  /**
   * Records (and warns of) the exits of workers that had no job; a job of an exited worker is
   * left to `check`, which completes it.
   */
  noticeIdleExits(): void {
    for (let w = 0; w < this.workers; w++) {
      if (!this.reaped[w] && this.pending[w] === undefined && this.exited(w)) this.reap(w);
    }
  }

  /** Whether worker `w` is alive and has no job (its job buffers may be reused). */
  idle(w: number): boolean {
    if (this.exited(w)) return false;
    if (this.pending[w] !== undefined && Atomics.load(this.control, this.base(w) + W_BUSY) === 0) {
      this.pending[w] = undefined;
    }
    return this.pending[w] === undefined;
  }

  /** Whether worker `w` has a job handed over and not yet seen finished. */
  busy(w: number): boolean {
    return this.pending[w] !== undefined;
  }

  /**
   * Throws when the pool is out of service, and completes the unfinished jobs of workers that
   * have exited (see `recover`).
   * @throws the pool's error once it is out of service.
   */
  check(): void {
    if (this.broken) throw this.broken;
    for (let w = 0; w < this.workers; w++) {
      if (!this.reaped[w] && this.exited(w)) this.reap(w);
    }
  }

  /**
   * Hands the job at `descriptor` to idle worker `w` and returns at once: sizes its backup area
   * for the job's largest block, resets its progress, wakes it.
   */
  handOff(w: number, descriptor: number, label: string): void {
    const k = this.kernels;
    const buffer = k.memory.buffer;
    const i32 = k.i32();
    let bytes = 0;
    for (let j = 0, n = i32[descriptor >>> 2]!; j < n; j++) {
      bytes = Math.max(
        bytes,
        rowsCode().blockBackupBytes(buffer, i32[(descriptor >>> 2) + 1 + j]!),
      );
    }
    if (bytes > this.backupBytes[w]!) {
      if (this.backups[w] !== 0) k.allocator.release(this.backups[w]!);
      this.backups[w] = 0;
      const size = Math.max(bytes, 2 * this.backupBytes[w]!);
      this.backups[w] = k.allocator.alloc(size, 'worker update backup');
      this.backupBytes[w] = size;
    }
    this.pending[w] = { descriptor, label };
    const c = this.control;
    const base = this.base(w);
    Atomics.store(c, base + W_JOB, descriptor);
    Atomics.store(c, base + W_BACKUP, this.backups[w]!);
    Atomics.store(c, base + W_PROGRESS, 0);
    Atomics.store(c, base + W_BUSY, 1);
    Atomics.add(c, base + W_GEN, 1);
    Atomics.notify(c, base + W_GEN);
  }

  /**
   * Blocks until worker `w` has finished its job, in bounded slices that check whether it
   * exited (then the caller completes the job: `recover`) and whether its supervisor still
   * beats.
   * @throws Error naming the worker when the supervisor falls silent for
   *   `supervisorTimeoutMs` (the pool is then out of service), or when completing a dead
   *   worker's job fails.
   */
  wait(w: number): void {
    const job = this.pending[w];
    if (job === undefined) return;
    const c = this.control;
    const busy = this.base(w) + W_BUSY;
    let beat = Atomics.load(c, G_HEARTBEAT);
    let silent = 0;
    let last = performance.now();
    for (;;) {
      if (Atomics.load(c, busy) === 0) {
        this.pending[w] = undefined;
        return;
      }
      if (this.exited(w)) {
        this.check();
        return;
      }
      Atomics.wait(c, busy, 1, WAIT_SLICE_MS);
      const now = performance.now();
      // Count at most a few slices per wake-up: a process stopped (debugger, SIGSTOP) and
      // resumed is no sign of a silent supervisor.
      silent += Math.min(now - last, 4 * WAIT_SLICE_MS);
      last = now;
      const b = Atomics.load(c, G_HEARTBEAT);
      if (b !== beat) {
        beat = b;
        silent = 0;
      } else if (silent > this.supervisorTimeoutMs) {
        this.broken = new Error(
          `${this.name(w)}: no heartbeat from the pool's supervisor thread for ${this.supervisorTimeoutMs} ms while waiting for ${job.label}, so whether the worker is alive is unknown; ${job.label} may be partly applied. The thread pool is out of service: later calls throw this error (dispose() still stops the threads)`,
        );
        throw this.broken;
      }
    }
  }

  /** 'wasm worker 1 of 2 (thread id 7)'. */
  private name(w: number): string {
    const id = Atomics.load(this.control, this.base(w) + W_THREAD_ID);
    return `wasm worker ${w + 1} of ${this.workers} (thread id ${id})`;
  }

  private death(w: number): Death {
    const bytes = this.notes.slice(w * NOTE_BYTES, (w + 1) * NOTE_BYTES);
    const end = bytes.indexOf(0);
    return {
      code: Atomics.load(this.control, this.base(w) + W_EXIT_CODE),
      note: new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end)),
    };
  }

  private writeNote(w: number, message: string): void {
    const bytes = new TextEncoder().encode(message).subarray(0, NOTE_BYTES - 1);
    this.notes.fill(0, w * NOTE_BYTES, (w + 1) * NOTE_BYTES);
    this.notes.set(bytes, w * NOTE_BYTES);
  }

  /**
   * Worker `w` has exited: completes its unfinished job on the calling thread, records the
   * death, and warns. Its progress word says where it stopped: the blocks before k are stored;
   * block k was either untouched or is restored from the backup the worker made before
   * touching it (rows and gradients, which the update changes in place); then the calling
   * thread runs blocks k.. itself. Every block is thus applied exactly once, to the rows as
   * they were, giving the bits the worker would have. (A job refused for a non-finite result
   * is found again in block k and rolled back from the journals: a rollback is idempotent.)
   * @throws Error naming the worker when running the job on the calling thread fails (the
   *   pool is then out of service).
   */
  private reap(w: number): void {
    this.reaped[w] = true;
    const { code, note } = this.death(w);
    const job = this.pending[w];
    this.pending[w] = undefined;
    const how = `${this.name(w)} exited (code ${code}${note ? `: ${note}` : ''})`;
    const left = this.live().length;
    const later = `later updates run on ${left === 0 ? 'the calling thread alone' : `the ${left} remaining worker thread${left === 1 ? '' : 's'} and the calling thread`}`;
    let message: string;
    const c = this.control;
    if (job === undefined) {
      message = `${how} while idle; no update was lost; ${later}`;
    } else if (Atomics.load(c, this.base(w) + W_BUSY) === 0) {
      message = `${how} after finishing ${job.label}; no update was lost; ${later}`;
    } else {
      const k = this.kernels;
      const progress = Atomics.load(c, this.base(w) + W_PROGRESS);
      const from = progress >>> 1;
      const at = job.descriptor >>> 2;
      const n = k.i32()[at]!;
      let rows = 0;
      try {
        if ((progress & 1) === 1 && from < n) {
          rowsCode().copyBlock(k.memory.buffer, k.i32()[at + 1 + from]!, this.backups[w]!, false);
        }
        for (let j = from; j < n; j++) {
          const block = k.i32()[at + 1 + j]!;
          rows += k.i32()[(block >>> 2) + P.count]!;
          if (!rowsCode().runBlock(k.exports, k.i32(), at, j)) break;
        }
      } catch (error) {
        this.broken = new Error(
          `${how} during ${job.label}, and running its unfinished part on the calling thread failed: ${String(error)}; ${job.label} may be partly applied. The thread pool is out of service: later calls throw this error`,
          { cause: error },
        );
        this.failures.push(this.broken.message);
        throw this.broken;
      }
      Atomics.store(c, this.base(w) + W_BUSY, 0);
      message =
        from >= n
          ? `${how} after finishing ${job.label}; no update was lost; ${later}`
          : `${how} during ${job.label}; the calling thread ran its unfinished part (${rows} rows${(progress & 1) === 1 ? ', the first block restored from its backup' : ''}), so the update is complete, exactly once; ${later}`;
    }
    this.failures.push(message);
    if (typeof process !== 'undefined' && typeof process.emitWarning === 'function') {
      process.emitWarning(message, { code: 'HALFSTEP_WASM_WORKER_EXITED' });
    }
  }

  /** Stops the workers (after their current block) and their supervisor. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const c = this.control;
    Atomics.store(c, G_STOP, 1);
    for (let w = 0; w < this.workers; w++) {
      Atomics.add(c, this.base(w) + W_GEN, 1);
      Atomics.notify(c, this.base(w) + W_GEN);
    }
    void this.supervisor.terminate();
    for (const address of this.backups) if (address !== 0) this.kernels.allocator.release(address);
    this.backups.fill(0);
    this.backupBytes.fill(0);
  }

  /** The test hooks (see `workerFaults`). */
  faults(): WorkerFaults {
    return {
      failures: this.failures,
      kill: async (w) => {
        this.supervisor.postMessage({ kill: w });
        const deadline = performance.now() + 5000;
        while (!this.exited(w)) {
          if (performance.now() > deadline) throw new Error(`worker ${w} did not exit`);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        return this.death(w).code;
      },
      arm: (w, point, code = 1) => {
        Atomics.store(this.control, this.base(w) + W_KILL_CODE, code);
        Atomics.store(this.control, this.base(w) + W_KILL, KILL_POINTS[point]);
      },
      silenceSupervisor: (timeoutMs) => {
        this.supervisorTimeoutMs = timeoutMs;
        this.supervisor.postMessage({ freeze: true });
      },
      exited: (w) => this.exited(w),
    };
  }
}

/**
 * @internal Test hooks of a pool's worker threads (not part of the package's API: the package
 * index does not export them).
 */
export interface WorkerFaults {
  /** The messages of the worker deaths seen so far. */
  readonly failures: readonly string[];
  /** Terminates worker `w` now (from its supervisor); resolves with its exit code. */
  kill(w: number): Promise<number>;
  /**
   * Makes worker `w` fail in its next job: 'wake': `process.exit(code)` before touching it;
   * 'mid-update': run the first block's update, overwrite its rows and gradients with garbage,
   * then exit (a death half-way through the rows); 'throw': the same, but throw an uncaught
   * Error('injected worker failure') instead of exiting; 'terminate': have the supervisor
   * terminate it while it runs the first block (wherever termination lands); 'hang': block
   * forever.
   */
  arm(w: number, point: keyof typeof KILL_POINTS, code?: number): void;
  /** Stops the supervisor's heartbeat, and sets the silence after which the pool gives up. */
  silenceSupervisor(timeoutMs: number): void;
  /** Whether worker `w` has exited. */
  exited(w: number): boolean;
}

const groups = new WeakMap<object, WorkerGroup>();

/** @internal The test hooks of `pool` (see {@link WorkerFaults}). */
export function workerFaults(pool: UpdatePool | HogwildPool): WorkerFaults {
  const group = groups.get(pool);
  if (group === undefined) throw new Error('not a started pool');
  return group.faults();
}

/**
 * Worker threads that run the fused update on the backend's shared WASM memory. Each run hands
 * every live worker one parameter block (a slice of the rows) and blocks the calling thread
 * until all are done (`Atomics.wait` in bounded slices: Node's main thread, or a worker; not a
 * browser's main thread).
 *
 * A worker that exits (crash, `process.exit`, termination) never hangs a run nor loses its
 * rows: its supervisor thread records the exit in shared memory, and the calling thread runs
 * the worker's unfinished rows itself, exactly once (bit-identical). Later runs go on with the
 * remaining workers; the death is reported with `process.emitWarning`.
 */
export class UpdatePool {
  /** Worker threads started (the calling thread works too: `threads` = workers + 1). */
  readonly workers: number;
  private readonly group: WorkerGroup;
  private readonly kernels: Kernels;
  /** Per worker: a one-block job descriptor in WASM memory. */
  private readonly descriptors: number[];

  private constructor(kernels: Kernels, group: WorkerGroup) {
    this.kernels = kernels;
    this.group = group;
    this.workers = group.workers;
    this.descriptors = Array.from({ length: group.workers }, () =>
      kernels.allocator.alloc(8, 'worker job descriptor'),
    );
    groups.set(this, group);
  }

  /**
   * Starts `threads - 1` workers on the kernels' shared memory.
   * @throws Error when the memory is not shared, worker_threads is unavailable, or a worker
   *   fails to start.
   */
  static async start(kernels: Kernels, threads: number): Promise<UpdatePool> {
    return new UpdatePool(kernels, await WorkerGroup.start(kernels, threads));
  }

  /** Workers that have not exited (an exit seen here is recorded and warned of). */
  get liveWorkers(): number {
    this.group.noticeIdleExits();
    return this.group.live().length;
  }

  /**
   * Runs `applyUpdate` on `blocks[i]` in the i-th live worker (0 = skip) while the caller runs
   * `own()`, and returns when all are stored. A block whose worker has exited, before or during
   * the run, is run by the caller (see the class).
   * @param label - what the run is, for messages ('the update of table "users" at step 3').
   * @throws Error naming a worker when the pool is out of service (see the README's "Worker
   *   failures").
   */
  run(blocks: readonly number[], own: () => void, label = 'an update'): void {
    const g = this.group;
    g.check();
    const live = g.live();
    const handed: number[] = [];
    const orphans: number[] = [];
    const i32 = this.kernels.i32();
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i] ?? 0;
      if (block === 0) continue;
      const w = live[i];
      if (w === undefined) {
        orphans.push(block);
        continue;
      }
      const d = this.descriptors[w]!;
      i32[d >>> 2] = 1;
      i32[(d >>> 2) + 1] = block;
      g.handOff(w, d, label);
      handed.push(w);
    }
    try {
      own();
      for (const block of orphans) this.kernels.exports.applyUpdate(block);
    } finally {
      for (const w of handed) g.wait(w);
    }
  }

  /** Stops the workers. */
  stop(): void {
    this.group.stop();
    for (const d of this.descriptors) this.kernels.allocator.release(d);
    this.descriptors.length = 0;
  }
}

/**
 * Worker threads of the hogwild mode: each takes whole jobs (a backward call's updates) and runs
 * them while the calling thread goes on, so that jobs overlap each other and the caller's next
 * forward pass, racing on shared rows.
 *
 * A worker that exits never loses its job: the next call, `settle`, or a table read finds the
 * exit in shared memory and the calling thread runs the job's unfinished part itself (the block
 * the worker was in first restored from its backup). Later jobs go to the remaining workers.
 */
export class HogwildPool {
  /** Worker threads started (the calling thread also runs jobs when every worker is busy). */
  readonly workers: number;
  private readonly group: WorkerGroup;
  /** Backward calls started so far. */
  private calls = 0;
  /** Per worker: the call whose job it runs (+infinity once known to be done). */
  private readonly jobCall: number[];

  private constructor(group: WorkerGroup) {
    this.group = group;
    this.workers = group.workers;
    this.jobCall = Array.from({ length: group.workers }, () => Number.POSITIVE_INFINITY);
    groups.set(this, group);
  }

  /**
   * Starts `threads - 1` workers on the kernels' shared memory and waits until each is ready
   * (a job handed to a worker still starting would land many steps late).
   * @throws Error when the memory is not shared, worker_threads is unavailable, or a worker
   *   fails to start.
   */
  static async start(kernels: Kernels, threads: number): Promise<HogwildPool> {
    return new HogwildPool(await WorkerGroup.start(kernels, threads));
  }

  /** Workers that have not exited (an exit seen here is recorded and warned of). */
  get liveWorkers(): number {
    this.group.noticeIdleExits();
    return this.group.live().length;
  }

  /**
   * Starts a backward call: completes the jobs of workers that exited, waits for every job
   * handed off more than `maxLag` calls ago (so that no update lands more than `maxLag` calls
   * late, even when a worker thread is descheduled), then returns a live worker with no job
   * (its buffers may be reused), or -1 when none is.
   * @throws Error naming a worker when the pool is out of service.
   */
  nextCall(maxLag: number): number {
    this.calls++;
    const g = this.group;
    g.check();
    for (let w = 0; w < this.workers; w++) {
      if (g.busy(w) && this.calls - this.jobCall[w]! > maxLag) g.wait(w);
    }
    for (let w = 0; w < this.workers; w++) if (g.idle(w)) return w;
    return -1;
  }

  /**
   * Hands the job descriptor at `job` (an i32 count, then that many parameter block addresses)
   * to idle worker `w` and returns at once.
   * @param label - what the job is, for messages.
   */
  assign(w: number, job: number, label = 'a backward call'): void {
    this.jobCall[w] = this.calls;
    this.group.handOff(w, job, label);
  }

  /**
   * Blocks until worker `w`'s job (if any) is stored, by the worker or, for a worker that
   * exited, by the caller.
   * @throws Error naming a worker when the pool is out of service.
   */
  wait(w: number): void {
    const g = this.group;
    g.check();
    g.wait(w);
    this.jobCall[w] = Number.POSITIVE_INFINITY;
  }

  /**
   * Blocks until every handed-off job is stored (by its worker, or by the caller for a worker
   * that exited).
   * @throws Error naming a worker when the pool is out of service.
   */
  settle(): void {
    const g = this.group;
    g.check();
    for (let w = 0; w < this.workers; w++) {
      g.wait(w);
      this.jobCall[w] = Number.POSITIVE_INFINITY;
    }
  }

  /** Stops the workers (after their current block). */
  stop(): void {
    this.group.stop();
  }
}

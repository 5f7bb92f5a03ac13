import {
  type BagUpdateResult,
  nonFiniteGradient,
  nonFiniteRowGradient,
  nonFiniteRowResult,
  StepResult,
  UnobservedErrors,
} from '@halfstep/backend';
import type { GpuRunner } from './gpu.js';
import { ABORT, STATUS } from './shaders/aggregate.js';

/** What a backward's status words are read against: per update, in call order. */
export interface StatusTable {
  /** The table's name, for the error. */
  readonly name: string;
  readonly dim: number;
  /** The distinct rows of the update, ascending (the aggregation's row u is `rows[u]`). */
  readonly rows: Uint32Array;
}

/**
 * The outcome of a backward from its status words (see `STATUS`): the results, or the error of
 * the JS reference: the first table (in call order) with a non-finite gradient value (its first
 * position), else the first table with a row sum that is not finite (its smallest row), else
 * the first table with a row whose new weights or state are not finite (its smallest row).
 */
export function outcomeOf(words: Uint32Array, tables: readonly StatusTable[]): BagUpdateResult[] {
  const at = (k: number, word: number) => words[1 + STATUS.words * k + word]!;
  const abort = words[0]!;
  if ((abort & ABORT.gradient) !== 0) {
    for (let k = 0; k < tables.length; k++) {
      const position = at(k, STATUS.badGradient);
      if (position === 0) continue;
      const value = new Float32Array(Uint32Array.of(at(k, STATUS.badValue)).buffer)[0]!;
      throw nonFiniteGradient(tables[k]!.name, ~position >>> 0, tables[k]!.dim, value);
    }
  }
  if (abort !== 0) {
    // The rows with a bad sum, else (no gradient was bad) the rows with a bad result.
    const error = (abort & ABORT.gradient) !== 0 ? nonFiniteRowGradient : nonFiniteRowResult;
    for (let k = 0; k < tables.length; k++) {
      const row = at(k, STATUS.badRow);
      if (row !== 0) throw error(tables[k]!.name, tables[k]!.rows[~row >>> 0]!);
    }
    throw new Error('webgpu: a backward was aborted without a recorded cause');
  }
  return tables.map((t, k) => {
    const skipped = at(k, STATUS.skipped);
    return { updatedRows: t.rows.length - skipped, skippedRows: skipped };
  });
}

/** Status buffers kept unread before the oldest half is read in the background. */
const MAX_UNREAD = 256;

/**
 * The lazy results of the fused backwards of one backend: each is a `StepResult` whose status
 * words stay in a GPU buffer until it is awaited (or `flush` reports on it); only then are they
 * downloaded, so a step nobody awaits downloads nothing. Every result is remembered in an
 * `UnobservedErrors` until awaited or reported. Beyond `MAX_UNREAD` unread status buffers the
 * older half is read in the background, so that their buffers return to the pool.
 */
export class BackwardResults {
  readonly #unobserved = new UnobservedErrors();
  readonly #unread = new Set<StepResult<BagUpdateResult[]>>();
  /** Status reads asked for in this turn of the event loop: one submission serves them all. */
  #asked: { status: GPUBuffer; bytes: number; done: (read: Promise<ArrayBuffer>) => void }[] = [];

  /** @param runner - the device's runner. */
  constructor(private readonly runner: GpuRunner) {}

  /** The lazy result of a call whose work is submitted, reading `status` against `tables`. */
  record(status: GPUBuffer, tables: readonly StatusTable[]): StepResult<BagUpdateResult[]> {
    const runner = this.runner;
    const bytes = 4 * (1 + STATUS.words * tables.length);
    const result: StepResult<BagUpdateResult[]> = new StepResult(async () => {
      this.#unread.delete(result);
      try {
        return outcomeOf(new Uint32Array(await this.#download(status, bytes)), tables);
      } finally {
        runner.release(status);
      }
    });
    this.#unobserved.add(result);
    this.#unread.add(result);
    if (this.#unread.size > MAX_UNREAD) {
      const oldest = [...this.#unread].slice(0, MAX_UNREAD / 2);
      for (const old of oldest) void old.errorOf();
    }
    return result;
  }

  /**
   * Downloads a status buffer together with every other one asked for in the same turn: one
   * submission for all the steps `flush()` (or a loop awaiting several results) reads.
   */
  #download(status: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    return new Promise((resolve, reject) => {
      if (this.#asked.length === 0) queueMicrotask(() => this.#readAsked());
      this.#asked.push({ status, bytes, done: (read) => read.then(resolve, reject) });
    });
  }

  #readAsked(): void {
    const asked = this.#asked;
    this.#asked = [];
    const staged = asked.map((a) => this.runner.copyOut(a.status, a.bytes));
    const submitted = this.runner.submit();
    asked.forEach((a, k) => {
      a.done(
        Promise.all([submitted, this.runner.read(staged[k] as GPUBuffer, a.bytes)]).then(
          ([, data]) => data,
        ),
      );
    });
  }

  /** A result already known to have failed (host-side), reported by `flush` unless awaited. */
  rejected(error: unknown): StepResult<BagUpdateResult[]> {
    const result = StepResult.of<BagUpdateResult[]>({ error });
    this.#unobserved.add(result);
    return result;
  }

  /** Resolves when every result is known; rejects with the first error nobody awaited (once). */
  report(): Promise<void> {
    // Ask for every unread status at once, so that they share one submission.
    for (const result of this.#unread) if (!result.observed) void result.errorOf();
    return this.#unobserved.report();
  }

  /** Forgets every result (the backend is disposed). */
  clear(): void {
    this.#unobserved.clear();
    this.#unread.clear();
  }
}

import type { DenseParam } from '../model/mlp.js';
import type { TrainHooks } from '../train/hooks.js';
import type { Coordinator } from './coordinator.js';

/** What {@link DenseAveraging} averages, and how often. */
export interface DenseAveragingOptions {
  /** The workers of the run. */
  readonly group: Coordinator;
  /** This worker's dense parameters (their host values are averaged in place). */
  readonly params: readonly DenseParam[];
  /** Copies the averaged host values to the backend (`Dlrm.uploadDense`). */
  readonly upload: () => void;
  /** Average every this many local steps (`--sync-every`; 0: only at the end). */
  readonly every: number;
  /**
   * Local steps every worker takes (the shortest shard's): averaging stops after them, so that
   * every worker takes part in the same averagings.
   */
  readonly commonSteps: number;
}

/**
 * The data-parallel part of a worker's step, as a {@link TrainHooks}: replaces the dense
 * parameters by the mean of every worker's copy every `every` local steps while every worker
 * still has steps at that count; {@link DenseAveraging.average} does the final averaging.
 * Counts the averagings and the seconds they take (writes, barrier waits, reads).
 */
export class DenseAveraging implements TrainHooks {
  #count = 0;
  #seconds = 0;

  constructor(readonly options: DenseAveragingOptions) {}

  /** Averagings done so far (each has its own generation in the group). */
  get count(): number {
    return this.#count;
  }

  /** Seconds spent averaging. */
  get seconds(): number {
    return this.#seconds;
  }

  /** Averages when `step` is a multiple of `every` within the common steps. */
  async afterStep(step: number): Promise<void> {
    const { every, commonSteps } = this.options;
    if (every > 0 && step % every === 0 && step <= commonSteps) await this.average();
  }

  /** Averages the dense parameters with the other workers now (every worker must call it). */
  async average(): Promise<void> {
    const { group, params, upload } = this.options;
    const t0 = performance.now();
    await group.averageDense(
      params.map((p) => p.host),
      this.#count++,
    );
    upload();
    this.#seconds += (performance.now() - t0) / 1000;
  }
}

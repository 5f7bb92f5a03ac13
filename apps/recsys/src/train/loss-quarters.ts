import type { TrainHooks } from './hooks.js';
import type { LossWindow } from './step.js';

/** The mean training loss at the start and at the end of a run. */
export interface QuarterLosses {
  /** Mean training loss of the first quarter of the steps. */
  readonly first: number;
  /** Mean training loss of the last quarter of the steps. */
  readonly last: number;
}

/**
 * A {@link TrainHooks} that keeps the loss windows the trainer reads, and has it also read the
 * loss at the quarter boundaries of a run of `totalSteps` steps (and at its end), so that the
 * means of the first and last quarters are exact: no window straddles a boundary.
 */
export class LossQuarters implements TrainHooks {
  /** Steps in a quarter (at least 1). */
  readonly quarter: number;
  readonly #windows: { readonly end: number; readonly window: LossWindow }[] = [];

  constructor(readonly totalSteps: number) {
    this.quarter = Math.max(1, Math.floor(totalSteps / 4));
  }

  /** True at the end of the first quarter, at the start of the last, and at the end. */
  readsLossAfter(step: number): boolean {
    return (
      step === this.quarter || step === this.totalSteps - this.quarter || step === this.totalSteps
    );
  }

  /** Keeps the window. */
  onLoss(window: LossWindow, step: number): void {
    this.#windows.push({ end: step, window });
  }

  /** The first and last quarters' means of a run that took `steps` steps (NaN when empty). */
  means(steps: number): QuarterLosses {
    return {
      first: this.#mean(0, Math.min(this.quarter, steps)),
      last: this.#mean(Math.max(0, steps - this.quarter), steps),
    };
  }

  /** The mean loss of the windows ending after step `from` and by step `to`. */
  #mean(from: number, to: number): number {
    const inside = this.#windows.filter((w) => w.end > from && w.end <= to);
    const steps = inside.reduce((sum, w) => sum + w.window.steps, 0);
    return steps === 0 ? Number.NaN : inside.reduce((sum, w) => sum + w.window.sum, 0) / steps;
  }
}

import type { BagUpdateResult } from '@halfstep/backend';
import type { LossWindow } from './step.js';

/**
 * A piece of one run plugged into the {@link Trainer}'s loop, for what only some runs do (a
 * data-parallel worker's dense averaging, its store's unconfirmed updates, its loss statistics),
 * so that every run goes through the same loop. Every member is optional; the trainer calls each
 * hook's members in the order the hooks were given. `step` is always the number of steps taken
 * so far (1 after the first).
 */
export interface TrainHooks {
  /** After step `step`'s update, with what each table's update reported. */
  afterUpdate?(results: readonly BagUpdateResult[], step: number): void;
  /** Whether to read the training loss after step `step` too (besides every `lossEvery` steps). */
  readsLossAfter?(step: number): boolean;
  /** Each training-loss window read; `step` is its last step. */
  onLoss?(window: LossWindow, step: number): void;
  /**
   * After step `step` and its progress event, before any validation or checkpoint at that step
   * (so that they see what the hook changed, e.g. averaged dense parameters).
   */
  afterStep?(step: number): Promise<void>;
}

/** The hooks of a run, called as one. */
export class HookList {
  constructor(readonly hooks: readonly TrainHooks[]) {}

  /** Calls every `afterUpdate`. */
  afterUpdate(results: readonly BagUpdateResult[], step: number): void {
    for (const h of this.hooks) h.afterUpdate?.(results, step);
  }

  /** Whether any hook wants the loss read after `step`. */
  readsLossAfter(step: number): boolean {
    return this.hooks.some((h) => h.readsLossAfter?.(step) ?? false);
  }

  /** Calls every `onLoss`. */
  onLoss(window: LossWindow, step: number): void {
    for (const h of this.hooks) h.onLoss?.(window, step);
  }

  /** Calls every `afterStep`, one after another. */
  async afterStep(step: number): Promise<void> {
    for (const h of this.hooks) await h.afterStep?.(step);
  }
}

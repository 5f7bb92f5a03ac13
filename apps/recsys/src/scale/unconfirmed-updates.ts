import type { BagUpdateResult } from '@halfstep/backend';
import type { StoreBagUpdateResult } from '@halfstep/embedding';
import type { TrainHooks } from '../train/hooks.js';

/**
 * A {@link TrainHooks} for tables in a store: counts the steps whose embedding update the store
 * reported unconfirmed (`StoreBagUpdateResult.unconfirmedRows`), and says so in the log. A master
 * failing over leaves some rows' updates with an unknown outcome (the store never re-sends one);
 * training goes on, as the replica takes over within seconds.
 */
export class UnconfirmedUpdates implements TrainHooks {
  #steps = 0;

  constructor(readonly log: (line: string) => void) {}

  /** Steps with some update unconfirmed so far. */
  get steps(): number {
    return this.#steps;
  }

  /** Counts the step when any table's update has unconfirmed rows. */
  afterUpdate(results: readonly BagUpdateResult[], step: number): void {
    const unconfirmed = (results as readonly StoreBagUpdateResult[]).reduce(
      (sum, r) => sum + (r.unconfirmedRows ?? 0),
      0,
    );
    if (unconfirmed === 0) return;
    this.#steps++;
    this.log(`step ${step}: embedding updates of ${unconfirmed} rows not confirmed; continuing`);
  }
}

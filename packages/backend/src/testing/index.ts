/**
 * The conformance suite every halfstep backend runs: tensors and traffic, the embedding forward,
 * `writeRows` and `init` refusing non-finite values (unless asked), the fused backward (exact
 * aggregation, rounded stores checked against `@halfstep/codecs` and Random123's Philox, bad
 * input that changes nothing, non-finite results refused like non-finite gradients), the dense ops, and bit identity with the reference backend. Needs
 * vitest (a peer dependency of this entry point only).
 *
 * @example
 * ```ts
 * // my-backend.test.ts
 * import { describeBackendConformance } from '@halfstep/backend/testing';
 * import { JsBackend } from '@halfstep/backend-js';
 * import { createMyBackend } from '../src/index.js';
 *
 * describeBackendConformance({
 *   name: 'my-backend',
 *   create: () => createMyBackend(),
 *   reference: async () => new JsBackend(),
 * });
 * ```
 *
 * @module
 */
import { afterAll, beforeAll, describe } from 'vitest';
import type { Backend } from '../types.js';
import { describeBackward } from './backward.js';
import { describeDense } from './dense.js';
import { describeForward } from './forward.js';
import type { ConformanceContext } from './helpers.js';
import { describeIdentity } from './identity.js';
import { describeNonFiniteResults } from './non-finite.js';
import { describeTensors } from './tensors.js';
import { describeWriteRows } from './write-rows.js';

export type { ConformanceContext } from './helpers.js';

/** What `describeBackendConformance` runs against. */
export interface ConformanceOptions {
  /** The suite's title, e.g. "wasm (2 threads)". */
  readonly name: string;
  /** Makes the backend under test (once, before the suite; disposed after it). */
  readonly create: () => Promise<Backend>;
  /**
   * Makes the reference backend (`@halfstep/backend-js`) for the bit-identity checks. Omit it
   * when testing the reference itself: the identity check then demands reproducibility.
   */
  readonly reference?: () => Promise<Backend>;
  /**
   * Whether the backend offers `exportTable` (default true). Without it (a table store, for
   * now) the identity check compares decoded weights only and the 16-bit state check is listed
   * as skipped, with that reason in its title.
   */
  readonly exportsTables?: boolean;
  /**
   * Whether the backend offers `writeRows` (default: `exportsTables`, since a table store offers
   * neither yet). Without it only the checks `writeRows` runs before refusing are tested, and the
   * `allowNonFinite` round trip is listed as skipped.
   */
  readonly writesRows?: boolean;
  /**
   * Whether the tables live in the backend's own memory (default true). A table store's backend
   * fetches a batch's rows at every forward: its steady-state step downloads exactly those rows.
   */
  readonly tablesInMemory?: boolean;
  /**
   * Whether a step refused while its updates are applied (a non-finite new weight or state under
   * the 'error' policy) leaves every table of the call unchanged (default true). A table store
   * commits per block without a cross-block transaction: there the suite checks instead that the
   * bad row itself is never written.
   */
  readonly stepsAreAtomic?: boolean;
}

/**
 * Declares the conformance suite (vitest `describe` blocks) for one backend. Every expected value
 * comes from outside the backend: float64 loops, `@halfstep/codecs`, Random123's Philox, or the
 * reference backend.
 */
export function describeBackendConformance(options: ConformanceOptions): void {
  describe(`backend conformance: ${options.name}`, () => {
    let backend: Backend | null = null;
    let reference: Backend | null = null;
    beforeAll(async () => {
      backend = await options.create();
      reference = options.reference ? await options.reference() : null;
    });
    afterAll(() => {
      backend?.dispose();
      reference?.dispose();
    });
    const ctx: ConformanceContext = {
      backend: () => {
        if (backend === null) throw new Error('the backend under test did not initialise');
        return backend;
      },
      reference: () => reference,
      exportsTables: options.exportsTables ?? true,
      writesRows: options.writesRows ?? options.exportsTables ?? true,
      tablesInMemory: options.tablesInMemory ?? true,
      stepsAreAtomic: options.stepsAreAtomic ?? true,
    };
    describeTensors(ctx);
    describeForward(ctx);
    describeWriteRows(ctx);
    describeBackward(ctx);
    describeNonFiniteResults(ctx);
    describeDense(ctx);
    describeIdentity(ctx);
  });
}

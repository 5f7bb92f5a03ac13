/**
 * The PCG-hash counter engine alone (`@halfstep/rng/pcg-hash`): a bundle that imports only this
 * carries no other engine (`createEngine` carries all seven).
 *
 * @example
 * ```ts
 * import { createPcgHash } from '@halfstep/rng/pcg-hash';
 *
 * const rng = createPcgHash(42); // = createEngine('pcg-hash', 42)
 * const words = rng.fillAt(0n, new Uint32Array(8));
 * ```
 *
 * @module
 */
import { PcgHash } from '../pcg-hash.js';
import { toSeed64 } from '../seed.js';
import type { CounterEngine } from '../types.js';

export { pcgHash } from '../pcg-hash.js';
export type { CounterEngine, EngineSnapshot, RandomEngine } from '../types.js';

/**
 * Creates `pcg-hash` (Jarzynski & Olano's PCG hash of a salted counter) keyed by the 64-bit seed;
 * `createEngine('pcg-hash', seed)` alone.
 * @throws TypeError / RangeError for a seed that is not an integer in range.
 */
export function createPcgHash(seed: number | bigint): CounterEngine {
  return PcgHash.fromSeed(toSeed64(seed, 'createPcgHash: seed'));
}

/**
 * The xoshiro128++ engine alone (`@halfstep/rng/xoshiro`): a bundle that imports only this
 * factory carries no other engine (`createEngine` carries all seven).
 *
 * @example
 * ```ts
 * import { createXoshiro128PlusPlus } from '@halfstep/rng/xoshiro';
 *
 * const rng = createXoshiro128PlusPlus(42); // = createEngine('xoshiro128++', 42)
 * const u = rng.nextFloat(); // k * 2^-24, in [0, 1)
 * ```
 *
 * @module
 */
import { toSeed64 } from '../seed.js';
import type { JumpableEngine } from '../types.js';
import { Xoshiro128PlusPlus } from '../xoshiro.js';

export type { EngineSnapshot, JumpableEngine, RandomEngine, StreamEngine } from '../types.js';

/**
 * Creates `xoshiro128++` (Blackman & Vigna 2019) from a seed (an integer number or bigint in
 * [-2^63, 2^64)), expanded through splitmix64; `createEngine('xoshiro128++', seed)` alone.
 * @throws TypeError / RangeError for a seed that is not an integer in range.
 */
export function createXoshiro128PlusPlus(seed: number | bigint): JumpableEngine {
  return Xoshiro128PlusPlus.fromSeed(toSeed64(seed, 'createXoshiro128PlusPlus: seed'));
}

/**
 * The xorshift engines alone (`@halfstep/rng/xorshift`): a bundle that imports only these
 * factories carries no other engine (`createEngine` carries all seven, since it picks one by
 * name at run time). Each is the engine `createEngine` makes of the same name and seed.
 *
 * @example
 * ```ts
 * import { createXorshift128Plus } from '@halfstep/rng/xorshift';
 *
 * const rng = createXorshift128Plus(42); // = createEngine('xorshift128+', 42)
 * const words = rng.fillUint32(new Uint32Array(4));
 * ```
 *
 * @module
 */
import { toSeed64 } from '../seed.js';
import type { JumpableEngine, StreamEngine } from '../types.js';
import { Xorshift32, Xorshift128, Xorshift128Plus } from '../xorshift.js';

export type { EngineSnapshot, JumpableEngine, RandomEngine, StreamEngine } from '../types.js';

/**
 * Creates `xorshift32` (Marsaglia 2003) from a seed (an integer number or bigint in
 * [-2^63, 2^64)), expanded through splitmix64; `createEngine('xorshift32', seed)` alone.
 * @throws TypeError / RangeError for a seed that is not an integer in range.
 */
export function createXorshift32(seed: number | bigint): StreamEngine {
  return Xorshift32.fromSeed(toSeed64(seed, 'createXorshift32: seed'));
}

/**
 * Creates `xorshift128` (Marsaglia's xor128) from a seed; `createEngine('xorshift128', seed)`
 * alone. @throws TypeError / RangeError for a seed that is not an integer in range.
 */
export function createXorshift128(seed: number | bigint): JumpableEngine {
  return Xorshift128.fromSeed(toSeed64(seed, 'createXorshift128: seed'));
}

/**
 * Creates `xorshift128+` (Vigna, shifts 23/18/5: pure-rand's `xorshift128plus` stream) from a
 * seed; `createEngine('xorshift128+', seed)` alone.
 * @throws TypeError / RangeError for a seed that is not an integer in range.
 */
export function createXorshift128Plus(seed: number | bigint): JumpableEngine {
  return Xorshift128Plus.fromSeed(toSeed64(seed, 'createXorshift128Plus: seed'));
}

/**
 * The Philox4x32 engines alone (`@halfstep/rng/philox`): `createPhilox` (10 or 7 rounds) and the
 * block function `philox4x32`, without the other engines (`createEngine` carries all seven).
 *
 * @example
 * ```ts
 * import { createPhilox } from '@halfstep/rng/philox';
 *
 * const rng = createPhilox(42n); // = createEngine('philox4x32-10', 42n)
 * const words = rng.fillAt(7n << 96n, new Uint32Array(8)); // words 7·2^96 .. 7·2^96 + 7
 * ```
 *
 * @module
 */
export { createPhilox, type PhiloxOptions } from '../engine.js';
export { philox4x32 } from '../philox.js';
export type { CounterEngine, EngineSnapshot, RandomEngine } from '../types.js';

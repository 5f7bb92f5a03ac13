import { PcgHash } from './pcg-hash.js';
import { Philox4x32 } from './philox.js';
import { toSeed64 } from './seed.js';
import type {
  CounterEngine,
  CounterEngineName,
  EngineName,
  EngineSnapshot,
  JumpableEngine,
  JumpableEngineName,
  RandomEngine,
  StreamEngine,
} from './types.js';
import { Xorshift32, Xorshift128, Xorshift128Plus } from './xorshift.js';
import { Xoshiro128PlusPlus } from './xoshiro.js';

/** Every engine name, in the order of the README's table. */
export const ENGINE_NAMES: readonly EngineName[] = [
  'xorshift32',
  'xorshift128',
  'xorshift128+',
  'xoshiro128++',
  'philox4x32-10',
  'philox4x32-7',
  'pcg-hash',
];

const factories: Record<EngineName, (seed: bigint) => RandomEngine> = {
  xorshift32: (seed) => Xorshift32.fromSeed(seed),
  xorshift128: (seed) => Xorshift128.fromSeed(seed),
  'xorshift128+': (seed) => Xorshift128Plus.fromSeed(seed),
  'xoshiro128++': (seed) => Xoshiro128PlusPlus.fromSeed(seed),
  'philox4x32-10': (seed) => Philox4x32.fromSeed(seed, 10),
  'philox4x32-7': (seed) => Philox4x32.fromSeed(seed, 7),
  'pcg-hash': (seed) => PcgHash.fromSeed(seed),
};

function checkName(name: unknown): EngineName {
  if (typeof name !== 'string' || !Object.hasOwn(factories, name)) {
    throw new RangeError(`name must be one of ${ENGINE_NAMES.join(', ')}; got ${String(name)}`);
  }
  return name as EngineName;
}

/**
 * Creates engine `name` from a seed (an integer number or bigint in [-2^63, 2^64), negative
 * values taken modulo 2^64). Stream engines expand the seed through splitmix64 (any seed, 0
 * included, gives a valid non-zero state); counter engines use it as their key,
 * `[seed mod 2^32, seed >> 32]`. Equal (name, seed) give equal streams on every platform.
 * @throws RangeError for an unknown name or a seed that is not an integer in range;
 *   TypeError for a seed that is neither a number nor a bigint.
 */
export function createEngine(name: CounterEngineName, seed: number | bigint): CounterEngine;
export function createEngine(name: JumpableEngineName, seed: number | bigint): JumpableEngine;
export function createEngine(name: 'xorshift32', seed: number | bigint): StreamEngine;
export function createEngine(name: EngineName, seed: number | bigint): RandomEngine;
export function createEngine(name: EngineName, seed: number | bigint): RandomEngine {
  const factory = factories[checkName(name)];
  return factory(toSeed64(seed));
}

/** Options of {@link createPhilox}. */
export interface PhiloxOptions {
  /** Rounds of the block function: 10 (default, Random123's standard) or 7 (faster, still passes BigCrush). */
  readonly rounds?: 7 | 10;
}

/**
 * Creates a Philox4x32 engine keyed by the 64-bit seed (`[seed mod 2^32, seed >> 32]`), with
 * 10 rounds or, with `{ rounds: 7 }`, the `philox4x32-7` variant.
 */
export function createPhilox(seed: number | bigint, options: PhiloxOptions = {}): CounterEngine {
  const rounds = options.rounds ?? 10;
  if (rounds !== 7 && rounds !== 10) {
    throw new RangeError(`options.rounds must be 7 or 10, got ${String(rounds)}`);
  }
  return Philox4x32.fromSeed(toSeed64(seed), rounds);
}

/**
 * Recreates an engine from a snapshot (as returned by `engine.snapshot()`, possibly after a JSON
 * round trip): the result produces exactly the words the snapshotted engine would have produced next.
 * @throws TypeError / RangeError when the snapshot is malformed or names an unknown engine.
 */
export function restoreEngine(snapshot: EngineSnapshot): RandomEngine {
  if (snapshot === null || typeof snapshot !== 'object') {
    throw new TypeError('snapshot must be an object { name, words }');
  }
  const engine = factories[checkName(snapshot.name)](1n);
  engine.restore(snapshot);
  return engine;
}

import { argumentError, checkOptions, optionKeys } from '@halfstep/codecs';
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

function checkName(name: unknown, where: string): EngineName {
  if (typeof name !== 'string') {
    throw argumentError(where, `an engine name (${ENGINE_NAMES.join(', ')})`, name);
  }
  if (!Object.hasOwn(factories, name)) {
    throw new RangeError(
      `${where} must be one of ${ENGINE_NAMES.join(', ')}; got ${JSON.stringify(name)}`,
    );
  }
  return name as EngineName;
}

/**
 * Creates engine `name` from a seed (an integer number or bigint in [-2^63, 2^64), negative
 * values taken modulo 2^64). Stream engines expand the seed through splitmix64 (any seed, 0
 * included, gives a valid non-zero state); counter engines use it as their key,
 * `[seed mod 2^32, seed >> 32]`. Equal (name, seed) give equal streams on every platform.
 * @throws RangeError for an unknown name or a seed that is not an integer in range;
 *   TypeError for a name that is not a string or a seed that is neither a number nor a bigint
 *   (a missing one included).
 * @example
 * ```ts
 * const engine = createEngine('xoshiro128++', 42);
 * const words = engine.fillUint32(new Uint32Array(4));
 * ```
 */
export function createEngine(name: CounterEngineName, seed: number | bigint): CounterEngine;
export function createEngine(name: JumpableEngineName, seed: number | bigint): JumpableEngine;
export function createEngine(name: 'xorshift32', seed: number | bigint): StreamEngine;
export function createEngine(name: EngineName, seed: number | bigint): RandomEngine;
export function createEngine(name: EngineName, seed: number | bigint): RandomEngine {
  const factory = factories[checkName(name, 'createEngine: name')];
  return factory(toSeed64(seed, 'createEngine: seed'));
}

/** Options of {@link createPhilox}. */
export interface PhiloxOptions {
  /** Rounds of the block function: 10 (default, Random123's standard) or 7 (faster, still passes BigCrush). */
  readonly rounds?: 7 | 10 | undefined;
}

const PHILOX_KEYS = optionKeys<PhiloxOptions>({ rounds: true });

/**
 * Creates a Philox4x32 engine keyed by the 64-bit seed (`[seed mod 2^32, seed >> 32]`), with
 * 10 rounds or, with `{ rounds: 7 }`, the `philox4x32-7` variant.
 * @throws TypeError for a seed that is neither a number nor a bigint, options that are not an
 *   object or have an unknown key, a `rounds` that is not a number; RangeError for a seed out of
 *   range or `rounds` other than 7 or 10.
 * @example
 * ```ts
 * const philox = createPhilox(42n);
 * const words = philox.fillAt(1000n, new Uint32Array(4)); // words 1000..1003, whatever ran before
 * ```
 */
export function createPhilox(seed: number | bigint, options: PhiloxOptions = {}): CounterEngine {
  const checked = checkOptions('createPhilox', options, PHILOX_KEYS);
  const rounds = checked.rounds ?? 10;
  if (typeof rounds !== 'number')
    throw argumentError('createPhilox: options.rounds', '7 or 10', rounds);
  if (rounds !== 7 && rounds !== 10) {
    throw new RangeError(`createPhilox: options.rounds must be 7 or 10, got ${String(rounds)}`);
  }
  return Philox4x32.fromSeed(toSeed64(seed, 'createPhilox: seed'), rounds);
}

/**
 * Recreates an engine from a snapshot (as returned by `engine.snapshot()`, possibly after a JSON
 * round trip): the result produces exactly the words the snapshotted engine would have produced next.
 * @throws TypeError / RangeError when the snapshot is malformed or names an unknown engine.
 */
export function restoreEngine(snapshot: EngineSnapshot): RandomEngine {
  if (snapshot === null || typeof snapshot !== 'object') {
    throw argumentError('restoreEngine: snapshot', 'an object { name, words }', snapshot);
  }
  const engine = factories[checkName(snapshot.name, 'restoreEngine: snapshot.name')](1n);
  engine.restore(snapshot);
  return engine;
}

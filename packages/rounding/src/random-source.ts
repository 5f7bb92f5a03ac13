import { argumentError, checkOptions } from '@halfstep/codecs';
import type { CounterEngine, RandomEngine } from '@halfstep/rng';

/** A stream of random words: any `@halfstep/rng` engine (its stream advances as words are drawn). */
export type StreamSource = Pick<RandomEngine, 'fillUint32'>;

/**
 * Counter-based random words: word `w` is `engine.fillAt(w, ...)`, a pure function of the engine's
 * key and `w` (`@halfstep/rng`'s philox4x32-10, philox4x32-7 and pcg-hash engines). The first
 * element drawn uses word `counter` (default 0).
 */
export interface CounterSource {
  readonly engine: Pick<CounterEngine, 'fillAt'>;
  readonly counter?: number | bigint | undefined;
}

/** Where a stochastic strategy takes its random bits from. */
export type RandomSource = StreamSource | CounterSource;

/** A validated source: exactly one of `stream` and `counter` is set. */
export type CheckedSource =
  | { readonly kind: 'stream'; readonly stream: StreamSource }
  | {
      readonly kind: 'counter';
      readonly counter: Pick<CounterEngine, 'fillAt'>;
      readonly start: number | bigint;
    };

/**
 * Checks a word index: a non-negative safe integer number, or a non-negative bigint.
 * @throws TypeError or RangeError naming `argument`.
 */
export function checkCounter(counter: unknown, argument: string): number | bigint {
  if (typeof counter === 'bigint') {
    if (counter < 0n)
      throw new RangeError(`${argument}: expected a non-negative counter, got ${counter}`);
    return counter <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(counter) : counter;
  }
  if (typeof counter !== 'number') {
    throw argumentError(argument, 'a number or bigint counter', counter);
  }
  if (!Number.isSafeInteger(counter) || counter < 0) {
    throw new RangeError(
      `${argument}: expected a non-negative safe integer counter, got ${counter}`,
    );
  }
  return counter;
}

/**
 * Validates the `random` option of `stochastic`: an object with `fillUint32` (a stream), or
 * `{ engine, counter? }` whose engine has `fillAt` (counter-based).
 * @throws TypeError naming `random` for anything else; RangeError for a negative counter.
 */
export function checkRandomSource(random: unknown): CheckedSource {
  if (typeof random !== 'object' || random === null) {
    throw argumentError(
      'stochastic: random',
      'a random engine (with fillUint32) or { engine, counter } with a counter-based engine (with fillAt)',
      random,
    );
  }
  if ('engine' in random) {
    checkOptions('stochastic', random as CounterSource, ['engine', 'counter'], {
      argument: 'random',
      hints: { start: 'counter', position: 'counter', offset: 'counter' },
    });
    const { engine, counter } = random as { engine: unknown; counter?: unknown };
    if (
      typeof engine !== 'object' ||
      engine === null ||
      typeof (engine as { fillAt?: unknown }).fillAt !== 'function'
    ) {
      throw argumentError(
        'stochastic: random.engine',
        'a counter-based engine with fillAt(start, out) (philox4x32-10, philox4x32-7, pcg-hash)',
        engine,
      );
    }
    return {
      kind: 'counter',
      counter: engine as Pick<CounterEngine, 'fillAt'>,
      start: counter === undefined ? 0 : checkCounter(counter, 'stochastic: random.counter'),
    };
  }
  if (typeof (random as { fillUint32?: unknown }).fillUint32 !== 'function') {
    throw argumentError(
      'stochastic: random',
      'a random engine with fillUint32(out), or { engine, counter } with a counter-based engine',
      random,
    );
  }
  return { kind: 'stream', stream: random as StreamSource };
}

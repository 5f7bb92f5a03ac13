import { type RoundingStrategy, roundNearestEven } from '@halfstep/codecs';

/** A strategy whose rule decides from the input alone, with no random bits. */
export type DeterministicStrategy<Rule extends RoundingStrategy['rule']> = RoundingStrategy & {
  readonly rule: Rule;
};

/**
 * IEEE 754 round to nearest, ties to even: the nearer neighbour; at an exact midpoint, the one
 * whose code is even. This is `@halfstep/codecs`' `roundNearestEven` itself (encode's default),
 * so passing it keeps encode's fast paths.
 */
export const nearestEven: DeterministicStrategy<'nearest-even'> =
  roundNearestEven as DeterministicStrategy<'nearest-even'>;

/** Round to nearest, ties away from zero (IEEE 754 roundTiesToAway). */
export const nearestAway: DeterministicStrategy<'nearest-away'> = Object.freeze({
  rule: 'nearest-away',
});

/** Truncation: the neighbour nearer to zero (IEEE 754 roundTowardZero). */
export const towardZero: DeterministicStrategy<'toward-zero'> = Object.freeze({
  rule: 'toward-zero',
});

/** The neighbour nearer to +infinity, i.e. the ceiling on the grid (IEEE 754 roundTowardPositive). */
export const towardPositive: DeterministicStrategy<'toward-positive'> = Object.freeze({
  rule: 'toward-positive',
});

/** The neighbour nearer to -infinity, i.e. the floor on the grid (IEEE 754 roundTowardNegative). */
export const towardNegative: DeterministicStrategy<'toward-negative'> = Object.freeze({
  rule: 'toward-negative',
});

/**
 * Round to odd (von Neumann rounding, "sticky" rounding): a value on the grid stays; any other
 * value goes to whichever of its two neighbours has an odd code (truncate, then set the last bit
 * if anything was dropped). Rounding float32 to an intermediate format to odd and then that to a
 * narrower one to nearest gives the correctly rounded result when the intermediate keeps at
 * least two more bits. On overflow it gives the largest finite value, as `toward-zero` does.
 */
export const toOdd: DeterministicStrategy<'to-odd'> = Object.freeze({ rule: 'to-odd' });

/** The six deterministic strategies, by rule name. */
export const deterministicStrategies: Readonly<{
  'nearest-even': DeterministicStrategy<'nearest-even'>;
  'nearest-away': DeterministicStrategy<'nearest-away'>;
  'toward-zero': DeterministicStrategy<'toward-zero'>;
  'toward-positive': DeterministicStrategy<'toward-positive'>;
  'toward-negative': DeterministicStrategy<'toward-negative'>;
  'to-odd': DeterministicStrategy<'to-odd'>;
}> = Object.freeze({
  'nearest-even': nearestEven,
  'nearest-away': nearestAway,
  'toward-zero': towardZero,
  'toward-positive': towardPositive,
  'toward-negative': towardNegative,
  'to-odd': toOdd,
});

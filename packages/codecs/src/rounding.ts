import type { FloatFormat } from './formats.js';

/**
 * How a value that falls between two neighbours on a format's grid is rounded.
 *
 * The encoder finds, for every input, the neighbour `lower` nearer to zero and the fraction of
 * the gap that the input lies beyond it, as a 32-bit fixed-point number `fraction` in [0, 2^32)
 * (0 when the input is exactly on the grid). The rule then decides whether the magnitude steps
 * up to the neighbour farther from zero:
 *
 * | rule              | steps away from zero when                                   |
 * | ----------------- | ----------------------------------------------------------- |
 * | `nearest-even`    | fraction > 1/2, or fraction = 1/2 and `lower` is odd        |
 * | `nearest-away`    | fraction >= 1/2                                             |
 * | `toward-zero`     | never                                                       |
 * | `toward-positive` | fraction > 0 and the input is positive                      |
 * | `toward-negative` | fraction > 0 and the input is negative                      |
 * | `to-odd`          | fraction > 0 and `lower` is even                            |
 * | `stochastic`      | fraction > threshold, one uniform random threshold per item |
 */
export type RoundingRule =
  | 'nearest-even'
  | 'nearest-away'
  | 'toward-zero'
  | 'toward-positive'
  | 'toward-negative'
  | 'to-odd'
  | 'stochastic';

/**
 * A rounding strategy, as `encode` consumes it. `@halfstep/rounding` provides ready-made ones
 * (`nearestEven`, ..., `stochastic({ random, bits })`); any object of this shape works.
 */
export interface RoundingStrategy {
  readonly rule: RoundingRule;
  /**
   * Required for `stochastic`, ignored otherwise: fills `out` with one threshold per element, in
   * element order. An element rounds away from zero when its 32-bit `fraction` is greater than
   * its threshold, so a threshold uniform on [0, 2^32) rounds up with probability exactly
   * fraction / 2^32. Called once per chunk of at most 4096 elements, in element order; `format`
   * is the target, so that a strategy can spend as many random bits as its mantissa drops.
   */
  fillThresholds?(out: Uint32Array, format: FloatFormat): void;
}

/** The default strategy of `encode`: IEEE 754 round to nearest, ties to even. */
export const roundNearestEven: RoundingStrategy = Object.freeze({ rule: 'nearest-even' });

const rules: ReadonlySet<string> = new Set<RoundingRule>([
  'nearest-even',
  'nearest-away',
  'toward-zero',
  'toward-positive',
  'toward-negative',
  'to-odd',
  'stochastic',
]);

/**
 * Checks that `strategy` is a usable rounding strategy.
 * @throws TypeError naming `argument` otherwise.
 */
export function checkStrategy(strategy: unknown, argument = 'options.rounding'): RoundingStrategy {
  const candidate = strategy as RoundingStrategy | null;
  if (typeof candidate !== 'object' || candidate === null || !rules.has(candidate.rule)) {
    throw new TypeError(
      `${argument}: expected a rounding strategy with a rule (${[...rules].join(', ')})`,
    );
  }
  if (candidate.rule === 'stochastic' && typeof candidate.fillThresholds !== 'function') {
    throw new TypeError(`${argument}: a stochastic strategy needs fillThresholds(out)`);
  }
  return candidate;
}

/**
 * Rounding strategies for `@halfstep/codecs`' `encode`: the five IEEE 754 rules plus round to odd,
 * and unbiased stochastic rounding with stream or counter-based random bits.
 *
 * @packageDocumentation
 */
export type { DeterministicStrategy } from './deterministic.js';
export {
  deterministicStrategies,
  nearestAway,
  nearestEven,
  toOdd,
  towardNegative,
  towardPositive,
  towardZero,
} from './deterministic.js';
export type { CounterSource, RandomSource, StreamSource } from './random-source.js';
export type { RoundToFormatOptions } from './round-to-format.js';
export { roundToFormat } from './round-to-format.js';
export type {
  CounterStochasticRounding,
  StochasticOptions,
  StochasticRounding,
} from './stochastic.js';
export { stochastic } from './stochastic.js';
export { elementsPerWord, maxRandomBits, stochasticBias, thresholdOf } from './thresholds.js';

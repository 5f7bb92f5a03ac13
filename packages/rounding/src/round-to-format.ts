import {
  argumentError,
  checkOptions,
  checkStrategy,
  decodeScalar,
  encodeScalar,
  type FormatLike,
  type Overflow,
  optionKeys,
  type RoundingStrategy,
  resolveFormat,
} from '@halfstep/codecs';
import { nearestEven } from './deterministic.js';

const ROUND_KEYS = optionKeys<RoundToFormatOptions>({ overflow: true });

/** Options of {@link roundToFormat}. */
export interface RoundToFormatOptions {
  /** What happens beyond the largest finite value, as in `encode`. Default: `'infinity'`. */
  readonly overflow?: Overflow | undefined;
}

/**
 * Rounds `x` onto `format`'s grid with `strategy` and returns the result as a number: exactly
 * `decodeScalar(format, encodeScalar(format, x, { rounding: strategy, overflow }))`. `x` is first
 * rounded to float32 (nearest-even), as a `Float32Array` store would. The result is a float32
 * value that `format` represents exactly (or ±Infinity, or NaN); -0 stays -0 and NaN stays NaN.
 * A stochastic strategy draws one element's random bits per call.
 * @throws TypeError naming the argument for an unknown format, an `x` that is not a number, an
 *   invalid strategy, options that are not an object or have an unknown key; RangeError for an
 *   unknown `overflow` mode.
 * @example
 * ```ts
 * roundToFormat('bfloat16', 1 / 3); // 0.333984375
 * roundToFormat('float16', 70000, towardZero, { overflow: 'saturate' }); // 65504
 * ```
 */
export function roundToFormat(
  format: FormatLike,
  x: number,
  strategy: RoundingStrategy = nearestEven,
  options: RoundToFormatOptions = {},
): number {
  const fmt = resolveFormat(format, 'roundToFormat: format');
  if (typeof x !== 'number') throw argumentError('roundToFormat: x', 'a number', x);
  checkStrategy(strategy, 'roundToFormat: strategy');
  checkOptions('roundToFormat', options, ROUND_KEYS, {
    hints: { saturate: "overflow: 'saturate'", rounding: 'the strategy argument' },
  });
  const code = encodeScalar(fmt, x, {
    rounding: strategy,
    overflow: options.overflow ?? 'infinity',
  });
  return decodeScalar(fmt, code);
}

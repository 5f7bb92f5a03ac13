import {
  decodeScalar,
  encodeScalar,
  type FormatLike,
  type Overflow,
  type RoundingStrategy,
} from '@halfstep/codecs';
import { nearestEven } from './deterministic.js';

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
 * @throws as `encodeScalar` does (unknown format, invalid strategy or overflow option).
 */
export function roundToFormat(
  format: FormatLike,
  x: number,
  strategy: RoundingStrategy = nearestEven,
  options: RoundToFormatOptions = {},
): number {
  const code = encodeScalar(format, x, {
    rounding: strategy,
    overflow: options.overflow ?? 'infinity',
  });
  return decodeScalar(format, code);
}

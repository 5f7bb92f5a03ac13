import type { RoundingMode, StorageName } from '@halfstep/backend';

/** The embedding storage/rounding choices of the CLI. */
export const PRECISIONS = ['fp32', 'fp16-sr', 'fp16-nearest', 'bf16-sr', 'bf16-nearest'] as const;

/** One of {@link PRECISIONS}. */
export type Precision = (typeof PRECISIONS)[number];

/** What a precision means for a table: its storage format and how updates are rounded into it. */
export interface PrecisionSpec {
  readonly storage: StorageName;
  readonly rounding: RoundingMode;
}

/**
 * `fp32`: float32 storage (no rounding); `fp16-*`: IEEE binary16; `bf16-*`: bfloat16; `-sr`:
 * stochastic rounding of every update, `-nearest`: round to nearest-even.
 * @throws RangeError for a name not in {@link PRECISIONS}.
 */
export function precisionSpec(precision: string): PrecisionSpec {
  switch (precision) {
    case 'fp32':
      return { storage: 'float32', rounding: 'nearest-even' };
    case 'fp16-sr':
      return { storage: 'float16', rounding: 'stochastic' };
    case 'fp16-nearest':
      return { storage: 'float16', rounding: 'nearest-even' };
    case 'bf16-sr':
      return { storage: 'bfloat16', rounding: 'stochastic' };
    case 'bf16-nearest':
      return { storage: 'bfloat16', rounding: 'nearest-even' };
    default:
      throw new RangeError(
        `unknown precision "${precision}" (expected one of ${PRECISIONS.join(', ')})`,
      );
  }
}

/** Type guard for {@link Precision}. */
export function isPrecision(value: string): value is Precision {
  return (PRECISIONS as readonly string[]).includes(value);
}

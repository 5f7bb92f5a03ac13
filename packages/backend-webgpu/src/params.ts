import type { FloatFormat } from '@halfstep/codecs';

/** Words of the kernels' parameter array: 16 format words, then the kernel's own. */
export const PARAM_WORDS = 32;

/**
 * The format words 0..15 of a kernel's parameter array (the layout `FORMAT_WGSL` reads): the
 * encoder constants of `@halfstep/codecs` for `format` (null: float32 storage, 32-bit words) and
 * overflow mode.
 */
export function formatParams(format: FloatFormat | null, saturate: boolean): Uint32Array {
  const p = new Uint32Array(PARAM_WORDS);
  if (format === null) {
    p[10] = 32;
    return p;
  }
  p[0] = 23 - format.mantissaBits;
  p[1] = (127 - format.bias) << 23;
  p[2] = (128 - format.bias) << 23;
  p[3] = 151 - format.bias - format.mantissaBits;
  p[4] = format.maxFiniteCode;
  p[5] = saturate ? format.maxFiniteCode : format.maxFiniteCode + 1;
  p[6] = 32 - format.bits;
  p[7] = format.signMask;
  p[8] = format.nanCode;
  p[9] = format.hasInfinity ? 1 : 0;
  p[10] = format.bits;
  p[11] = format.mantissaBits;
  p[12] = format.bias;
  p[13] = format.name === 'bfloat16' ? 1 : 0;
  return p;
}

/** The rule numbers of `encode_one`. */
export const RULE_NUMBERS = {
  'nearest-even': 0,
  'nearest-away': 1,
  'toward-zero': 2,
  'toward-positive': 3,
  'toward-negative': 4,
  'to-odd': 5,
  stochastic: 6,
} as const;

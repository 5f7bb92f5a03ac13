import { type FloatFormat, RULE_CODES } from '@halfstep/codecs';
import { FORMAT_LAYOUT, formatValues, PARAM_WORDS } from './layouts.js';

export { PARAM_WORDS } from './layouts.js';

/**
 * A kernel's parameter array with its format words 0..15 (`FORMAT_LAYOUT`, which `FORMAT_WGSL`
 * reads) set for `format` (null: float32 storage) and overflow mode, the rest 0.
 */
export function formatParams(format: FloatFormat | null, saturate: boolean): Uint32Array {
  const p = new Uint32Array(PARAM_WORDS);
  FORMAT_LAYOUT.write(p, 0, formatValues(format, saturate));
  return p;
}

/**
 * The rule numbers of `encode_one`: `@halfstep/codecs`' `RULE_CODES` itself (kept under this
 * name for the check scripts).
 * @deprecated Use `RULE_CODES` from `@halfstep/codecs`.
 */
export const RULE_NUMBERS = RULE_CODES;

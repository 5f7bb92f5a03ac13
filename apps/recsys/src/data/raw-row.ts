import { NUM_DENSE, NUM_SPARSE } from './schema.js';

/**
 * One Criteo line as numbers, before any transform: what the text says, nothing more. A missing
 * field reads as 0 with its flag set (DLRM reads an empty field as the string `'0'`).
 */
export interface RawRow {
  /** 0 or 1. */
  label: number;
  /** I1..I13 as written (negative values kept; 0 where missing). */
  readonly dense: Float64Array;
  /** 1 where I_j was empty. */
  readonly denseMissing: Uint8Array;
  /** C1..C26 as unsigned integers, the hex hash read base 16 (0 where missing). */
  readonly sparse: Float64Array;
  /** 1 where C_t was empty. */
  readonly sparseMissing: Uint8Array;
}

/** A zeroed {@link RawRow}, meant to be filled again and again by a parser or generator. */
export function createRawRow(): RawRow {
  return {
    label: 0,
    dense: new Float64Array(NUM_DENSE),
    denseMissing: new Uint8Array(NUM_DENSE),
    sparse: new Float64Array(NUM_SPARSE),
    sparseMissing: new Uint8Array(NUM_SPARSE),
  };
}

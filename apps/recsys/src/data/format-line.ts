import type { RawRow } from './raw-row.js';
import { NUM_DENSE, NUM_SPARSE } from './schema.js';

const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** `value` (an integer in [0, 2^32)) as 8 lowercase hex digits, as Criteo writes its hashes. */
export function hex8(value: number): string {
  return (
    HEX2[(value >>> 24) & 255]! +
    HEX2[(value >>> 16) & 255]! +
    HEX2[(value >>> 8) & 255]! +
    HEX2[value & 255]!
  );
}

/**
 * `row` as one Criteo TSV line without the newline: label, I1..I13 in decimal, C1..C26 as 8 hex
 * digits, tab-separated, missing fields empty. The inverse of `parseCriteoLine` for rows whose
 * categorical values are below 2^32 and dense values are integers.
 */
export function formatCriteoLine(row: RawRow): string {
  let line = row.label === 1 ? '1' : '0';
  for (let j = 0; j < NUM_DENSE; j++) {
    line += row.denseMissing[j] ? '\t' : `\t${row.dense[j]}`;
  }
  for (let t = 0; t < NUM_SPARSE; t++) {
    line += row.sparseMissing[t] ? '\t' : `\t${hex8(row.sparse[t]!)}`;
  }
  return line;
}

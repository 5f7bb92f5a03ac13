import type { RawRow } from './raw-row.js';
import { NUM_DENSE, NUM_FIELDS, NUM_SPARSE } from './schema.js';

const TAB = 9;
const CR = 13;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;
/** 15 decimal digits stay exact in a double. */
const MAX_DENSE_DIGITS = 15;
/** A Criteo hash is 8 hex digits; more would not fit 32 bits. */
const MAX_HEX_DIGITS = 8;

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function countFields(line: string, end: number): number {
  let fields = 1;
  for (let i = 0; i < end; i++) if (line.charCodeAt(i) === TAB) fields++;
  return fields;
}

function fieldText(line: string, start: number, end: number): string {
  let stop = start;
  while (stop < end && line.charCodeAt(stop) !== TAB) stop++;
  return JSON.stringify(line.slice(start, Math.min(stop, start + 40)));
}

/**
 * Parses one Criteo TSV line (`label \t I1..I13 \t C1..C26`, one trailing `\r` ignored) into `row`,
 * in place, without allocating on success. Label must be `0` or `1`; I_j an optional `-` then 1-15
 * decimal digits, or empty; C_t 1-8 hex digits (either case), or empty. Empty fields read as 0 with
 * their missing flag set.
 * @returns `undefined` on success, else the reason the line is malformed (then `row` holds garbage).
 */
export function parseCriteoLine(line: string, row: RawRow): string | undefined {
  let end = line.length;
  if (end > 0 && line.charCodeAt(end - 1) === CR) end--;
  const fields = countFieldsIfShort(line, end);
  if (fields !== 0) return `expected ${NUM_FIELDS} tab-separated fields, found ${fields}`;

  const l = line.charCodeAt(0);
  if ((l !== ZERO && l !== ZERO + 1) || line.charCodeAt(1) !== TAB) {
    return `label must be 0 or 1, got ${fieldText(line, 0, end)}`;
  }
  row.label = l - ZERO;
  let pos = 2;

  const dense = row.dense;
  const denseMissing = row.denseMissing;
  for (let j = 0; j < NUM_DENSE; j++) {
    const start = pos;
    let c = pos < end ? line.charCodeAt(pos) : TAB;
    let negative = false;
    if (c === MINUS) {
      negative = true;
      c = ++pos < end ? line.charCodeAt(pos) : TAB;
    }
    let value = 0;
    let digits = 0;
    while (c >= ZERO && c <= NINE) {
      value = value * 10 + (c - ZERO);
      digits++;
      c = ++pos < end ? line.charCodeAt(pos) : TAB;
    }
    if (c !== TAB || pos >= end || (digits === 0 && negative) || digits > MAX_DENSE_DIGITS) {
      if (pos >= end)
        return `expected ${NUM_FIELDS} tab-separated fields, found ${countFields(line, end)}`;
      return `I${j + 1} must be an integer of at most ${MAX_DENSE_DIGITS} digits or empty, got ${fieldText(line, start, end)}`;
    }
    dense[j] = negative ? -value : value;
    denseMissing[j] = digits === 0 ? 1 : 0;
    pos++;
  }

  const sparse = row.sparse;
  const sparseMissing = row.sparseMissing;
  for (let t = 0; t < NUM_SPARSE; t++) {
    const start = pos;
    let value = 0;
    let c = pos < end ? line.charCodeAt(pos) : TAB;
    while (c !== TAB) {
      const d = hexDigit(c);
      if (d < 0) break;
      value = value * 16 + d;
      c = ++pos < end ? line.charCodeAt(pos) : TAB;
    }
    const digits = pos - start;
    const last = t === NUM_SPARSE - 1;
    if (c !== TAB || digits > MAX_HEX_DIGITS || (last ? pos !== end : pos >= end)) {
      if (!last && pos >= end) {
        return `expected ${NUM_FIELDS} tab-separated fields, found ${countFields(line, end)}`;
      }
      if (c === TAB && last && pos < end) {
        return `expected ${NUM_FIELDS} tab-separated fields, found ${countFields(line, end)}`;
      }
      return `C${t + 1} must be 1-${MAX_HEX_DIGITS} hex digits or empty, got ${fieldText(line, start, end)}`;
    }
    sparse[t] = value;
    sparseMissing[t] = digits === 0 ? 1 : 0;
    pos++;
  }
  return undefined;
}

/** 0 when the line may have enough fields (checked precisely while parsing); else its field count. */
function countFieldsIfShort(line: string, end: number): number {
  // Cheap pre-check only for the obviously short lines (blank or truncated); the parser catches
  // the rest on the way without a second scan.
  if (end >= NUM_FIELDS - 1) return 0;
  const fields = countFields(line, end);
  return fields === NUM_FIELDS ? 0 : fields;
}

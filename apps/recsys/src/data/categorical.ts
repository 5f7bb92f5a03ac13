import { NUM_SPARSE } from './schema.js';

/** Maps a categorical value (the hex hash read as an unsigned integer; 0 = missing) to a row index. */
export interface CategoricalEncoder {
  /** Row index in table `table` (0..25) for `value`. */
  encode(table: number, value: number): number;
  /** Rows each of the 26 tables needs for the indices handed out so far (final for hashing). */
  sizes(): number[];
}

function checkModulus(m: number, what: string): void {
  if (!Number.isInteger(m) || m < 1 || m > 2 ** 31) {
    throw new RangeError(`${what} must be an integer in [1, 2^31], got ${String(m)}`);
  }
}

/**
 * Hashing into fixed table sizes, as DLRM with `--max-ind-range`: `index = value % size`
 * (`int(x, 16) % max_ind_range` in `data_utils.getCriteoAdData`). Missing values read as 0 and
 * so land on index 0, exactly as in DLRM (which reads an empty field as `'0'`).
 */
export class HashingEncoder implements CategoricalEncoder {
  readonly #moduli: Float64Array;

  /** `sizes`: one modulus for all 26 tables (DLRM's `max_ind_range`) or one per table. */
  constructor(sizes: number | readonly number[]) {
    if (typeof sizes === 'number') {
      checkModulus(sizes, 'maxIndRange');
      this.#moduli = new Float64Array(NUM_SPARSE).fill(sizes);
    } else {
      if (sizes.length !== NUM_SPARSE) {
        throw new RangeError(`tableSizes must have ${NUM_SPARSE} entries, got ${sizes.length}`);
      }
      for (const [t, m] of sizes.entries()) checkModulus(m, `tableSizes[${t}]`);
      this.#moduli = Float64Array.from(sizes);
    }
  }

  /** `value % size[table]`. */
  encode(table: number, value: number): number {
    return value % this.#moduli[table]!;
  }

  /** The 26 moduli. */
  sizes(): number[] {
    return Array.from(this.#moduli);
  }
}

/**
 * Remapping to dense ids, as DLRM without `--max-ind-range`: each table keeps a dictionary of the
 * values seen so far and hands out ids 0, 1, 2, ... in order of first appearance
 * (`convertDicts` in `data_utils.getCriteoAdData`, whose ids are the insertion order of a pass
 * over the file). Missing reads as the value 0 and gets an id like any other value. Reading the
 * same file in the same order therefore gives DLRM's ids. Unseen values grow the dictionary; run
 * {@link buildCategoryDictionary} first for final table sizes.
 */
export class CategoryDictionary implements CategoricalEncoder {
  readonly #maps: Map<number, number>[] = Array.from({ length: NUM_SPARSE }, () => new Map());

  /** The id of `value` in table `table`, adding it if new. */
  encode(table: number, value: number): number {
    const map = this.#maps[table]!;
    let id = map.get(value);
    if (id === undefined) {
      id = map.size;
      map.set(value, id);
    }
    return id;
  }

  /** Distinct values seen per table so far (DLRM's `counts`). */
  sizes(): number[] {
    return this.#maps.map((m) => m.size);
  }
}

import { NUM_DENSE, NUM_SPARSE } from '../schema.js';
import { hash3, signedUnit } from './hash.js';
import { DENSE_PROFILE, INTERACTION_PAIRS } from './profile.js';

const SQRT3 = Math.sqrt(3);
/** Standard deviation of each interaction pair's effect. */
const INTERACTION_SCALE = 0.5;
/** Largest |weight| of a dense feature's log(x + 1). */
const DENSE_WEIGHT = 0.4;

/**
 * The planted click model of the synthetic data:
 * `logit = bias + sum_t effect(t, row_t) + sum_j a_j (log(1 + max(x_j, 0)) - log(1 + median_j))
 *  + sum_{(s,t) in pairs} effect(s, t, row_s, row_t)`,
 * where `row_t` is the table row of C_t (0 = missing), each effect is uniform with mean 0 and a
 * per-column standard deviation in [0.15, 0.6), drawn from a seeded hash of its arguments (no
 * tables stored), and `a_j` is uniform in [-0.4, 0.4). The bias is set by the generator.
 */
export class PlantedModel {
  readonly #key: number;
  readonly #columnScale = new Float64Array(NUM_SPARSE);
  readonly #denseWeight = new Float64Array(NUM_DENSE);
  readonly #denseCenter = new Float64Array(NUM_DENSE);

  /** `key`: a 32-bit word derived from the seed. */
  constructor(key: number) {
    this.#key = key;
    for (let t = 0; t < NUM_SPARSE; t++) {
      this.#columnScale[t] = SQRT3 * (0.15 + 0.45 * (signedUnit(hash3(key, 0xc01, t)) * 0.5 + 0.5));
    }
    for (let j = 0; j < NUM_DENSE; j++) {
      this.#denseWeight[j] = DENSE_WEIGHT * signedUnit(hash3(key, 0xde5, j));
    }
    for (const [j, { median }] of DENSE_PROFILE.entries())
      this.#denseCenter[j] = Math.log1p(median);
  }

  /** The logit without bias for dense raw values `dense` and table rows `rows`. */
  logit(dense: Float64Array, rows: Int32Array): number {
    const key = this.#key;
    let z = 0;
    for (let t = 0; t < NUM_SPARSE; t++) {
      z += this.#columnScale[t]! * signedUnit(hash3(key, t, rows[t]!));
    }
    for (let j = 0; j < NUM_DENSE; j++) {
      const x = dense[j]!;
      z += this.#denseWeight[j]! * ((x > 0 ? Math.log1p(x) : 0) - this.#denseCenter[j]!);
    }
    for (let p = 0; p < INTERACTION_PAIRS.length; p++) {
      const [s, t] = INTERACTION_PAIRS[p]!;
      z += INTERACTION_SCALE * SQRT3 * signedUnit(hash3(key ^ (0x1000 + p), rows[s]!, rows[t]!));
    }
    return z;
  }
}

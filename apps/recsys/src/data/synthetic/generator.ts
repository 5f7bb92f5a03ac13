import { createRawRow, type RawRow } from '../raw-row.js';
import { NUM_DENSE, NUM_SPARSE } from '../schema.js';
import { ExampleRng, hash3, mix32 } from './hash.js';
import { PlantedModel } from './planted-model.js';
import {
  DEFAULT_CAP,
  DENSE_PROFILE,
  I2_NEGATIVE_RATE,
  SPARSE_MISSING,
  TARGET_CLICK_RATE,
  tableSizes,
  ZIPF_EXPONENT,
} from './profile.js';
import { ZipfSampler } from './zipf.js';

/** Examples drawn (from a reserved index range) to calibrate the intercept. */
const CALIBRATION_EXAMPLES = 8192;
/** Calibration examples use indices counting down from here, far from any real index. */
const CALIBRATION_BASE = Number.MAX_SAFE_INTEGER;

/** Calibrated intercepts by `seed:cap`, so that building a generator twice costs nothing. */
const biasCache = new Map<string, number>();

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** Options shared by the synthetic data producers. */
export interface SyntheticOptions {
  /** Seed (a non-negative safe integer): fixes the planted model and every example. */
  seed: number;
  /** Cap on each column's cardinality: table t has `min(kaggle_t, cap)` rows (default 100,000). */
  cap?: number;
}

/**
 * The built-in synthetic Criteo data. Example `i` is a pure function of (seed, cap, i):
 * dense counts log-normal with Kaggle-like medians and missing rates (I2 sometimes negative);
 * C_t empty with a Kaggle-like rate, else a Zipf(1.05) rank r in 1..rows_t - 1 written as the
 * 8-hex-digit value `r + rows_t * k` (k from a seeded hash of (t, r)), so that `value % rows_t = r`
 * and hashing with `tableSizes(cap)` recovers the row without collisions; the label is
 * Bernoulli(sigmoid(bias + {@link PlantedModel} logit)) with the bias calibrated on 8,192 reserved
 * examples to a click rate of 25%.
 */
export class SyntheticCriteo {
  /** Rows per table (`tableSizes(cap)`). */
  readonly tableSizes: readonly number[];
  /** The calibrated intercept of the planted model. */
  readonly bias: number;
  readonly #rng: ExampleRng;
  readonly #model: PlantedModel;
  readonly #zipf: ZipfSampler[];
  readonly #multipliers: Float64Array;
  readonly #key: number;
  readonly #rows = new Int32Array(NUM_SPARSE);

  constructor(options: SyntheticOptions) {
    const { seed } = options;
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`seed must be a non-negative safe integer, got ${String(seed)}`);
    }
    this.tableSizes = Object.freeze(tableSizes(options.cap ?? DEFAULT_CAP));
    this.#rng = new ExampleRng(seed);
    this.#key = hash3(seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0, 0x5eed);
    this.#model = new PlantedModel(mix32(this.#key ^ 0x70de1));
    this.#zipf = this.tableSizes.map((rows) => new ZipfSampler(rows - 1, ZIPF_EXPONENT));
    // Largest k with (rows - 1) + rows * k < 2^32.
    this.#multipliers = Float64Array.from(
      this.tableSizes,
      (rows) => Math.floor(2 ** 32 / rows) - 1,
    );
    const cacheKey = `${seed}:${this.tableSizes[2]}`;
    let bias = biasCache.get(cacheKey);
    if (bias === undefined) {
      bias = this.#calibrate();
      biasCache.set(cacheKey, bias);
    }
    this.bias = bias;
  }

  #calibrate(): number {
    const row = createRawRow();
    const z = new Float64Array(CALIBRATION_EXAMPLES);
    for (let m = 0; m < CALIBRATION_EXAMPLES; m++) {
      z[m] = this.#features(CALIBRATION_BASE - m, row);
    }
    let lo = -20;
    let hi = 20;
    for (let it = 0; it < 60; it++) {
      const mid = (lo + hi) / 2;
      let sum = 0;
      for (let m = 0; m < z.length; m++) sum += sigmoid(mid + z[m]!);
      if (sum / z.length > TARGET_CLICK_RATE) hi = mid;
      else lo = mid;
    }
    return (lo + hi) / 2;
  }

  /** Fills the features of example `index` into `row`; returns the logit without bias. */
  #features(index: number, row: RawRow): number {
    const rng = this.#rng;
    rng.reset(index);
    for (let j = 0; j < NUM_DENSE; j++) {
      const p = DENSE_PROFILE[j]!;
      if (p.missing > 0 && rng.nextOpenUnit() < p.missing) {
        row.dense[j] = 0;
        row.denseMissing[j] = 1;
        continue;
      }
      let x = Math.round(Math.exp(Math.log1p(p.median) + p.sigma * rng.nextGaussian())) - 1;
      if (x < 0) x = 0;
      if (j === 1 && rng.nextOpenUnit() < I2_NEGATIVE_RATE) {
        x = -1 - (rng.nextUint32() % 10 === 0 ? 1 + (rng.nextUint32() & 1) : 0);
      }
      row.dense[j] = x;
      row.denseMissing[j] = 0;
    }
    const rows = this.#rows;
    for (let t = 0; t < NUM_SPARSE; t++) {
      const missing = SPARSE_MISSING[t]!;
      if (missing > 0 && rng.nextOpenUnit() < missing) {
        rows[t] = 0;
        row.sparse[t] = 0;
        row.sparseMissing[t] = 1;
        continue;
      }
      const r = this.#zipf[t]!.sample(rng);
      rows[t] = r;
      row.sparse[t] = r + this.tableSizes[t]! * (hash3(this.#key, t, r) % this.#multipliers[t]!);
      row.sparseMissing[t] = 0;
    }
    return this.#model.logit(row.dense, rows);
  }

  /**
   * Fills example `index` (a non-negative safe integer) into `row` and returns its click
   * probability under the planted model.
   */
  fillRow(index: number, row: RawRow): number {
    const p = sigmoid(this.bias + this.#features(index, row));
    row.label = this.#rng.nextOpenUnit() < p ? 1 : 0;
    return p;
  }
}

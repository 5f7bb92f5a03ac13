import type { ExampleRng } from './hash.js';

function helper1(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

function helper2(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + (x / 3) * (1 + 0.25 * x));
}

/**
 * Zipf sampler over ranks 1..n with P(k) proportional to k^-exponent, by rejection-inversion
 * (Hörmann and Derflinger 1996, as in Apache Commons RNG's `RejectionInversionZipfSampler`): O(1)
 * memory and expected O(1) time for any n, so tables of millions of rows cost nothing to set up.
 */
export class ZipfSampler {
  readonly #n: number;
  readonly #s: number;
  readonly #hIntegralX1: number;
  readonly #hIntegralN: number;
  readonly #sTerm: number;

  /** `n`: number of ranks (a positive integer); `exponent`: a positive number. */
  constructor(n: number, exponent: number) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`n must be a positive integer, got ${n}`);
    if (!(exponent > 0)) throw new RangeError(`exponent must be positive, got ${exponent}`);
    this.#n = n;
    this.#s = exponent;
    this.#hIntegralX1 = this.#hIntegral(1.5) - 1;
    this.#hIntegralN = this.#hIntegral(n + 0.5);
    this.#sTerm = 2 - this.#hIntegralInverse(this.#hIntegral(2.5) - this.#h(2));
  }

  #hIntegral(x: number): number {
    const logX = Math.log(x);
    return helper2((1 - this.#s) * logX) * logX;
  }

  #h(x: number): number {
    return Math.exp(-this.#s * Math.log(x));
  }

  #hIntegralInverse(x: number): number {
    let t = x * (1 - this.#s);
    if (t < -1) t = -1;
    return Math.exp(helper1(t) * x);
  }

  /** A rank in 1..n drawn with the random words of `rng`. */
  sample(rng: ExampleRng): number {
    const n = this.#n;
    if (n === 1) return 1;
    for (;;) {
      const u = this.#hIntegralN + rng.nextOpenUnit() * (this.#hIntegralX1 - this.#hIntegralN);
      const x = this.#hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > n) k = n;
      if (k - x <= this.#sTerm || u >= this.#hIntegral(k + 0.5) - this.#h(k)) return k;
    }
  }
}

/**
 * The `lowbias32` integer hash (Chris Wellons' hash-prospector): a bijection on 32-bit words with
 * good avalanche, returned as an unsigned integer.
 */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A hash of three 32-bit words (order matters), unsigned. */
export function hash3(a: number, b: number, c: number): number {
  return mix32(mix32(mix32(a ^ 0x6a09e667) ^ b) + Math.imul(c ^ 0xbb67ae85, 0x9e3779b9));
}

/** `hash` mapped to a float in [-1, 1). */
export function signedUnit(hash: number): number {
  return hash * 2 ** -31 - 1;
}

/**
 * The random words of one synthetic example: word `k` of example `i` is a pure function of
 * (seed, i, k) — a Weyl sequence keyed by a hash of (seed, i), passed through {@link mix32} twice.
 * Any example can be generated on its own, in any order, with the same result.
 */
export class ExampleRng {
  #key = 0;
  #counter = 0;
  readonly #seedLo: number;
  readonly #seedHi: number;

  /** `seed`: a non-negative safe integer. */
  constructor(seed: number) {
    this.#seedLo = seed >>> 0;
    this.#seedHi = Math.floor(seed / 2 ** 32) >>> 0;
  }

  /** Positions the stream at word 0 of example `index` (a non-negative safe integer). */
  reset(index: number): void {
    const lo = index >>> 0;
    const hi = Math.floor(index / 2 ** 32) >>> 0;
    this.#key = hash3(this.#seedLo, this.#seedHi ^ hi, lo);
    this.#counter = 0;
  }

  /** The next word, an integer in [0, 2^32). */
  nextUint32(): number {
    this.#counter = (this.#counter + 0x9e3779b9) | 0;
    return mix32(mix32(this.#counter ^ this.#key) + this.#key);
  }

  /** A float in (0, 1): 32 random bits, offset by half a step so that 0 never occurs. */
  nextOpenUnit(): number {
    return (this.nextUint32() + 0.5) * 2 ** -32;
  }

  /** A standard normal draw (Box-Muller, cosine branch; two words). */
  nextGaussian(): number {
    const u = this.nextOpenUnit();
    const v = this.nextOpenUnit();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

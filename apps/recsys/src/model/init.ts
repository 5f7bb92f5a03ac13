import { createEngine, type RandomEngine } from '@halfstep/rng';

/** A seeded stream of uniform and normal variates (xoshiro128++ seeded through splitmix64). */
export class InitRandom {
  readonly #engine: RandomEngine;
  readonly #words = new Uint32Array(4096);
  #next = 4096;
  #spare = Number.NaN;

  constructor(seed: number | bigint) {
    this.#engine = createEngine('xoshiro128++', seed);
  }

  /** A float64 in (0, 1): (word + 0.5) / 2^32 of the next 32-bit word. */
  uniform01(): number {
    if (this.#next === this.#words.length) {
      this.#engine.fillUint32(this.#words);
      this.#next = 0;
    }
    return (this.#words[this.#next++]! + 0.5) / 4294967296;
  }

  /** A standard normal variate (Box-Muller on two `uniform01` draws, the second one kept). */
  normal(): number {
    if (!Number.isNaN(this.#spare)) {
      const z = this.#spare;
      this.#spare = Number.NaN;
      return z;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform01()));
    const theta = 2 * Math.PI * this.uniform01();
    this.#spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Fills `out` with normal(0, std) variates, rounded to float32. */
  fillNormal(out: Float32Array, std: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = std * this.normal();
    return out;
  }

  /** Fills `out` with uniform(-bound, bound) variates, rounded to float32. */
  fillUniform(out: Float32Array, bound: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = bound * (2 * this.uniform01() - 1);
    return out;
  }
}

/**
 * A 64-bit seed for one purpose of one run: splitmix64-style mixing of (seed, stream), so that
 * the dense layers, each table's init and each table's rounding bits draw from unrelated streams.
 */
export function deriveSeed(seed: number, stream: number): bigint {
  const mask = (1n << 64n) - 1n;
  let z = (BigInt(seed) * 0x9e3779b97f4a7c15n + BigInt(stream) * 0xd1b54a32d192ed03n) & mask;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
  return z ^ (z >> 31n);
}

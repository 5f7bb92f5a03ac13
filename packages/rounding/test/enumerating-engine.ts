import { elementsPerWord } from '../src/index.js';

/**
 * A fake stream engine for exact expectations: with `bits` = k, element e of the strategy's
 * element sequence gets the random value r = e mod 2^k (packed as the strategy documents: slot s of
 * a word holds bits [32 - k(s+1), 32 - ks)). Encoding 2^k consecutive copies of x therefore sees
 * every r exactly once, and the share of round-ups is P(up) exactly.
 */
export class EnumeratingEngine {
  #element = 0;
  readonly #bits: number;
  readonly #perWord: number;

  constructor(bits: number) {
    this.#bits = bits;
    this.#perWord = elementsPerWord(bits);
  }

  fillUint32(out: Uint32Array): Uint32Array {
    const k = this.#bits;
    const period = 2 ** k;
    for (let w = 0; w < out.length; w++) {
      let word = 0;
      for (let s = 0; s < this.#perWord; s++) {
        const r = this.#element++ % period;
        word += r * 2 ** (32 - k * (s + 1));
      }
      out[w] = word;
    }
    return out;
  }
}

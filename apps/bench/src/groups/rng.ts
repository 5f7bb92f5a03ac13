import { webcrypto } from 'node:crypto';
import { createEngine, createPhilox } from '@halfstep/rng';
import { mersenne } from 'pure-rand/generator/mersenne';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { xorshift128plus } from 'pure-rand/generator/xorshift128plus';
import type { BenchGroup, LocalRow } from '../harness.js';

/** Words per run: every row fills a buffer of this many 32-bit words. */
const WORDS = 64 * 1024;
/** crypto.getRandomValues refuses more than 65,536 bytes per call. */
const CRYPTO_CHUNK_WORDS = 16 * 1024;

/** A row that fills the buffer with `fillUint32` of a halfstep engine. */
function engineRow(name: string, engine: { fillUint32(out: Uint32Array): Uint32Array }): LocalRow {
  const out = new Uint32Array(WORDS);
  return { name, items: WORDS, run: () => engine.fillUint32(out) };
}

/** A row that fills the buffer by calling a pure-rand generator's `next()` once per word. */
function pureRandRow(name: string, generator: { next(): number }): LocalRow {
  const out = new Uint32Array(WORDS);
  return {
    name,
    items: WORDS,
    run: () => {
      for (let i = 0; i < out.length; i++) out[i] = generator.next();
      return out;
    },
  };
}

/** Random 32-bit words: halfstep engines against pure-rand, Math.random and WebCrypto. */
export const rngGroup: BenchGroup = {
  name: 'rng',
  tables() {
    const mathRandomOut = new Uint32Array(WORDS);
    const cryptoOut = new Uint32Array(WORDS);
    return [
      {
        title: `fill ${WORDS} uint32 words`,
        unit: 'words',
        baseline: 'pure-rand xorshift128plus next()',
        rows: [
          engineRow('halfstep xorshift32 fillUint32', createEngine('xorshift32', 42)),
          engineRow('halfstep xorshift128 fillUint32', createEngine('xorshift128', 42)),
          engineRow('halfstep xorshift128+ fillUint32', createEngine('xorshift128+', 42)),
          engineRow('halfstep xoshiro128++ fillUint32', createEngine('xoshiro128++', 42)),
          engineRow('halfstep philox4x32-10 fillUint32', createPhilox(42)),
          engineRow('halfstep philox4x32-7 fillUint32', createPhilox(42, { rounds: 7 })),
          engineRow('halfstep pcg-hash fillUint32', createEngine('pcg-hash', 42)),
          pureRandRow('pure-rand xorshift128plus next()', xorshift128plus(42)),
          pureRandRow('pure-rand xoroshiro128plus next()', xoroshiro128plus(42)),
          pureRandRow('pure-rand mersenne next()', mersenne(42)),
          {
            name: 'Math.random',
            items: WORDS,
            run: () => {
              for (let i = 0; i < mathRandomOut.length; i++) {
                mathRandomOut[i] = (Math.random() * 2 ** 32) >>> 0;
              }
              return mathRandomOut;
            },
          },
          {
            name: 'crypto.getRandomValues (64 KiB chunks)',
            items: WORDS,
            run: () => {
              for (let i = 0; i < WORDS; i += CRYPTO_CHUNK_WORDS) {
                webcrypto.getRandomValues(cryptoOut.subarray(i, i + CRYPTO_CHUNK_WORDS));
              }
              return cryptoOut;
            },
          },
        ],
      },
    ];
  },
};

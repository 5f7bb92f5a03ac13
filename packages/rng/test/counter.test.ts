import { describe, expect, it } from 'vitest';
import type { CounterEngine } from '../src/index.js';
import { createEngine, createPhilox, pcgHash, philox4x32 } from '../src/index.js';
import { testInputs } from './helpers.js';

/** Word w of a Philox stream from the raw block function: lane w % 4 of block w >> 2. */
function philoxWord(key: readonly number[], w: bigint, rounds: number): number {
  const block = w >> 2n;
  const counter = [0n, 32n, 64n, 96n].map((shift) => Number((block >> shift) & 0xffffffffn));
  return philox4x32(counter, key, rounds)[Number(w & 3n)]!;
}

const counterEngines: [string, () => CounterEngine, bigint][] = [
  ['philox4x32-10', () => createPhilox(0x0123456789abcdefn), 1n << 130n],
  ['philox4x32-7', () => createPhilox(99, { rounds: 7 }), 1n << 130n],
  ['pcg-hash', () => createEngine('pcg-hash', 0xfeedn), 1n << 64n],
];

describe.each(counterEngines)('%s fillAt', (_name, make, space) => {
  it('out[i] depends only on start + i (any start, length, alignment)', () => {
    const engine = make();
    const next = testInputs(17);
    const reference = engine.fillAt(1000, new Uint32Array(200));
    for (let trial = 0; trial < 200; trial++) {
      const start = next() % 150;
      const length = next() % (200 - start - 1);
      const got = engine.fillAt(1000 + start, new Uint32Array(length));
      expect(Array.from(got)).toEqual(Array.from(reference.subarray(start, start + length)));
      // Same through the bigint path.
      expect(Array.from(engine.fillAt(BigInt(1000 + start), new Uint32Array(length)))).toEqual(
        Array.from(got),
      );
    }
  });

  it('ignores and keeps the engine position; nextUint32 at position p equals fillAt(p)', () => {
    const engine = make();
    engine.fillUint32(new Uint32Array(13));
    expect(engine.position).toBe(13n);
    const ahead = engine.fillAt(13, new Uint32Array(40));
    engine.fillAt(5, new Uint32Array(7));
    expect(engine.position).toBe(13n);
    expect(Array.from({ length: 40 }, () => engine.nextUint32())).toEqual(Array.from(ahead));
    engine.seek(2n ** 40n + 3n);
    expect(engine.nextUint32()).toBe(engine.fillAt(2 ** 40 + 3, new Uint32Array(1))[0]);
  });

  it('carries across 32-bit boundaries of the counter and wraps at the end of the space', () => {
    const engine = make();
    for (const boundary of [2n ** 32n, 2n ** 34n, 2n ** 64n, 2n ** 66n, 2n ** 96n, 2n ** 128n]) {
      if (boundary >= space) continue;
      const across = engine.fillAt(boundary - 5n, new Uint32Array(10));
      const after = engine.fillAt(boundary, new Uint32Array(5));
      expect(Array.from(across.subarray(5))).toEqual(Array.from(after));
    }
    const last = engine.fillAt(space - 2n, new Uint32Array(4));
    expect(Array.from(last.subarray(2))).toEqual(Array.from(engine.fillAt(0, new Uint32Array(2))));
    engine.seek(space - 1n);
    engine.nextUint32();
    expect(engine.position).toBe(0n);
  });

  it('rejects bad starts, naming the argument', () => {
    const engine = make();
    expect(() => engine.fillAt(-1, new Uint32Array(1))).toThrow(/start/);
    expect(() => engine.fillAt(1.5, new Uint32Array(1))).toThrow(RangeError);
    expect(() => engine.fillAt(space, new Uint32Array(1))).toThrow(/start must lie in/);
    expect(() => engine.fillAt('0' as unknown as number, new Uint32Array(1))).toThrow(TypeError);
    expect(() => engine.seek(-1n)).toThrow(/word/);
  });
});

describe('philox fillAt against the raw block function', () => {
  it('word w is lane w % 4 of block w >> 2, keyed by [seed low, seed high], incl. high counter bits', () => {
    const seed = 0xa4093822299f31d0n;
    const key = [0x299f31d0, 0xa4093822];
    for (const rounds of [7, 10] as const) {
      const engine = createPhilox(seed, { rounds });
      expect(engine.key).toEqual(key);
      const next = testInputs(rounds);
      for (let trial = 0; trial < 50; trial++) {
        const start =
          (BigInt(next()) << 98n) |
          (BigInt(next()) << 60n) |
          (BigInt(next()) << 20n) |
          BigInt(next() & 0xfffff);
        const out = engine.fillAt(start, new Uint32Array(11));
        for (let i = 0; i < out.length; i++)
          expect(out[i]).toBe(philoxWord(key, start + BigInt(i), rounds));
      }
    }
  });
});

describe('pcg-hash', () => {
  it('pcgHash matches the published function (Jarzynski & Olano 2020), computed with BigInt', () => {
    const reference = (x: number) => {
      const m = (a: bigint) => a & 0xffffffffn;
      const state = m(BigInt(x) * 747796405n + 2891336453n);
      const word = m(((state >> ((state >> 28n) + 4n)) ^ state) * 277803737n);
      return Number((word >> 22n) ^ word);
    };
    const next = testInputs(3);
    for (const x of [0, 1, 0xffffffff, 0x80000000]) expect(pcgHash(x)).toBe(reference(x));
    for (let i = 0; i < 10_000; i++) {
      const x = next();
      expect(pcgHash(x)).toBe(reference(x));
    }
  });

  it('stream words are pcgHash(low + salt(key, high)) as documented', () => {
    const engine = createEngine('pcg-hash', (7n << 32n) | 5n);
    const salt = (high: number) => pcgHash(pcgHash(pcgHash(high) ^ 7) ^ 5);
    const out = engine.fillAt((3n << 32n) | 10n, new Uint32Array(3));
    expect(Array.from(out)).toEqual([10, 11, 12].map((low) => pcgHash((low + salt(3)) >>> 0)));
  });
});

import { describe, expect, it } from 'vitest';
import { createPhilox, philox4x32 } from '../src/index.js';
import { mulhi32 } from '../src/philox.js';
import { readFixture, testInputs } from './helpers.js';

interface Kat {
  rounds: number;
  counter: number[];
  key: number[];
  expected: number[];
}

const kats: Kat[] = readFixture('random123-philox4x32-kat.txt')
  .split('\n')
  .filter((line) => line.startsWith('philox4x32 '))
  .map((line) => {
    const fields = line.trim().split(/\s+/);
    const words = fields.slice(2).map((hex) => Number.parseInt(hex, 16));
    return {
      rounds: Number(fields[1]),
      counter: words.slice(0, 4),
      key: words.slice(4, 6),
      expected: words.slice(6, 10),
    };
  });

describe('philox4x32 block function', () => {
  it('has the 6 Random123 vectors (7 and 10 rounds)', () => {
    expect(kats).toHaveLength(6);
    expect(kats.filter((kat) => kat.rounds === 7)).toHaveLength(3);
  });

  it.each(kats)(
    'matches Random123 KAT: $rounds rounds, counter $counter',
    ({ rounds, counter, key, expected }) => {
      expect(Array.from(philox4x32(counter, key, rounds))).toEqual(expected);
    },
  );

  it('engine fillAt(4 * c) reproduces the KAT when the counter is a block index', () => {
    for (const { rounds, counter, key, expected } of kats) {
      const seed = (BigInt(key[1]!) << 32n) | BigInt(key[0]!);
      const engine = createPhilox(seed, { rounds: rounds as 7 | 10 });
      const block =
        BigInt(counter[0]!) |
        (BigInt(counter[1]!) << 32n) |
        (BigInt(counter[2]!) << 64n) |
        (BigInt(counter[3]!) << 96n);
      expect(Array.from(engine.fillAt(block * 4n, new Uint32Array(4)))).toEqual(expected);
      expect(engine.key).toEqual(key);
    }
  });

  it('rejects counters and keys of the wrong size, and bad words', () => {
    expect(() => philox4x32([0, 0, 0], [0, 0])).toThrow(/counter must have exactly 4 words/);
    expect(() => philox4x32([0, 0, 0, 0], [0])).toThrow(/key must have exactly 2 words/);
    expect(() => philox4x32([0, 0, 0, 2 ** 32], [0, 0])).toThrow(RangeError);
    expect(() => philox4x32([0, 0, 0, -1], [0, 0])).toThrow(/counter\[3\]/);
    expect(() => philox4x32([0, 0, 0, 0], [0, 0], 0)).toThrow(/rounds/);
    expect(() => philox4x32(null as unknown as number[], [0, 0])).toThrow(TypeError);
  });
});

describe('mulhi32', () => {
  const reference = (a: number, b: number) => Number((BigInt(a) * BigInt(b)) >> 32n);

  it('is exact on edge cases', () => {
    const edges = [
      0, 1, 2, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xd2511f53,
      0xcd9e8d57,
    ];
    for (const a of edges) for (const b of edges) expect(mulhi32(a, b)).toBe(reference(a, b));
  });

  it('is exact on 200,000 pseudo-random pairs', () => {
    const next = testInputs(12345);
    for (let i = 0; i < 200_000; i++) {
      const a = next();
      const b = next();
      if (mulhi32(a, b) !== reference(a, b))
        expect([a, b, mulhi32(a, b)]).toEqual([a, b, reference(a, b)]);
    }
  });
});

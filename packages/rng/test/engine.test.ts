import { describe, expect, it } from 'vitest';
import type { EngineName, JumpableEngine, StreamEngine } from '../src/index.js';
import { createEngine, createPhilox, ENGINE_NAMES, restoreEngine } from '../src/index.js';
import { testInputs } from './helpers.js';

const streamNames = ['xorshift32', 'xorshift128', 'xorshift128+', 'xoshiro128++'] as const;
const jumpableNames = ['xorshift128', 'xorshift128+', 'xoshiro128++'] as const;

describe.each(ENGINE_NAMES)('%s', (name: EngineName) => {
  it('fillUint32 gives the same words as repeated nextUint32, for any split of the stream', () => {
    const next = testInputs(99);
    for (let trial = 0; trial < 20; trial++) {
      const seed = next();
      const a = createEngine(name, seed);
      const b = createEngine(name, seed);
      const expected = Array.from({ length: 300 }, () => a.nextUint32());
      const got: number[] = [];
      while (got.length < 300) {
        const size = Math.min(300 - got.length, next() % 23);
        if (next() & 1) got.push(b.nextUint32());
        else got.push(...b.fillUint32(new Uint32Array(size)));
      }
      expect(got).toEqual(expected);
    }
  });

  it('snapshot/restore (through JSON) resumes the exact stream at any point', () => {
    const next = testInputs(5);
    for (let trial = 0; trial < 20; trial++) {
      const engine = createEngine(name, BigInt(next()) << 20n);
      engine.fillUint32(new Uint32Array(next() % 50));
      const saved = JSON.parse(JSON.stringify(engine.snapshot()));
      const expected = Array.from(engine.fillUint32(new Uint32Array(64)));
      expect(Array.from(restoreEngine(saved).fillUint32(new Uint32Array(64)))).toEqual(expected);
      const other = createEngine(name, 777);
      other.restore(saved);
      expect(Array.from(other.fillUint32(new Uint32Array(64)))).toEqual(expected);
      const copy = other.clone();
      expect(copy.nextUint32()).toBe(other.nextUint32());
    }
  });

  it('is deterministic in the seed, and different seeds give different streams', () => {
    const words = (seed: number | bigint) =>
      Array.from(createEngine(name, seed).fillUint32(new Uint32Array(8)));
    expect(words(3)).toEqual(words(3n));
    expect(words(3)).not.toEqual(words(4));
    expect(words(-1)).toEqual(words(2n ** 64n - 1n));
  });

  it('seed 0 gives a lively stream (not stuck at zero, many distinct words)', () => {
    const out = createEngine(name, 0).fillUint32(new Uint32Array(1000));
    expect(new Set(out).size).toBeGreaterThan(990);
  });

  it('nextFloat is k * 2^-24 in [0, 1), from the top 24 bits of the next word', () => {
    const a = createEngine(name, 11);
    const b = createEngine(name, 11);
    for (let i = 0; i < 1000; i++) {
      const f = a.nextFloat();
      expect(f).toBe((b.nextUint32() >>> 8) / 2 ** 24);
      expect(f >= 0 && f < 1).toBe(true);
      expect(Math.fround(f)).toBe(f);
    }
  });

  it('rejects a snapshot of another engine or of the wrong size', () => {
    const engine = createEngine(name, 1);
    const other = ENGINE_NAMES.find((n) => n !== name)!;
    expect(() => engine.restore({ name: other, words: [] })).toThrow(/expected/);
    expect(() => engine.restore({ name, words: [1, 2, 3, 4, 5, 6, 7, 8, 9] })).toThrow(
      /snapshot.words/,
    );
    expect(() => engine.restore({ name, words: engine.snapshot().words.map(() => -1) })).toThrow(
      RangeError,
    );
  });
});

describe('stream engines', () => {
  it.each(streamNames)('%s rejects an all-zero snapshot', (name) => {
    const length = name === 'xorshift32' ? 1 : 4;
    expect(() => restoreEngine({ name, words: new Array(length).fill(0) })).toThrow(/all zero/);
  });

  it.each(streamNames)(
    '%s split() advances the parent by 2 words and seeds the child from them',
    (name) => {
      const parent = createEngine(name, 123) as StreamEngine;
      const witness = createEngine(name, 123);
      const low = witness.nextUint32();
      const high = witness.nextUint32();
      const child = parent.split();
      expect(child.name).toBe(name);
      expect(parent.nextUint32()).toBe(witness.nextUint32());
      const expectedChild = createEngine(name, (BigInt(high) << 32n) | BigInt(low));
      expect(Array.from(child.fillUint32(new Uint32Array(16)))).toEqual(
        Array.from(expectedChild.fillUint32(new Uint32Array(16))),
      );
    },
  );

  it.each(jumpableNames)(
    '%s jump() is linear: jump(a ^ b) = jump(a) ^ jump(b), and lands elsewhere',
    (name) => {
      const next = testInputs(31);
      for (let trial = 0; trial < 10; trial++) {
        const a = [next(), next(), next(), next()];
        const b = [next(), next(), next(), next()];
        const jumped = (words: number[]) => {
          const engine = restoreEngine({ name, words }) as JumpableEngine;
          engine.jump();
          return engine.snapshot().words;
        };
        const xor = a.map((w, i) => (w ^ b[i]!) >>> 0);
        const ja = jumped(a);
        const jb = jumped(b);
        expect(jumped(xor)).toEqual(ja.map((w, i) => (w ^ jb[i]!) >>> 0));
        expect(ja).not.toEqual(a);
      }
    },
  );

  it('jump() commutes with stepping (same as stepping, then jumping)', () => {
    for (const name of jumpableNames) {
      const a = createEngine(name, 8) as JumpableEngine;
      const b = createEngine(name, 8) as JumpableEngine;
      a.fillUint32(new Uint32Array(37));
      a.jump();
      b.jump();
      b.fillUint32(new Uint32Array(37));
      expect(a.snapshot()).toEqual(b.snapshot());
    }
  });
});

describe('bad input', () => {
  it('rejects non-integer, non-finite and out-of-range seeds, naming the argument', () => {
    for (const seed of [0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 64, -(2 ** 64)]) {
      expect(() => createEngine('xoshiro128++', seed)).toThrow(RangeError);
      expect(() => createEngine('xoshiro128++', seed)).toThrow(/seed/);
    }
    expect(() => createEngine('philox4x32-10', 2n ** 64n)).toThrow(/seed must lie in/);
    expect(() => createEngine('xorshift32', '1' as unknown as number)).toThrow(TypeError);
    expect(() => createPhilox(1.5)).toThrow(/seed/);
  });

  it('rejects an unknown engine name, listing the known ones', () => {
    expect(() => createEngine('mt19937' as EngineName, 1)).toThrow(RangeError);
    expect(() => createEngine('mt19937' as EngineName, 1)).toThrow(
      /name must be one of xorshift32/,
    );
    expect(() => createEngine('toString' as EngineName, 1)).toThrow(/name must be one of/);
    expect(() => restoreEngine({ name: 'nope' as EngineName, words: [] })).toThrow(
      /name must be one of/,
    );
    expect(() => createPhilox(1, { rounds: 8 as 7 })).toThrow(/rounds/);
  });
});

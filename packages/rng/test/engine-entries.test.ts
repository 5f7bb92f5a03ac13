import { describe, expect, it } from 'vitest';
import { createPcgHash as pcgFromEntry } from '../src/engines/pcg-hash.js';
import { philox4x32, createPhilox as philoxFromEntry } from '../src/engines/philox.js';
import {
  createXorshift32 as x32FromEntry,
  createXorshift128Plus as x128pFromEntry,
} from '../src/engines/xorshift.js';
import { createXoshiro128PlusPlus as xoshiroFromEntry } from '../src/engines/xoshiro.js';
import {
  createEngine,
  createPcgHash,
  createPhilox,
  createXorshift32,
  createXorshift128,
  createXorshift128Plus,
  createXoshiro128PlusPlus,
  type EngineName,
  philox4x32 as philoxBlock,
  type RandomEngine,
} from '../src/index.js';

const FACTORIES: Record<EngineName, (seed: number | bigint) => RandomEngine> = {
  xorshift32: createXorshift32,
  xorshift128: createXorshift128,
  'xorshift128+': createXorshift128Plus,
  'xoshiro128++': createXoshiro128PlusPlus,
  'philox4x32-10': (seed) => createPhilox(seed),
  'philox4x32-7': (seed) => createPhilox(seed, { rounds: 7 }),
  'pcg-hash': createPcgHash,
};

describe('one factory per engine (the per-engine entries)', () => {
  for (const [name, factory] of Object.entries(FACTORIES) as [EngineName, typeof createPcgHash][]) {
    it(`${name}: the stream of createEngine('${name}', seed), for every kind of seed`, () => {
      for (const seed of [0, 1, 42, -1, 2 ** 53 - 1, 0xffff_ffff_ffff_ffffn, -(2n ** 63n)]) {
        const alone = factory(seed);
        const named = createEngine(name, seed);
        expect(alone.name).toBe(name);
        expect(alone.snapshot()).toEqual(named.snapshot());
        expect(alone.fillUint32(new Uint32Array(37))).toEqual(
          named.fillUint32(new Uint32Array(37)),
        );
      }
    });
  }

  it('the entries export the same functions as the package', () => {
    expect(x32FromEntry).toBe(createXorshift32);
    expect(x128pFromEntry).toBe(createXorshift128Plus);
    expect(xoshiroFromEntry).toBe(createXoshiro128PlusPlus);
    expect(philoxFromEntry).toBe(createPhilox);
    expect(pcgFromEntry).toBe(createPcgHash);
    expect(philox4x32).toBe(philoxBlock);
  });

  it('refuse bad seeds like createEngine, naming the factory', () => {
    expect(() => createXoshiro128PlusPlus(1.5)).toThrow(
      /createXoshiro128PlusPlus: seed must be a finite integer/,
    );
    expect(() => createXorshift32('1' as unknown as number)).toThrow(TypeError);
    expect(() => createPcgHash(2n ** 64n)).toThrow(RangeError);
  });

  it('restore a snapshot of the same engine', () => {
    const rng = createXorshift128(5);
    rng.fillUint32(new Uint32Array(3));
    const copy = createXorshift128(0);
    copy.restore(rng.snapshot());
    expect(copy.fillUint32(new Uint32Array(8))).toEqual(rng.fillUint32(new Uint32Array(8)));
  });
});

import { createEngine, createPhilox, type RandomEngine } from '@halfstep/rng';
import { describe, expect, it } from 'vitest';
import { WasmRandom } from '../src/index.js';
import { BUILDS, firstDifference, kernels, LENGTHS } from './helpers.js';

describe.each(BUILDS)('WasmRandom (%s build)', (build) => {
  it.each(['xorshift128+', 'xoshiro128++', 'philox4x32-10', 'philox4x32-7'] as const)(
    '%s fill continues the stream exactly like fillUint32, across calls of every length',
    async (name) => {
      const random = new WasmRandom(await kernels(build));
      for (const seed of [0, 1, 2n ** 64n - 1n]) {
        const js = createEngine(name, seed);
        const wasm: RandomEngine = createEngine(name, seed);
        for (const n of [...LENGTHS, 200_003]) {
          const expected = js.fillUint32(new Uint32Array(n));
          const ours = random.fill(wasm, new Uint32Array(n));
          expect(firstDifference(ours, expected), `${name} seed ${seed} length ${n}`).toBe(-1);
        }
        expect(wasm.snapshot()).toEqual(js.snapshot());
      }
    },
  );

  it('philox fillAt matches rng at any word index, counter carries and wrap-around included', async () => {
    const random = new WasmRandom(await kernels(build));
    const starts = [
      0n,
      1n,
      3n,
      5n,
      2n ** 32n * 4n - 7n,
      2n ** 64n * 4n - 9n,
      2n ** 96n * 4n - 13n,
      2n ** 130n - 5n,
    ];
    for (const rounds of [10, 7] as const) {
      const engine = createPhilox(0xdeadbeefcafen, { rounds });
      for (const start of starts) {
        for (const n of [0, 1, 4, 17, 64, 1001]) {
          const expected = engine.fillAt(start, new Uint32Array(n));
          expect(
            firstDifference(random.fillAt(engine, start, new Uint32Array(n)), expected),
            `${start} ${n}`,
          ).toBe(-1);
        }
      }
      expect(
        firstDifference(
          random.fillAt(engine, 12, new Uint32Array(70_000)),
          engine.fillAt(12, new Uint32Array(70_000)),
        ),
      ).toBe(-1);
    }
  });

  it('rejects engines without a WASM fill and bad word indices like rng', async () => {
    const random = new WasmRandom(await kernels(build));
    expect(() => random.fill(createEngine('xorshift32', 1), new Uint32Array(4))).toThrow(TypeError);
    const engine = createPhilox(1);
    for (const start of [-1, 1.5, 2n ** 130n]) {
      let expected: unknown;
      try {
        engine.fillAt(start, new Uint32Array(1));
      } catch (error) {
        expected = error;
      }
      expect(() => random.fillAt(engine, start, new Uint32Array(1))).toThrow(expected as Error);
    }
  });
});

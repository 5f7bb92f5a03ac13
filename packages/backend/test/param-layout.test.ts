import { describe, expect, it } from 'vitest';
import { defineParamLayout } from '../src/index.js';

describe('defineParamLayout', () => {
  const layout = defineParamLayout(
    'demo',
    [
      ['count', 'u32'],
      ['offset', 'i32'],
      ['learningRate', 'f32'],
    ],
    { words: 8 },
  );

  it('numbers the words in declaration order and writes each by its type', () => {
    expect(layout.slots).toEqual({ count: 0, offset: 1, learningRate: 2 });
    expect(layout.words).toBe(8);
    const block = new Uint32Array(10);
    layout.write(block, 2, { count: 2 ** 32 - 1, offset: -3, learningRate: 0.1 });
    expect(block[2]).toBe(0xffffffff);
    expect(block[3]).toBe(0xfffffffd); // -3 as two's complement
    // float32 0.1 = 0x3dcccccd (IEEE 754), not the float64 bits.
    expect(block[4]).toBe(0x3dcccccd);
    expect(block[0]).toBe(0);
    // block(): a new block of the layout's words, written at 0.
    const fresh = layout.block({ count: 7, offset: -1, learningRate: 0.1 });
    expect(fresh.length).toBe(8);
    expect([...fresh.subarray(0, 3)]).toEqual([7, 0xffffffff, 0x3dcccccd]);
  });

  it('generates the constants of the other languages from the same numbers', () => {
    expect(layout.wgsl('P')).toBe(
      'const P_COUNT: u32 = 0u;\nconst P_OFFSET: u32 = 1u;\nconst P_LEARNING_RATE: u32 = 2u;',
    );
    expect(layout.assemblyScript('P')).toBe(
      'export const P_COUNT: i32 = 0;\nexport const P_OFFSET: i32 = 1;\nexport const P_LEARNING_RATE: i32 = 2;',
    );
    expect(layout.lua('H')).toBe(
      'local H_COUNT = 1\nlocal H_OFFSET = 2\nlocal H_LEARNING_RATE = 3',
    );
  });

  it('rejects a missing or non-integer value, a repeated name and a block too small', () => {
    const block = new Uint32Array(8);
    expect(() =>
      layout.write(block, 0, { count: 1, offset: 1 } as unknown as Parameters<
        typeof layout.write
      >[2]),
    ).toThrow('demo: parameter "learningRate" must be a number, got undefined');
    expect(() => layout.write(block, 0, { count: 1.5, offset: 0, learningRate: 0 })).toThrow(
      'parameter "count" must be an integer, got 1.5',
    );
    expect(() =>
      defineParamLayout('twice', [
        ['a', 'u32'],
        ['a', 'f32'],
      ]),
    ).toThrow('parameter "a" is declared twice');
    expect(() =>
      defineParamLayout(
        'small',
        [
          ['a', 'u32'],
          ['b', 'u32'],
        ],
        { words: 1 },
      ),
    ).toThrow('2 parameters do not fit 1 words');
  });
});

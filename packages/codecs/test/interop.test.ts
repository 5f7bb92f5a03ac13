import { Float16Array } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { asFloat16Array, encode, float16Codes, nativeFloat16Array } from '../src/index.js';

describe('Float16Array interop', () => {
  it('views codes as a @petamoriken/float16 Float16Array without copying, both ways', () => {
    const codes = encode('float16', Float32Array.from([1, 0.5, -2, 65504]));
    const halves = asFloat16Array(codes, Float16Array);
    expect([...halves]).toEqual([1, 0.5, -2, 65504]);
    halves[0] = 3; // write through the peer array ...
    expect(codes[0]).toBe(0x4200); // ... and see it in our codes
    codes[1] = 0x3c00;
    expect(halves[1]).toBe(1);
    const back = float16Codes(halves);
    expect(back.buffer).toBe(codes.buffer);
    expect([...back]).toEqual([...codes]);
  });

  it('respects offsets into a shared buffer', () => {
    const codes = encode('float16', Float32Array.from([1, 2, 3, 4])).subarray(1, 3);
    const halves = asFloat16Array(codes, Float16Array);
    expect([...halves]).toEqual([2, 3]);
    expect([...float16Codes(halves)]).toEqual([0x4000, 0x4200]);
  });

  it('uses the native Float16Array when the runtime has one, and says so when it has none', () => {
    const native = nativeFloat16Array();
    const codes = Uint16Array.of(0x3c00);
    if (native) expect([...(asFloat16Array(codes) as unknown as Iterable<number>)]).toEqual([1]);
    else expect(() => asFloat16Array(codes)).toThrow(/no native Float16Array/);
    expect(() => asFloat16Array(new Uint8Array(2) as never, Float16Array)).toThrow(
      /codes: expected a Uint16Array/,
    );
    expect(() => float16Codes(null as never)).toThrow(TypeError);
  });
});

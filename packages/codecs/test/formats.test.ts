import { describe, expect, it } from 'vitest';
import { bfloat16, float8e4m3, float8e5m2, float16, formats, resolveFormat } from '../src/index.js';

// Published constants: IEEE 754-2008 (binary16), Google Brain bfloat16, OCP 8-bit FP spec v1.0.
describe('format constants', () => {
  it('float16 is IEEE binary16', () => {
    expect(float16).toMatchObject({ bits: 16, exponentBits: 5, mantissaBits: 10, bias: 15 });
    expect(float16.maxFinite).toBe(65504);
    expect(float16.minNormal).toBe(6.103515625e-5);
    expect(float16.minSubnormal).toBe(2 ** -24); // 5.96e-8
    expect(float16.epsilon).toBe(0.0009765625);
    expect([float16.maxFiniteCode, float16.nanCode, float16.signMask]).toEqual([
      0x7bff, 0x7e00, 0x8000,
    ]);
  });
  it('bfloat16 is the top half of float32', () => {
    expect(bfloat16).toMatchObject({
      exponentBits: 8,
      mantissaBits: 7,
      bias: 127,
      hasInfinity: true,
    });
    expect(bfloat16.maxFinite).toBe((2 - 2 ** -7) * 2 ** 127); // 3.3895313892515355e38
    expect(bfloat16.minNormal).toBe(2 ** -126);
    expect(bfloat16.minSubnormal).toBe(2 ** -133);
    expect([bfloat16.maxFiniteCode, bfloat16.nanCode]).toEqual([0x7f7f, 0x7fc0]);
  });
  it('float8e4m3 is OCP E4M3 (fn): no infinity, max 448', () => {
    expect(float8e4m3).toMatchObject({
      bits: 8,
      exponentBits: 4,
      mantissaBits: 3,
      bias: 7,
      hasInfinity: false,
    });
    expect(float8e4m3.maxFinite).toBe(448);
    expect(float8e4m3.minNormal).toBe(2 ** -6);
    expect(float8e4m3.minSubnormal).toBe(2 ** -9);
    expect([float8e4m3.maxFiniteCode, float8e4m3.nanCode]).toEqual([0x7e, 0x7f]);
  });
  it('float8e5m2 is OCP E5M2: IEEE specials, max 57344', () => {
    expect(float8e5m2).toMatchObject({
      exponentBits: 5,
      mantissaBits: 2,
      bias: 15,
      hasInfinity: true,
    });
    expect(float8e5m2.maxFinite).toBe(57344);
    expect(float8e5m2.minNormal).toBe(2 ** -14);
    expect(float8e5m2.minSubnormal).toBe(2 ** -16);
    expect([float8e5m2.maxFiniteCode, float8e5m2.nanCode]).toEqual([0x7b, 0x7e]);
  });
  it('resolves names and rejects unknown formats naming the argument', () => {
    for (const format of Object.values(formats)) {
      expect(resolveFormat(format.name)).toBe(format);
      expect(resolveFormat(format)).toBe(format);
    }
    expect(() => resolveFormat('float12' as never)).toThrow(TypeError);
    expect(() => resolveFormat('float12' as never)).toThrow(/format: unknown format "float12"/);
    expect(() => resolveFormat({ ...float16 })).toThrow(TypeError);
  });
});

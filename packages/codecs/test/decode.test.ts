import { getFloat16 } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { decode, decodeScalar, formats } from '../src/index.js';
import { specs, textbookValue } from './oracle.js';

const allCodes = (bits: 16 | 8) =>
  bits === 16
    ? Uint16Array.from({ length: 65536 }, (_, i) => i)
    : Uint8Array.from({ length: 256 }, (_, i) => i);

describe('decode', () => {
  for (const spec of specs) {
    it(`${spec.name}: every code decodes to the textbook value`, () => {
      const codes = allCodes(spec.bits);
      const values = decode(spec.name, codes);
      for (let code = 0; code < codes.length; code++) {
        const expected = textbookValue(spec, code);
        if (Number.isNaN(expected)) expect(values[code]).toBeNaN();
        else if (!Object.is(values[code], expected))
          expect.fail(`code ${code}: ${values[code]} != ${expected}`);
        expect(
          Object.is(decodeScalar(spec.name, code), values[code]) || Number.isNaN(expected),
        ).toBe(true);
      }
    });
  }

  it('float16: all 65,536 codes equal @petamoriken/float16 getFloat16', () => {
    const codes = allCodes(16);
    const values = decode('float16', codes);
    const view = new DataView(codes.buffer);
    for (let code = 0; code < 65536; code++) {
      const expected = getFloat16(view, 2 * code, true);
      if (Number.isNaN(expected)) expect(values[code]).toBeNaN();
      else if (!Object.is(values[code], expected)) expect.fail(`code ${code}`);
    }
  });

  it('float16 NaNs are quieted with their payload kept, as x86 F16C vcvtph2ps does', () => {
    // Known answers from vcvtph2ps on x86 hardware.
    const cases = [
      [0x7c01, 0x7fc02000],
      [0x7e00, 0x7fc00000],
      [0xfc01, 0xffc02000],
      [0x7fff, 0x7fffe000],
      [0x7c00, 0x7f800000],
    ];
    const values = decode('float16', Uint16Array.from(cases.map(([code]) => code)));
    expect([...new Uint32Array(values.buffer)]).toEqual(cases.map(([, bits]) => bits));
  });

  it('bfloat16 decodes by the exact 16-bit shift, NaN bits unchanged', () => {
    const codes = Uint16Array.from([0x7f81, 0xffc1, 0x0001, 0x8000]);
    const bits = new Uint32Array(decode('bfloat16', codes).buffer);
    expect([...bits]).toEqual([0x7f810000, 0xffc10000, 0x00010000, 0x80000000]);
  });

  it('float8e4m3 has one NaN per sign and no infinity', () => {
    const values = decode('float8e4m3', Uint8Array.from([0x7f, 0xff, 0x7e, 0x78]));
    expect(values[0]).toBeNaN();
    expect(values[1]).toBeNaN();
    expect([values[2], values[3]]).toEqual([448, 256]);
  });

  it('writes into `out` and checks arguments', () => {
    const out = new Float32Array(2);
    expect(decode(formats.float16, Uint16Array.from([0x3c00, 0xc000]), out)).toBe(out);
    expect([...out]).toEqual([1, -2]);
    expect(() => decode('float16', new Uint8Array(2))).toThrow(/src: expected a Uint16Array/);
    expect(() => decode('float8e5m2', new Uint16Array(2))).toThrow(/src: expected a Uint8Array/);
    expect(() => decode('float16', new Uint16Array(2), new Float32Array(3))).toThrow(RangeError);
    expect(() => decode('float16', new Uint16Array(2), new Float64Array(2) as never)).toThrow(
      /out: expected a Float32Array/,
    );
    expect(() => decode('half' as never, new Uint16Array(2))).toThrow(/format: unknown format/);
    expect(() => decodeScalar('float8e4m3', 256)).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import {
  argumentError,
  checkInstance,
  checkOneOf,
  checkOptions,
  decode,
  decodeScalar,
  describeValue,
  encode,
  encodeScalar,
  float16,
  optionKeys,
  resolveFormat,
} from '../src/index.js';

/** The error `fn` throws. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('the shared argument checks', () => {
  it('describeValue shows the type and, for primitives, the value', () => {
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(4)).toBe('number 4');
    expect(describeValue('0.1')).toBe('string "0.1"');
    expect(describeValue(3n)).toBe('bigint 3n');
    expect(describeValue(true)).toBe('boolean true');
    expect(describeValue(() => 1)).toBe('function');
    expect(describeValue(new Float32Array(2))).toBe('Float32Array');
    expect(describeValue([1])).toBe('Array');
    expect(describeValue({ a: 1 })).toBe('object');
    expect(describeValue(Object.create(null))).toBe('object');
    expect(describeValue('x'.repeat(100))).toMatch(/^string "x{40}\.\.\."$/);
  });

  it('argumentError and checkInstance: "where: expected X, got Y" as a TypeError', () => {
    const error = argumentError('sgd: lr', 'a number', '0.1');
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('sgd: lr: expected a number, got string "0.1"');
    const words = new Uint32Array(2);
    expect(checkInstance(words, Uint32Array, 'f: out')).toBe(words);
    expect(() => checkInstance(new Float32Array(2), Uint32Array, 'f: out')).toThrow(
      new TypeError('f: out: expected a Uint32Array, got Float32Array'),
    );
  });

  it('checkOneOf: a TypeError for a non-string, a RangeError for another string', () => {
    expect(checkOneOf('a', ['a', 'b'], 'f: mode')).toBe('a');
    expect(thrown(() => checkOneOf(3, ['a', 'b'], 'f: mode'))).toEqual(
      new TypeError('f: mode: expected one of "a", "b", got number 3'),
    );
    expect(thrown(() => checkOneOf('c', ['a', 'b'], 'f: mode'))).toEqual(
      new RangeError('f: mode: expected one of "a", "b", got string "c"'),
    );
  });

  it('checkOptions: an object with known keys; hints; near typos; undefined values count as absent', () => {
    const known = ['lr', 'beta1', 'beta2', 'eps'];
    const options = { lr: 1, eps: undefined, other: undefined };
    expect(checkOptions('adam', options, known)).toBe(options);
    expect(checkOptions('adam', undefined, known)).toEqual({});
    const betas = thrown(() =>
      checkOptions('adam', { lr: 1, betas: [0.9, 0.99] }, known, {
        hints: { betas: 'beta1/beta2' },
      }),
    );
    expect(betas).toBeInstanceOf(TypeError);
    expect(betas.message).toBe(
      'adam: unknown option "betas" (did you mean beta1/beta2?); expected lr, beta1, beta2, eps',
    );
    expect(() => checkOptions('adam', { LR: 1 }, known)).toThrow(/"LR" \(did you mean lr\?\)/);
    expect(() => checkOptions('adam', { epsilon: 1 }, known)).toThrow(/unknown option "epsilon";/);
    expect(() => checkOptions('adam', { bta1: 1 }, known)).toThrow(/did you mean beta1\?/);
    expect(() => checkOptions('f', { a: 1 }, ['b'], { argument: 'config' })).toThrow(
      'f: config: unknown option "a"; expected b',
    );
    for (const bad of [null, 4, 'saturate', [1], () => 1]) {
      expect(() => checkOptions('f', bad as never, known)).toThrow(TypeError);
    }
    expect(thrown(() => checkOptions('f', 'saturate' as never, ['out'])).message).toBe(
      'f: options: expected an options object { out }, got string "saturate"',
    );
    expect(() => checkOptions('f', undefined, known, { optional: false })).toThrow(
      /f: options: expected an options object/,
    );
  });

  it('optionKeys lists the keys of an options type', () => {
    expect(optionKeys<{ a?: number; b: string }>({ a: true, b: true })).toEqual(['a', 'b']);
  });
});

describe('codecs entry points', () => {
  const src = Float32Array.of(1, 70000);

  it("encode(format, src, 'saturate'): a TypeError naming encode and options", () => {
    const error = thrown(() => encode('float16', src, 'saturate' as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(
      'encode: options: expected an options object { out, rounding, overflow }, got string "saturate"',
    );
    expect(() => encode('float16', src, null as never)).toThrow(/encode: options: .*got null/);
  });

  it('encode: unknown option keys and bad values are rejected; valid calls still work', () => {
    expect(() => encode('float16', src, { saturate: true } as never)).toThrow(
      new TypeError(
        `encode: unknown option "saturate" (did you mean overflow: 'saturate'?); expected out, rounding, overflow`,
      ),
    );
    expect(() => encode('float16', src, { overflow: 'wrap' as never })).toThrow(RangeError);
    expect(() => encode('float16', src, { overflow: 1 as never })).toThrow(TypeError);
    expect(() => encode('float16', undefined as never)).toThrow(
      'encode: src: expected a Float32Array, got undefined',
    );
    expect(() => encode(undefined as never, src)).toThrow(
      /encode: format: unknown format undefined/,
    );
    expect([...encode('float16', src, { overflow: 'saturate', out: undefined })]).toEqual([
      0x3c00, 0x7bff,
    ]);
    expect([...encode('float16', src, {})]).toEqual([0x3c00, 0x7c00]);
  });

  it('encodeScalar / decodeScalar name the function and the argument; decode the argument', () => {
    expect(() => encodeScalar('float16', 1, 'saturate' as never)).toThrow(
      /encodeScalar: options: expected an options object/,
    );
    expect(() => encodeScalar('float16', 1, { out: new Uint16Array(1) } as never)).toThrow(
      /encodeScalar: unknown option "out"/,
    );
    expect(() => encodeScalar('float16', undefined as never)).toThrow(
      new TypeError('encodeScalar: x: expected a number, got undefined'),
    );
    expect(encodeScalar('float16', 70000, { overflow: 'saturate' })).toBe(0x7bff);
    expect(() => decodeScalar('float16', '1' as never)).toThrow(
      new TypeError('decodeScalar: code: expected a number, got string "1"'),
    );
    expect(() => decodeScalar('float16', 1.5)).toThrow(RangeError);
    expect(decodeScalar('float16', 0x3c00)).toBe(1);
    expect(() => decode('float16', undefined as never)).toThrow(
      'src: expected a Uint16Array of float16 codes, got undefined',
    );
  });

  it('resolveFormat does not take inherited names or copies for formats', () => {
    for (const name of ['toString', 'constructor', '__proto__']) {
      expect(() => resolveFormat(name as never)).toThrow(TypeError);
    }
    expect(() => resolveFormat({ ...float16 })).toThrow(/unknown format object/);
    expect(resolveFormat('float16')).toBe(float16);
  });
});

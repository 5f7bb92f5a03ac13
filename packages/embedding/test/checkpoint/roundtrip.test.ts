import { describe, expect, it } from 'vitest';
import { swapBytes } from '../../src/checkpoint/dtypes.js';
import { compareCodePoints } from '../../src/checkpoint/encode.js';
import {
  DTYPES,
  decodeSafetensors,
  encodeSafetensors,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type Tensor,
} from '../../src/checkpoint/index.js';

/** A tensor of `dtype` and `shape` whose elements are distinct, deterministic patterns. */
function sample(dtype: SafetensorsDtype, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const { array, size } = DTYPES[dtype];
  const bytes = new Uint8Array(n * size);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11) & 0xff;
  if (dtype === 'BOOL') for (let i = 0; i < bytes.length; i++) bytes[i] = i & 1;
  // Avoid NaN bit patterns for float types so that toEqual compares values, not NaN payloads.
  if (dtype === 'F32')
    return { dtype, shape, data: Float32Array.from({ length: n }, (_, i) => i * 0.5 - 3) };
  if (dtype === 'F64')
    return { dtype, shape, data: Float64Array.from({ length: n }, (_, i) => i / 3 - 1) };
  return { dtype, shape, data: new array(bytes.buffer, 0, n) };
}

function bytesOf(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

describe('round trip', () => {
  for (const dtype of SAFETENSORS_DTYPES) {
    for (const shape of [[], [0], [3, 0, 2], [5], [2, 3], [2, 1, 3]]) {
      it(`${dtype} shape [${shape}]`, () => {
        const t = sample(dtype, shape);
        const out = decodeSafetensors(encodeSafetensors({ t }));
        const back = out.tensors.t!;
        expect(back.dtype).toBe(dtype);
        expect(back.shape).toEqual(shape);
        expect(back.data).toBeInstanceOf(DTYPES[dtype].array);
        expect(back.data.length).toBe(shape.reduce((a, b) => a * b, 1));
        expect(bytesOf(back)).toEqual(bytesOf(t));
        expect(back.data.byteOffset % DTYPES[dtype].size).toBe(0);
        expect(out.metadata).toEqual({});
      });
    }
  }

  it('all dtypes together, with metadata, aligned views and copies', () => {
    const tensors: Record<string, Tensor> = {};
    for (const [i, dtype] of SAFETENSORS_DTYPES.entries())
      tensors[`t${i}`] = sample(dtype, [3, i % 3]);
    tensors.scalar = sample('F16', []);
    tensors.odd = sample('U8', [5]); // odd byte count: later tensors stay aligned anyway
    const metadata = { step: '100', format: 'halfstep', ünï: 'cödé ✓ \u{1F600}', '': '' };
    const bytes = encodeSafetensors(tensors, metadata);
    for (const copy of [false, true]) {
      const out = decodeSafetensors(bytes, { copy });
      expect(Object.keys(out.tensors).sort()).toEqual(Object.keys(tensors).sort());
      for (const [name, t] of Object.entries(tensors)) {
        const back = out.tensors[name]!;
        expect(back.dtype).toBe(t.dtype);
        expect(back.shape).toEqual(t.shape);
        expect(bytesOf(back)).toEqual(bytesOf(t));
        if (back.data.length > 0) expect(back.data.buffer === bytes.buffer).toBe(!copy);
      }
      expect({ ...out.metadata }).toEqual(metadata);
    }
  });

  it('keeps exact 64-bit integers and float edge values', () => {
    const tensors: Record<string, Tensor> = {
      i64: {
        dtype: 'I64',
        shape: [3],
        data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, -1n]),
      },
      u64: { dtype: 'U64', shape: [2], data: new BigUint64Array([2n ** 64n - 1n, 2n ** 53n + 1n]) },
      f32: { dtype: 'F32', shape: [4], data: new Float32Array([Number.NaN, -0, Infinity, 1e-45]) },
      f16: { dtype: 'F16', shape: [3], data: new Uint16Array([0x7e00, 0x8000, 0x7c00]) },
    };
    const out = decodeSafetensors(encodeSafetensors(tensors));
    expect(out.tensors.i64!.data).toEqual(tensors.i64!.data);
    expect(out.tensors.u64!.data).toEqual(tensors.u64!.data);
    expect(bytesOf(out.tensors.f32!)).toEqual(bytesOf(tensors.f32!));
    expect(out.tensors.f16!.data).toEqual(tensors.f16!.data);
  });

  it('accepts subarray views at any offset as input', () => {
    const backing = new Float32Array(10).map((_, i) => i);
    const out = decodeSafetensors(
      encodeSafetensors({ x: { dtype: 'F32', shape: [2, 2], data: backing.subarray(3, 7) } }),
    );
    expect(Array.from(out.tensors.x!.data as Float32Array)).toEqual([3, 4, 5, 6]);
  });

  it('handles names that are special in JavaScript objects and JSON', () => {
    const names = ['__proto__', 'constructor', '0', '10', '2', 'a"b\\c\n', 'ü', '\u{1F600}', ''];
    const tensors: Record<string, Tensor> = Object.create(null);
    for (const [i, name] of names.entries()) {
      Object.defineProperty(tensors, name, {
        value: { dtype: 'U8', shape: [1], data: new Uint8Array([i]) },
        enumerable: true,
      });
    }
    const out = decodeSafetensors(encodeSafetensors(tensors));
    expect(Object.keys(out.tensors).sort()).toEqual([...names].sort());
    for (const [i, name] of names.entries()) expect(out.tensors[name]!.data[0]).toBe(i);
    expect(Object.getPrototypeOf(out.tensors)).toBe(null);
  });
});

describe('deterministic layout', () => {
  it('is byte-identical whatever the insertion order', () => {
    const a = { b: sample('F16', [3]), a: sample('F16', [3]), c: sample('F32', [1]) };
    const b = { c: a.c, a: a.a, b: a.b };
    expect(encodeSafetensors(a, { y: '1', x: '2' })).toEqual(
      encodeSafetensors(b, { x: '2', y: '1' }),
    );
  });

  it('orders by descending alignment then name, pads the header with spaces to 8 bytes', () => {
    const bytes = encodeSafetensors({
      z8: sample('U8', [3]),
      a16: sample('F16', [1]),
      b16: sample('BF16', [1]),
      m64: sample('I64', [1]),
      k32: sample('F32', [1]),
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text).toMatch(/^\{.*\} *$/);
    const header = JSON.parse(text);
    const byOffset = Object.keys(header).sort(
      (p, q) => header[p].data_offsets[0] - header[q].data_offsets[0],
    );
    expect(byOffset).toEqual(['m64', 'k32', 'b16', 'a16', 'z8']);
    expect(Object.keys(header)).toEqual(byOffset);
  });

  it('compares names by code point (UTF-8 byte order), not UTF-16 unit', () => {
    expect(compareCodePoints('\u{FF61}', '\u{1F600}')).toBeLessThan(0);
    expect('\u{FF61}' < '\u{1F600}').toBe(false); // what a plain sort would get wrong
    expect(compareCodePoints('a', 'ab')).toBeLessThan(0);
    expect(compareCodePoints('b', 'b')).toBe(0);
  });
});

describe('known answers', () => {
  it('matches the Rust reference serializer byte for byte (test_serialization_forced_alignement)', () => {
    const data = new Float32Array([0, 1, 2, 3, 4, 5]);
    const out = encodeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data } });
    const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ';
    expect(header.length).toBe(72);
    const expected = [
      72,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...new TextEncoder().encode(header),
      0,
      0,
      0,
      0,
      0,
      0,
      128,
      63,
      0,
      0,
      0,
      64,
      0,
      0,
      64,
      64,
      0,
      0,
      128,
      64,
      0,
      0,
      160,
      64,
    ];
    expect(Array.from(out)).toEqual(expected);
    expect(Array.from(decodeSafetensors(out).tensors.attn0!.data as Float32Array)).toEqual([
      0, 1, 2, 3, 4, 5,
    ]);
  });

  it('matches the Rust reference for an empty file and metadata only (test_empty)', () => {
    expect(Array.from(encodeSafetensors({}))).toEqual([
      8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32,
    ]);
    const withMeta = [
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58,
      123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32,
      32, 32, 32, 32,
    ];
    expect(Array.from(encodeSafetensors({}, { framework: 'pt' }))).toEqual(withMeta);
    const decoded = decodeSafetensors(new Uint8Array(withMeta));
    expect({ ...decoded.metadata }).toEqual({ framework: 'pt' });
    expect(Object.keys(decoded.tensors)).toEqual([]);
  });

  it('decodes a hand-written file with unaligned data, whitespace and an unpadded header', () => {
    // Two tensors written in name order by hand: F16 [2] at [0,4), then I32 [] at [4,8).
    const header =
      '{ "__metadata__" : { "k" : "v\\u00e9" },\n "h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},' +
      ' "i": {"shape": [], "dtype": "I32", "data_offsets": [4, 8], "extra": 1}}';
    const h = new TextEncoder().encode(header);
    const file = new Uint8Array(8 + h.length + 8 + 1).subarray(1); // misaligned on purpose
    new DataView(file.buffer, file.byteOffset).setBigUint64(0, BigInt(h.length), true);
    file.set(h, 8);
    file.set([0x00, 0x3c, 0x00, 0xc1, 0xd6, 0xff, 0xff, 0xff], 8 + h.length); // 1.0, -2.5, -42
    const out = decodeSafetensors(file);
    expect(out.tensors.h).toEqual({
      dtype: 'F16',
      shape: [2],
      data: new Uint16Array([0x3c00, 0xc100]),
    });
    expect(out.tensors.i).toEqual({ dtype: 'I32', shape: [], data: new Int32Array([-42]) });
    expect({ ...out.metadata }).toEqual({ k: 'vé' });
  });
});

describe('swapBytes (big-endian hosts)', () => {
  it('reverses each element', () => {
    const b = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    swapBytes(b, 4);
    expect(Array.from(b)).toEqual([4, 3, 2, 1, 8, 7, 6, 5]);
    swapBytes(b, 2);
    expect(Array.from(b)).toEqual([3, 4, 1, 2, 7, 8, 5, 6]);
    swapBytes(b, 8);
    expect(Array.from(b)).toEqual([6, 5, 8, 7, 2, 1, 4, 3]);
    expect(() => swapBytes(new Uint8Array(3), 2)).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  type CheckpointErrorReason,
  decodeSafetensors,
  encodeSafetensors,
  type Tensor,
} from '../../src/checkpoint/index.js';

/** Builds file bytes from a literal header string (unpadded) and a data section. */
function file(header: string, data: ArrayLike<number> = []): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function caught(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('expected a CheckpointError, nothing was thrown');
}

function expectError(bytes: Uint8Array, reason: CheckpointErrorReason, message: RegExp | string) {
  const error = caught(() => decodeSafetensors(bytes));
  expect(error.reason).toBe(reason);
  expect(error.message).toMatch(message);
  expect(error.path).toBeUndefined();
  return error;
}

const good = encodeSafetensors(
  {
    w: { dtype: 'F16', shape: [2, 3], data: new Uint16Array(6).fill(0x3c00) },
    b: { dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) },
  },
  { step: '1' },
);
const headerLength = Number(new DataView(good.buffer).getBigUint64(0, true));

describe('truncated and short files', () => {
  it('file shorter than 8 bytes', () => {
    for (const n of [0, 1, 7]) {
      expectError(
        good.slice(0, n),
        'too-short',
        `file is ${n} bytes, shorter than the 8-byte header length prefix`,
      );
    }
  });

  it('truncated inside the header', () => {
    for (const n of [8, 9, 8 + Math.floor(headerLength / 2), 8 + headerLength - 1]) {
      expectError(
        good.slice(0, n),
        'truncated-header',
        `truncated: header says ${headerLength} bytes, file has ${n - 8} bytes after the 8-byte length prefix`,
      );
    }
  });

  it('truncated inside the data section', () => {
    const dataLength = good.length - 8 - headerLength;
    for (const cut of [0, 1, 12, dataLength - 1]) {
      expectError(
        good.slice(0, 8 + headerLength + cut),
        'truncated-data',
        `data section truncated: tensors need ${dataLength} bytes, file has ${cut} bytes after the header`,
      );
    }
  });

  it('every truncation point fails, none decodes silently', () => {
    for (let n = 0; n < good.length; n++) {
      expect(() => decodeSafetensors(good.slice(0, n))).toThrow(CheckpointError);
    }
    expect(() => decodeSafetensors(good)).not.toThrow();
  });

  it('trailing bytes after the last tensor', () => {
    const longer = new Uint8Array(good.length + 3);
    longer.set(good);
    expectError(
      longer,
      'trailing-data',
      'data section has 3 trailing bytes that belong to no tensor',
    );
  });

  it('header length beyond the 100 MB limit or 2^64 - 1', () => {
    const b = good.slice();
    new DataView(b.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
    expectError(
      b,
      'header-too-large',
      'header length 18446744073709551615 bytes exceeds the 100000000-byte limit',
    );
    new DataView(b.buffer).setBigUint64(0, 100_000_001n, true);
    expectError(b, 'header-too-large', /exceeds the 100000000-byte limit/);
  });
});

describe('bad header content', () => {
  it('invalid JSON, with the position', () => {
    expectError(
      file('{"a": {'),
      'invalid-json',
      /invalid JSON in header: expected a string key, found end of header/,
    );
    expectError(
      file('{"a": 1,}'),
      'invalid-json',
      /expected a string key, found "}" at position 8/,
    );
    expectError(
      file('{} x'),
      'invalid-json',
      /unexpected content after the JSON value, found "x" at position 3/,
    );
    expectError(file("{'a': 1}"), 'invalid-json', /at position 1/);
    expectError(file('{"a\u0001": 1}'), 'invalid-json', /control character in string/);
    expectError(file('{"a": 01}'), 'invalid-json', /expected ',' or '}'/);
    expectError(file(''), 'invalid-json', /expected a value, found end of header/);
  });

  it('flipped header bytes never decode silently', () => {
    /** The tensors without their names: a flip may rename a tensor but never change its data. */
    const contents = (tensors: Record<string, Tensor>) =>
      Object.values(tensors)
        .map((t) =>
          JSON.stringify([
            t.dtype,
            t.shape,
            Array.from(t.data as Iterable<number | bigint>, String),
          ]),
        )
        .sort();
    const original = decodeSafetensors(good).tensors;
    // Flip one bit of each header byte in turn: each result must either throw or, if it is still
    // a valid file (e.g. a changed letter in a name or metadata value), differ only in that text.
    for (let i = 8; i < 8 + headerLength; i++) {
      for (const mask of [0x01, 0x20, 0x80]) {
        const b = good.slice();
        b[i]! ^= mask;
        try {
          const out = decodeSafetensors(b);
          expect(contents(out.tensors), `byte ${i} ^ ${mask}`).toEqual(contents(original));
        } catch (error) {
          expect(error).toBeInstanceOf(CheckpointError);
        }
      }
    }
  });

  it('header that is not UTF-8', () => {
    const b = file('{"a\u00e9": 1}');
    b[8 + 3] = 0xff;
    expectError(b, 'invalid-utf8', 'header is not valid UTF-8');
  });

  it('header that is not an object', () => {
    expectError(
      file('[1, 2]'),
      'invalid-json',
      'header JSON is an array, expected an object of tensors',
    );
  });

  it('unknown dtype names the dtype and the tensor', () => {
    expectError(
      file('{"emb": {"dtype": "F17", "shape": [1], "data_offsets": [0, 2]}}', [0, 0]),
      'unknown-dtype',
      /tensor "emb" has unknown dtype "F17" \(supported: BOOL, U8, .*F16, BF16/,
    );
    expectError(
      file('{"emb": {"shape": [1], "data_offsets": [0, 2]}}'),
      'unknown-dtype',
      'tensor "emb" has unknown dtype missing',
    );
  });

  it('malformed shape or offsets', () => {
    expectError(
      file('{"t": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}'),
      'invalid-header',
      'tensor "t": shape[0] is -1, expected a non-negative integer',
    );
    expectError(
      file('{"t": {"dtype": "U8", "shape": [1.5], "data_offsets": [0, 0]}}'),
      'invalid-header',
      /shape\[0\] is 1.5/,
    );
    expectError(
      file('{"t": {"dtype": "U8", "shape": 3, "data_offsets": [0, 3]}}'),
      'invalid-header',
      'tensor "t": shape is 3, expected an array',
    );
    expectError(
      file('{"t": {"dtype": "U8", "shape": [1], "data_offsets": [0]}}'),
      'invalid-header',
      'tensor "t": data_offsets is [0], expected [begin, end]',
    );
    expectError(
      file('{"t": {"dtype": "U8", "shape": [1], "data_offsets": [0, 9007199254740993]}}'),
      'invalid-header',
      /data_offsets is/,
    );
    expectError(
      file('{"t": {"dtype": "U8", "shape": [0], "data_offsets": [2, 1]}}'),
      'invalid-header',
      'tensor "t": data_offsets [2, 1] ends before it begins',
    );
    expectError(file('{"t": 5}'), 'invalid-header', 'tensor "t" is 5, expected an object');
    expectError(
      file('{"t": {"dtype": "U8", "shape": [4294967296, 4294967296], "data_offsets": [0, 1]}}'),
      'invalid-header',
      /more than 2\^53 - 1 elements/,
    );
  });

  it('shape/offset mismatch names the tensor, expected and actual bytes', () => {
    expectError(
      file(
        '{"w": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 10]}}',
        new Array(10).fill(0),
      ),
      'size-mismatch',
      'tensor "w": shape [2, 3] of F16 needs 12 bytes, data_offsets [0, 10] span 10 bytes',
    );
  });

  it('overlapping offsets name both tensors', () => {
    expectError(
      file(
        '{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}',
        new Array(6).fill(0),
      ),
      'overlap',
      'tensor "b" at bytes [2, 6) overlaps tensor "a" at [0, 4)',
    );
    // Same range twice, and an empty tensor inside another.
    expectError(
      file(
        '{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, "b": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}',
        new Array(8).fill(0),
      ),
      'overlap',
      /overlaps tensor "a" at \[0, 4\)/,
    );
    expectError(
      file(
        '{"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}, "e": {"dtype": "U8", "shape": [0], "data_offsets": [2, 2]}}',
        new Array(4).fill(0),
      ),
      'overlap',
      'tensor "e" at bytes [2, 2) overlaps tensor "a" at [0, 4)',
    );
  });

  it('holes between tensors or before the first', () => {
    expectError(
      file(
        '{"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}, "b": {"dtype": "U8", "shape": [2], "data_offsets": [3, 5]}}',
        new Array(5).fill(0),
      ),
      'gap',
      'data section bytes [2, 3) between tensor "a" and tensor "b" belong to no tensor',
    );
    expectError(
      file('{"a": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}', [0, 0, 0]),
      'gap',
      'data section bytes [0, 1) before tensor "a" belong to no tensor',
    );
  });

  it('duplicate tensor names and metadata keys', () => {
    expectError(
      file(
        '{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}',
        [0, 0],
      ),
      'duplicate-name',
      /duplicate tensor name "a" in header at position 61/,
    );
    expectError(
      file('{"__metadata__": {"k": "1", "k": "2"}}'),
      'duplicate-name',
      /duplicate metadata key "k"/,
    );
    expectError(
      file('{"__metadata__": {}, "__metadata__": {}}'),
      'duplicate-name',
      /duplicate "__metadata__" entry/,
    );
    // Escapes are decoded before comparing: "\u0061" is "a".
    expectError(
      file('{"a": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}, "\\u0061": 1}'),
      'duplicate-name',
      /duplicate tensor name "a"/,
    );
    expectError(
      file('{"t": {"dtype": "U8", "dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}'),
      'duplicate-name',
      /duplicate key "dtype" in header entry "t"/,
    );
  });

  it('non-string metadata values', () => {
    expectError(
      file('{"__metadata__": {"step": 12}}'),
      'invalid-metadata',
      'metadata value of key "step" is 12, must be a string',
    );
    expectError(
      file('{"__metadata__": {"x": null}}'),
      'invalid-metadata',
      'metadata value of key "x" is null',
    );
    expectError(
      file('{"__metadata__": ["a"]}'),
      'invalid-metadata',
      '"__metadata__" is an array, expected an object of strings',
    );
  });

  it('accepts "__metadata__": null and no metadata', () => {
    expect({ ...decodeSafetensors(file('{"__metadata__": null}')).metadata }).toEqual({});
    expect({ ...decodeSafetensors(file('{}')).metadata }).toEqual({});
  });
});

describe('encoder rejects bad input', () => {
  const encodeError = (tensors: Record<string, unknown>, metadata?: Record<string, unknown>) =>
    caught(() =>
      encodeSafetensors(tensors as Record<string, Tensor>, metadata as Record<string, string>),
    );

  it('wrong byte length names the tensor, expected and actual', () => {
    const e = encodeError({ w: { dtype: 'F16', shape: [2, 3], data: new Uint16Array(5) } });
    expect(e.reason).toBe('size-mismatch');
    expect(e.message).toBe(
      'tensor "w": shape [2, 3] of F16 needs 12 bytes (6 elements), data has 10 bytes (5 elements)',
    );
  });

  it('wrong typed array kind (would otherwise be silently reinterpreted)', () => {
    const e = encodeError({ w: { dtype: 'F16', shape: [4], data: new Float32Array(2) } });
    expect(e.reason).toBe('invalid-tensor');
    expect(e.message).toBe('tensor "w": dtype F16 needs data in a Uint16Array, got Float32Array');
  });

  it('unknown dtype, bad shape, reserved name, lone surrogate, non-string metadata', () => {
    expect(
      encodeError({ w: { dtype: 'F12', shape: [1], data: new Uint8Array(1) } }).message,
    ).toMatch(/^tensor "w" has unknown dtype "F12"/);
    expect(
      encodeError({ w: { dtype: 'U8', shape: [-1], data: new Uint8Array(0) } }).message,
    ).toMatch(/shape\[0\] is -1/);
    expect(encodeError({ w: { dtype: 'U8', shape: [1.5], data: new Uint8Array(1) } }).reason).toBe(
      'invalid-tensor',
    );
    expect(
      encodeError({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }).message,
    ).toMatch(/cannot be named "__metadata__"/);
    expect(
      encodeError({ 'a\uD800': { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }).message,
    ).toMatch(/lone UTF-16 surrogate/);
    const m = encodeError({}, { step: 12 });
    expect(m.reason).toBe('invalid-metadata');
    expect(m.message).toBe('metadata value of key "step" is number, must be a string');
  });
});

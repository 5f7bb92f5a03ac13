import { describe, expect, it } from 'vitest';
import { type JsonValue, parseHeaderJson } from '../../src/checkpoint/json.js';

/** Converts parsed Maps back to plain objects so results compare with JSON.parse. */
function plain(v: JsonValue): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

describe('parseHeaderJson', () => {
  it('agrees with JSON.parse on valid documents', () => {
    const docs = [
      '{}',
      ' \t\n\r{ "a" : [ 1 , -2.5e3 , 0.125, 1E-2, -0 ] , "b" : { "c" : null } }   ',
      '{"s": "\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00 ü 😀"}',
      '[true, false, null, "x", [], {}]',
      '"just a string"',
      '{"n": 12345678901234567890}',
    ];
    for (const d of docs) expect(plain(parseHeaderJson(d))).toEqual(JSON.parse(d));
  });

  it('rejects what JSON.parse rejects', () => {
    for (const d of [
      '{"a":1,}',
      '[1,]',
      '{"a" 1}',
      '01',
      '1.',
      '.5',
      '+1',
      '"\\x"',
      '"\\u12"',
      'nul',
      '{"a":1}}',
      '"a\tb"',
    ]) {
      expect(() => JSON.parse(d), d).toThrow();
      expect(() => parseHeaderJson(d), d).toThrow(/invalid JSON in header/);
    }
  });

  it('keeps __proto__ as an ordinary key and rejects excessive nesting', () => {
    const v = parseHeaderJson('{"__proto__": {"x": "1"}}') as Map<string, JsonValue>;
    expect([...v.keys()]).toEqual(['__proto__']);
    expect(() => parseHeaderJson(`${'['.repeat(100)}${']'.repeat(100)}`)).toThrow(
      /nesting deeper than 64/,
    );
  });
});

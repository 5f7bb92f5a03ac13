import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  buildCategoryDictionary,
  CategoryDictionary,
  type Example,
  MalformedLineError,
  readCriteo,
  readCriteoBatches,
} from '../../src/data/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of source) out.push(x);
  return out;
}

// Worked out by hand from test/fixtures/criteo-tiny.tsv, hashing with maxIndRange = 7.
const expected = [
  {
    label: 1,
    // I: 5, -1, '', 0, 10, 1..8: negatives and empties give 0, the rest log(x + 1).
    dense: f32([
      Math.log(6),
      0,
      0,
      0,
      Math.log(11),
      Math.log(2),
      Math.log(3),
      Math.log(4),
      Math.log(5),
      Math.log(6),
      Math.log(7),
      Math.log(8),
      Math.log(9),
    ]),
    // C1 = 0xa = 10 -> 3; C2 empty -> 0; C3 = 0xffffffff = 7 * 613566756 + 3 -> 3;
    // C4..C26 = 4..26 -> (t + 1) mod 7.
    sparse: [3, 0, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5],
  },
  { label: 0, dense: new Array(13).fill(0), sparse: new Array(26).fill(0) },
  {
    label: 0,
    // I: 0, -3, 100, empty x 9, 999999.
    dense: f32([0, 0, Math.log(101), 0, 0, 0, 0, 0, 0, 0, 0, 0, Math.log(1000000)]),
    // C1 = 0xABCDEF01 = 2882400001 = 7 * 411771428 + 5; C2..C26 = 0x68fd1e64 = 1761418852 = 7 * 251631264 + 4.
    sparse: [5, ...new Array(25).fill(4)],
  },
];

function plain(e: Example) {
  return { label: e.label, dense: Array.from(e.dense), sparse: Array.from(e.sparse) };
}

describe('readCriteo on the hand-written fixture', () => {
  for (const name of ['criteo-tiny.tsv', 'criteo-tiny.tsv.gz']) {
    it(`parses ${name} (hashing, DLRM transforms)`, async () => {
      const stream = readCriteo(fixture(name), { maxIndRange: 7 });
      const examples = (await collect(stream)).map(plain);
      expect(examples).toEqual(expected);
      expect(stream.stats).toMatchObject({ lines: 3, examples: 3, skipped: 0 });
    });
  }

  it('batches straight from the file, last batch trimmed, fresh arrays', async () => {
    const got = await collect(
      readCriteoBatches(fixture('criteo-tiny.tsv'), { maxIndRange: 7, batchSize: 2 }),
    );
    expect(got.map((b) => b.size)).toEqual([2, 1]);
    expect(got[1]!.labels.length).toBe(1);
    expect(got[1]!.sparse.length).toBe(26);
    expect(got[0]!.labels.buffer).not.toBe(got[1]!.labels.buffer);
    expect(Array.from(got[0]!.sparse.subarray(0, 26))).toEqual(expected[0]!.sparse);
    expect(Array.from(got[1]!.dense)).toEqual(expected[2]!.dense);
  });

  it('per-table hashing with tableSizes', async () => {
    const sizes = new Array(26).fill(1000);
    sizes[0] = 4;
    const [first] = await collect(readCriteo(fixture('criteo-tiny.tsv'), { tableSizes: sizes }));
    expect(first!.sparse[0]).toBe(10 % 4);
    expect(first!.sparse[2]).toBe(4294967295 % 1000);
  });

  it('remaps to dense ids in first-seen order (missing is the value 0)', async () => {
    const dictionary = new CategoryDictionary();
    const got = await collect(readCriteo(fixture('criteo-tiny.tsv'), { dictionary }));
    // C1: 0xa, missing, 0xABCDEF01 -> 0, 1, 2. C2: missing, missing, 0x68fd1e64 -> 0, 0, 1.
    expect(got.map((e) => e.sparse[0])).toEqual([0, 1, 2]);
    expect(got.map((e) => e.sparse[1])).toEqual([0, 0, 1]);
    expect(dictionary.sizes().slice(0, 3)).toEqual([3, 2, 3]);
    const built = await buildCategoryDictionary(fixture('criteo-tiny.tsv.gz'));
    expect(built.sizes()).toEqual(dictionary.sizes());
  });

  it('reads only the lines in a range', async () => {
    const got = await collect(
      readCriteo(fixture('criteo-tiny.tsv'), { maxIndRange: 7, lines: { start: 1, end: 3 } }),
    );
    expect(got.map(plain)).toEqual(expected.slice(1));
  });

  it('asks for exactly one categorical mode', () => {
    expect(() => readCriteo([], {})).toThrow(TypeError);
    expect(() => readCriteo([], { maxIndRange: 3, tableSizes: new Array(26).fill(3) })).toThrow(
      TypeError,
    );
  });
});

const good = `0\t1${'\t'.repeat(13)}${'\t'.repeat(25)}`;
const fields = good.split('\t');
const withField = (i: number, v: string) => fields.map((f, j) => (j === i ? v : f)).join('\t');

describe('malformed lines', () => {
  const cases: [string, string, RegExp][] = [
    [
      'too few fields',
      fields.slice(0, 30).join('\t'),
      /expected 40 tab-separated fields, found 30/,
    ],
    ['too many fields', `${good}\t`, /found 41/],
    ['blank line', '', /found 1/],
    ['non-hex category', withField(20, '12zz5678'), /C7 must be 1-8 hex digits/],
    ['too long category', withField(39, '123456789'), /C26 must be 1-8 hex digits/],
    ['non-integer dense', withField(3, '1.5'), /I3 must be an integer/],
    ['lone minus', withField(13, '-'), /I13 must be an integer/],
    ['bad label', withField(0, '2'), /label must be 0 or 1/],
    ['empty label', withField(0, ''), /label must be 0 or 1/],
  ];

  it('the base line is valid (CRLF tolerated)', async () => {
    const got = await collect(readCriteo([good, `${good}\r`], { maxIndRange: 10 }));
    expect(got.length).toBe(2);
  });

  for (const [what, line, message] of cases) {
    it(`${what}: error names the line number`, async () => {
      const lines = [good, good, line, good];
      const err = await collect(readCriteo(lines, { maxIndRange: 10 })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MalformedLineError);
      expect((err as MalformedLineError).lineNumber).toBe(3);
      expect((err as Error).message).toMatch(/^<lines>:3: malformed Criteo line: /);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('skip mode counts them and goes on', async () => {
    const lines = [good, ...cases.map((c) => c[1]), good];
    const stream = readCriteoBatches(lines, { maxIndRange: 10, onMalformed: 'skip', batchSize: 8 });
    const got = await collect(stream);
    expect(got.reduce((n, b) => n + b.size, 0)).toBe(2);
    expect(stream.stats.lines).toBe(cases.length + 2);
    expect(stream.stats.skipped).toBe(cases.length);
    expect(stream.stats.skippedLines.map((s) => s.lineNumber)).toEqual([
      2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
  });
});

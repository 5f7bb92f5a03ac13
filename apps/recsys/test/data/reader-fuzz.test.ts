/**
 * Property-based fuzz of the Criteo reader over malformed lines and files (fast-check).
 *
 * Every input either parses into valid examples (label 0/1, finite dense features, categorical
 * rows in range) or fails with an error naming the file and the 1-based line (or, for a broken
 * gzip stream, the file); never another exception, a hang or a NaN feature. An independent regex
 * says which lines are valid, so the example count and the line of the first error are checked
 * exactly.
 *
 * Runs are seeded and bounded so CI is deterministic: 300 runs over in-memory lines, 150 runs
 * over plain files (error and skip modes), 60 runs over gzipped files (whole or truncated); each
 * property stops after 60 s and each run fails past 10 s (a hang).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataFileError, LineTooLongError } from '../../src/data/lines.js';
import { MalformedLineError } from '../../src/data/malformed.js';
import { readCriteo } from '../../src/data/reader.js';

const SEED = 20_240_611;
const MAX_LINE_BYTES = 1024;
const ROWS = 1000;
const LIMITS = { interruptAfterTimeLimit: 60_000, timeout: 10_000, seed: SEED };

/** The independent oracle: a valid Criteo line (one trailing `\r` allowed). */
const VALID = /^[01](?:\t(?:-?[0-9]{1,15})?){13}(?:\t[0-9a-fA-F]{0,8}){26}\r?$/;

const hex = fc
  .array(fc.constantFrom(...'0123456789abcdefABCDEF'), { minLength: 1, maxLength: 8 })
  .map((a) => a.join(''));
const denseField = fc.oneof(
  fc.constant(''),
  fc.integer({ min: -1000, max: 1_000_000_000 }).map(String),
  fc.constant('999999999999999'),
);
const validLine = fc
  .tuple(
    fc.constantFrom('0', '1'),
    fc.array(denseField, { minLength: 13, maxLength: 13 }),
    fc.array(fc.oneof(fc.constant(''), hex), { minLength: 26, maxLength: 26 }),
  )
  .map(([label, dense, sparse]) => [label, ...dense, ...sparse].join('\t'));
const noise = fc.constantFrom('\t', '\r', '-', '+', 'x', 'G', ' ', '0', 'f', '.', 'é', '\0', '');
const mutatedLine = fc
  .tuple(
    validLine,
    fc.array(
      fc.record({ at: fc.nat(), op: fc.constantFrom('insert', 'delete', 'replace'), ch: noise }),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([line, edits]) => {
    let s = line;
    for (const { at, op, ch } of edits) {
      const i = at % (s.length + 1);
      if (op === 'insert') s = s.slice(0, i) + ch + s.slice(i);
      else if (op === 'delete') s = s.slice(0, i) + s.slice(i + 1);
      else s = s.slice(0, i) + ch + s.slice(i + 1);
    }
    return s;
  });
const junkLine = fc.string({
  unit: fc.oneof(noise, fc.constantFrom('1', 'a', '\t')),
  maxLength: 60,
});
const longLine = fc
  .tuple(validLine, fc.integer({ min: MAX_LINE_BYTES - 600, max: 3 * MAX_LINE_BYTES }))
  .map(([line, n]) => line + '0'.repeat(n));
const line = fc.oneof(
  { arbitrary: validLine, weight: 6 },
  { arbitrary: mutatedLine, weight: 3 },
  { arbitrary: junkLine, weight: 1 },
  { arbitrary: longLine, weight: 1 },
);
const lines = fc.array(line, { maxLength: 25 }).map((ls) => ls.map((l) => l.replaceAll('\n', '')));
/**
 * A file's text: the lines, `\n` or `\r\n` separated, with or without a final newline; and its
 * lines as the reader defines them (split at `\n`; a final empty line is not a line).
 */
const fileText = fc.tuple(lines, fc.boolean(), fc.boolean()).map(([ls, crlf, finalNewline]) => {
  const text =
    ls.map((l) => (crlf ? `${l}\r` : l)).join('\n') + (finalNewline && ls.length ? '\n' : '');
  const split = text.split('\n');
  if (split[split.length - 1] === '') split.pop();
  return { lines: split, text };
});

/** What the reader must do with `ls`: the examples, or the 1-based line of the first failure. */
function expected(ls: readonly string[], skip: boolean) {
  let valid = 0;
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i]!;
    if (Buffer.byteLength(l) > MAX_LINE_BYTES) return { valid, failAt: i + 1, long: true };
    if (VALID.test(l)) valid++;
    else if (!skip) return { valid, failAt: i + 1, long: false };
  }
  return { valid, failAt: 0, long: false };
}

/** Reads everything; checks every example; returns the count, or the error. */
async function readAll(source: string | string[], skip: boolean) {
  const stream = readCriteo(source, {
    maxIndRange: ROWS,
    maxLineBytes: MAX_LINE_BYTES,
    onMalformed: skip ? 'skip' : 'error',
  });
  let n = 0;
  try {
    for await (const e of stream) {
      expect(e.label === 0 || e.label === 1).toBe(true);
      for (const v of e.dense) expect(Number.isFinite(v) && v >= 0).toBe(true);
      for (const r of e.sparse) expect(Number.isInteger(r) && r >= 0 && r < ROWS).toBe(true);
      n++;
    }
  } catch (error) {
    return { n, error, stats: stream.stats };
  }
  return { n, error: undefined, stats: stream.stats };
}

function checkOutcome(
  source: string,
  ls: readonly string[],
  skip: boolean,
  got: Awaited<ReturnType<typeof readAll>>,
): void {
  const want = expected(ls, skip);
  if (want.failAt === 0) {
    expect(got.error).toBeUndefined();
    expect(got.n).toBe(want.valid);
    expect(got.stats.examples + got.stats.skipped).toBe(ls.length);
    return;
  }
  const error = got.error as Error;
  expect(error).toBeInstanceOf(want.long ? LineTooLongError : MalformedLineError);
  expect(error.message.startsWith(`${source}:${want.failAt}: `)).toBe(true);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'recsys-fuzz-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Criteo reader fuzz', () => {
  it('in-memory lines: valid examples or an error naming the line (300 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(lines, fc.boolean(), async (ls, skip) => {
        checkOutcome('<lines>', ls, skip, await readAll(ls, skip));
      }),
      { ...LIMITS, numRuns: 300 },
    );
  }, 120_000);

  it('plain files: valid examples or an error naming the file and line (150 runs)', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(fileText, fc.boolean(), async ({ lines: ls, text }, skip) => {
        const path = join(dir, `plain-${k++}.tsv`);
        await writeFile(path, text);
        checkOutcome(path, ls, skip, await readAll(path, skip));
      }),
      { ...LIMITS, numRuns: 150 },
    );
  }, 120_000);

  it('gzipped files, whole or truncated: never a crash; errors name the file (60 runs)', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(
        fileText,
        fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
        async ({ lines: ls, text }, cut) => {
          const path = join(dir, `gz-${k++}.tsv.gz`);
          const gz = gzipSync(text);
          const bytes = cut === undefined ? gz : gz.subarray(0, Math.floor(gz.length * cut));
          await writeFile(path, bytes);
          const got = await readAll(path, false);
          if (cut === undefined) {
            checkOutcome(path, ls, false, got);
            return;
          }
          if (got.error === undefined) return; // a cut that still parses (e.g. a plain prefix)
          const error = got.error as Error;
          const named =
            error instanceof DataFileError
              ? error.message.startsWith(`${path}: `)
              : (error instanceof MalformedLineError || error instanceof LineTooLongError) &&
                new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: `).test(
                  error.message,
                );
          expect(named, error.message).toBe(true);
        },
      ),
      { ...LIMITS, numRuns: 60 },
    );
  }, 120_000);
});

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DataFileError,
  DEFAULT_MAX_LINE_BYTES,
  LineTooLongError,
  readLines,
} from '../../src/data/lines.js';
import { readCriteo } from '../../src/data/reader.js';
import { fileSource } from '../../src/train/data-source.js';
import { divergedOr, TrainingDivergedError } from '../../src/train/diverged.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/criteo-tiny.tsv', import.meta.url));

let dir: string;
let good: string[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'recsys-robust-'));
  good = (await readFile(FIXTURE, 'utf8')).split('\n').filter((l) => l !== '');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(source: Parameters<typeof readLines>[0], maxLineBytes?: number) {
  const out: string[] = [];
  for await (const l of readLines(source, maxLineBytes === undefined ? {} : { maxLineBytes }))
    out.push(l);
  return out;
}

describe('line splitting with a maximum line length', () => {
  it('reports file:N for a line over the default 64 KiB limit instead of crashing', async () => {
    const path = join(dir, 'long.tsv');
    await writeFile(path, `${good[0]}\n${'x'.repeat(DEFAULT_MAX_LINE_BYTES + 1)}\n${good[1]}\n`);
    const error = await collect(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LineTooLongError);
    expect((error as Error).message).toMatch(
      new RegExp(`^${path.replaceAll('.', '\\.')}:2: line longer than 65536 bytes`),
    );
    // The reader says the same.
    const viaReader = await (async () => {
      for await (const _ of readCriteo(path, { maxIndRange: 10 })) {
        // drain
      }
    })().catch((e: unknown) => e);
    expect((viaReader as Error).message).toContain(`${path}:2: line longer than 65536 bytes`);
  });

  it('accepts a line of exactly the limit; the limit is configurable', async () => {
    const path = join(dir, 'edge.tsv');
    await writeFile(path, `${'a'.repeat(100)}\n${'b'.repeat(101)}`);
    await expect(collect(path, 101)).resolves.toEqual(['a'.repeat(100), 'b'.repeat(101)]);
    await expect(collect(path, 100)).rejects.toThrow(`${path}:2: line longer than 100 bytes`);
    await expect(collect(['ab', 'abc'], 2)).rejects.toThrow('<lines>:2: line longer than 2 bytes');
  });

  it('splits lines across 1 MiB chunks exactly as the text says', async () => {
    const path = join(dir, 'big.tsv');
    const lines = Array.from({ length: 9000 }, (_, i) => `${good[i % good.length]}\t${i}`);
    lines.push('', 'last\r');
    await writeFile(path, lines.join('\n'));
    expect(await collect(path)).toEqual(lines);
    await writeFile(path, `${lines.join('\n')}\n`);
    expect(await collect(path)).toEqual(lines);
  });
});

describe('file errors name the path', () => {
  it('a truncated gzip file says truncated or corrupt and names the file', async () => {
    const path = join(dir, 'cut.tsv.gz');
    const gz = gzipSync(`${good.join('\n')}\n`.repeat(50));
    await writeFile(path, gz.subarray(0, gz.length - 20));
    const error = await collect(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataFileError);
    expect((error as Error).message).toMatch(
      new RegExp(`^${path.replaceAll('.', '\\.')}: gzip data is truncated or corrupt`),
    );
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('a directory, or a missing file, names the path', async () => {
    const sub = join(dir, 'a-directory');
    await mkdir(sub);
    await expect(collect(sub)).rejects.toThrow(`${sub}: is a directory`);
    await expect(collect(join(dir, 'missing.tsv'))).rejects.toThrow(
      `${join(dir, 'missing.tsv')}: no such file`,
    );
  });
});

describe('a data file too small to split', () => {
  it.each([0, 3, 13])('%i lines: says how many examples and how the split works', async (n) => {
    const path = join(dir, `small-${n}.tsv`);
    await writeFile(
      path,
      Array.from({ length: n }, (_, i) => `${good[i % good.length]}\n`).join(''),
    );
    const error = await fileSource({ path, maxIndRange: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain(`${path}: ${n} lines give`);
    expect(message).toMatch(/\d+ training and 0 validation examples/);
    expect(message).toContain('7 consecutive "days"');
    expect(message).toContain('at least 14 lines');
  });

  it('14 lines give one validation example', async () => {
    const path = join(dir, 'small-14.tsv');
    await writeFile(
      path,
      Array.from({ length: 14 }, (_, i) => `${good[i % good.length]}\n`).join(''),
    );
    const source = await fileSource({ path, maxIndRange: 10 });
    expect(source.trainExamples).toBe(12);
    expect(source.validationExamples).toBe(1);
  });
});

describe('divergence', () => {
  it('turns a non-finite gradient error into "training diverged at step N", keeping the cause', () => {
    const original = new RangeError('table "C1": gradOutput[0] = NaN is not finite');
    const error = divergedOr(original, 7);
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect((error as Error).message).toMatch(
      /^training diverged at step 7 .*smaller learning rate/,
    );
    expect((error as Error).cause).toBe(original);
    const other = new Error('disk full');
    expect(divergedOr(other, 7)).toBe(other);
  });
});

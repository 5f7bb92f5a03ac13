import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { type Batch, createBatch, truncateBatch } from '../batch.js';
import { type CategoricalEncoder, HashingEncoder } from '../categorical.js';
import { encodeRow } from '../encode.js';
import { formatCriteoLine } from '../format-line.js';
import { createRawRow } from '../raw-row.js';
import { SyntheticCriteo, type SyntheticOptions } from './generator.js';

export { SyntheticCriteo, type SyntheticOptions } from './generator.js';
export { PlantedModel } from './planted-model.js';
export { DEFAULT_CAP, TARGET_CLICK_RATE, tableSizes } from './profile.js';
export { ZipfSampler } from './zipf.js';

/** Which synthetic examples to produce. */
export interface SyntheticRange extends SyntheticOptions {
  /** Number of examples. */
  examples: number;
  /** Index of the first example (default 0): examples `start .. start + examples - 1`. */
  start?: number;
}

function checkRange(options: SyntheticRange): { start: number; end: number } {
  const start = options.start ?? 0;
  const { examples } = options;
  if (!Number.isSafeInteger(examples) || examples < 0) {
    throw new RangeError(`examples must be a non-negative integer, got ${String(examples)}`);
  }
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(start + examples)) {
    throw new RangeError(`start must be a non-negative integer, got ${String(start)}`);
  }
  return { start, end: start + examples };
}

/**
 * The lines of synthetic examples `start .. start + examples - 1` (see {@link SyntheticCriteo}),
 * in Criteo TSV without newlines, synchronously. Same (seed, cap, index) gives the same line.
 */
export function* syntheticCriteoLines(options: SyntheticRange): Generator<string> {
  const { start, end } = checkRange(options);
  const generator = new SyntheticCriteo(options);
  const row = createRawRow();
  for (let i = start; i < end; i++) {
    generator.fillRow(i, row);
    yield formatCriteoLine(row);
  }
}

/** {@link syntheticCriteoLines} as an async iterable (a drop-in line source for `readCriteo`). */
export async function* syntheticCriteo(options: SyntheticRange): AsyncGenerator<string> {
  yield* syntheticCriteoLines(options);
}

/**
 * Synthetic examples straight into batches, skipping the text: the same examples that reading
 * {@link syntheticCriteo}'s lines with `encoder` gives (default: hashing with the data's own
 * `tableSizes(cap)`, i.e. collision-free rows). Every batch owns fresh arrays; the last may be
 * smaller.
 */
export async function* syntheticBatches(
  options: SyntheticRange & { batchSize: number; encoder?: CategoricalEncoder },
): AsyncGenerator<Batch> {
  const { start, end } = checkRange(options);
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${String(batchSize)}`);
  }
  const generator = new SyntheticCriteo(options);
  const encoder = options.encoder ?? new HashingEncoder(generator.tableSizes);
  const row = createRawRow();
  let batch = createBatch(batchSize);
  let n = 0;
  for (let i = start; i < end; i++) {
    generator.fillRow(i, row);
    encodeRow(row, encoder, batch, n);
    if (++n === batchSize) {
      yield batch;
      batch = createBatch(batchSize);
      n = 0;
    }
  }
  if (n > 0) yield truncateBatch(batch, n);
}

/** Lines per chunk written to the file (about 150 KB). */
const LINES_PER_CHUNK = 1000;

function* chunks(options: SyntheticRange): Generator<string> {
  let chunk = '';
  let n = 0;
  for (const line of syntheticCriteoLines(options)) {
    chunk += `${line}\n`;
    if (++n === LINES_PER_CHUNK) {
      yield chunk;
      chunk = '';
      n = 0;
    }
  }
  if (n > 0) yield chunk;
}

/**
 * Writes synthetic examples to `path` as Criteo TSV (`\n` line ends), gzipped when `path` ends in
 * `.gz`. Streams in chunks of 1,000 lines with back-pressure, so memory stays flat for any count.
 * @returns the number of examples written.
 */
export async function writeSyntheticCriteo(path: string, options: SyntheticRange): Promise<number> {
  checkRange(options);
  const source = Readable.from(chunks(options), { objectMode: false });
  const out = createWriteStream(path);
  if (path.endsWith('.gz')) await pipeline(source, createGzip(), out);
  else await pipeline(source, out);
  return options.examples;
}

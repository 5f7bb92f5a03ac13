import { type Batch, createBatch, type Example, truncateBatch } from './batch.js';
import { type CategoricalEncoder, CategoryDictionary, HashingEncoder } from './categorical.js';
import { encodeRow } from './encode.js';
import { type LineSource, readLines } from './lines.js';
import { MalformedLineError } from './malformed.js';
import { parseCriteoLine } from './parse-line.js';
import { createRawRow } from './raw-row.js';
import { NUM_DENSE, NUM_SPARSE } from './schema.js';
import type { IndexRange } from './split.js';

/** How a reader maps categorical values to rows: give exactly one of the three. */
export interface CategoricalOptions {
  /** DLRM's `--max-ind-range`: every table hashed to `value % maxIndRange`. */
  maxIndRange?: number;
  /** Per-table hashing: `value % tableSizes[t]` (e.g. `tableSizes()` for the built-in data). */
  tableSizes?: readonly number[];
  /** Remapping to dense ids in first-seen order (DLRM without `--max-ind-range`). */
  dictionary?: CategoryDictionary;
}

/** Options of {@link readCriteo} and {@link readCriteoBatches}. */
export interface ReadCriteoOptions extends CategoricalOptions {
  /** On a malformed line: throw a {@link MalformedLineError} (default) or skip and count it. */
  onMalformed?: 'error' | 'skip';
  /**
   * Only the lines whose 0-based index (counting every physical line, malformed ones too) is in
   * `[start, end)`; reading stops after `end`. See `splitTrainValidation`.
   */
  lines?: IndexRange;
  /**
   * The longest line accepted, in bytes (default `DEFAULT_MAX_LINE_BYTES`, 64 KiB; a Criteo line
   * is under 1 KiB). A longer line throws a `LineTooLongError` naming the file and line, whatever
   * `onMalformed` says: a file with such lines is not Criteo TSV.
   */
  maxLineBytes?: number;
}

/** Counters a reader updates while it is iterated. */
export interface ReadStats {
  /** Lines read from the source (within `lines`, if given). */
  lines: number;
  /** Examples produced. */
  examples: number;
  /** Malformed lines skipped (`onMalformed: 'skip'`). */
  skipped: number;
  /** The first 10 skipped lines: 1-based line number and reason. */
  skippedLines: { lineNumber: number; reason: string }[];
}

/** An async iterable of examples or batches, with live {@link ReadStats}. */
export interface CriteoStream<T> extends AsyncIterable<T> {
  /** Counters, updated as the stream is iterated (final once iteration ends). */
  readonly stats: ReadStats;
  /** The categorical encoder in use (its `sizes()` are the table sizes). */
  readonly encoder: CategoricalEncoder;
}

const MAX_SKIPPED_KEPT = 10;

/** The encoder the options ask for; throws a TypeError unless exactly one is given. */
export function categoricalEncoder(options: CategoricalOptions): CategoricalEncoder {
  const given = [options.maxIndRange, options.tableSizes, options.dictionary].filter(
    (x) => x !== undefined,
  ).length;
  if (given !== 1) {
    throw new TypeError('give exactly one of maxIndRange, tableSizes, dictionary');
  }
  if (options.dictionary) return options.dictionary;
  return new HashingEncoder(options.maxIndRange ?? (options.tableSizes as readonly number[]));
}

function newStats(): ReadStats {
  return { lines: 0, examples: 0, skipped: 0, skippedLines: [] };
}

/**
 * Parses and encodes the lines of `source` into batches of up to `batchSize`, calling `emit` for
 * each full batch and the final partial one. Shared core of both readers.
 */
async function* parseBatches(
  source: LineSource,
  options: ReadCriteoOptions,
  encoder: CategoricalEncoder,
  stats: ReadStats,
  batchSize: number,
): AsyncGenerator<Batch> {
  const skip = options.onMalformed === 'skip';
  if (options.onMalformed !== undefined && !skip && options.onMalformed !== 'error') {
    throw new TypeError(
      `onMalformed must be 'error' or 'skip', got ${String(options.onMalformed)}`,
    );
  }
  const name = typeof source === 'string' ? source : '<lines>';
  const start = options.lines?.start ?? 0;
  const end = options.lines?.end ?? Number.POSITIVE_INFINITY;
  const row = createRawRow();
  let batch = createBatch(batchSize);
  let n = 0;
  let index = -1;
  for await (const line of readLines(
    source,
    options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes },
  )) {
    index++;
    if (index < start) continue;
    if (index >= end) break;
    stats.lines++;
    const reason = parseCriteoLine(line, row);
    if (reason !== undefined) {
      if (!skip) throw new MalformedLineError(index + 1, reason, name);
      stats.skipped++;
      if (stats.skippedLines.length < MAX_SKIPPED_KEPT) {
        stats.skippedLines.push({ lineNumber: index + 1, reason });
      }
      continue;
    }
    encodeRow(row, encoder, batch, n);
    stats.examples++;
    if (++n === batchSize) {
      yield batch;
      batch = createBatch(batchSize);
      n = 0;
    }
  }
  if (n > 0) yield truncateBatch(batch, n);
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${String(batchSize)}`);
  }
}

/**
 * Streams Criteo TSV (Kaggle `train.txt`, Terabyte `day_N`; plain or gzipped, detected by magic
 * bytes) as batches of `batchSize` examples (the last one smaller), parsed straight into the batch
 * arrays. Each batch owns fresh arrays (nothing is reused). Memory stays flat for any file length.
 * Dense features: DLRM's transform (negatives to 0, missing 0, log(x + 1)); categorical ones: see
 * {@link CategoricalOptions}.
 * @throws MalformedLineError naming the 1-based line number, unless `onMalformed: 'skip'`.
 */
export function readCriteoBatches(
  source: LineSource,
  options: ReadCriteoOptions & { batchSize: number },
): CriteoStream<Batch> {
  checkBatchSize(options.batchSize);
  const encoder = categoricalEncoder(options);
  const stats = newStats();
  return {
    stats,
    encoder,
    [Symbol.asyncIterator]: () =>
      parseBatches(source, options, encoder, stats, options.batchSize)[Symbol.asyncIterator](),
  };
}

/**
 * Like {@link readCriteoBatches}, one {@link Example} at a time; each example owns fresh arrays.
 * Slower than reading batches (two small arrays per example); use it for inspection and tests.
 */
export function readCriteo(source: LineSource, options: ReadCriteoOptions): CriteoStream<Example> {
  const encoder = categoricalEncoder(options);
  const stats = newStats();
  async function* examples(): AsyncGenerator<Example> {
    for await (const batch of parseBatches(source, options, encoder, stats, 256)) {
      for (let i = 0; i < batch.size; i++) {
        yield {
          label: batch.labels[i]!,
          dense: batch.dense.slice(i * NUM_DENSE, (i + 1) * NUM_DENSE),
          sparse: batch.sparse.slice(i * NUM_SPARSE, (i + 1) * NUM_SPARSE),
        };
      }
    }
  }
  return { stats, encoder, [Symbol.asyncIterator]: () => examples()[Symbol.asyncIterator]() };
}

/**
 * A pre-pass over `source` that builds DLRM's per-table dictionaries (ids in first-seen order;
 * `sizes()` are then the final table sizes for remapping). Honours `onMalformed` and `lines`.
 */
export async function buildCategoryDictionary(
  source: LineSource,
  options: Pick<ReadCriteoOptions, 'onMalformed' | 'lines' | 'maxLineBytes'> = {},
): Promise<CategoryDictionary> {
  const dictionary = new CategoryDictionary();
  for await (const _ of readCriteoBatches(source, { ...options, dictionary, batchSize: 4096 })) {
    // the dictionary fills as a side effect of reading
  }
  return dictionary;
}

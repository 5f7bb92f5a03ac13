import type { Batch } from '../data/batch.js';
import { readCriteoBatches } from '../data/reader.js';
import { countLines, type IndexRange, splitTrainValidation } from '../data/split.js';
import { DEFAULT_CAP, syntheticBatches, tableSizes } from '../data/synthetic/index.js';

/** Where training and validation batches come from. */
export interface DataSource {
  /** One line for the log, e.g. "synthetic (seed 1): 60000 train / 10000 validation". */
  readonly description: string;
  /** Rows of each of the 26 embedding tables. */
  readonly tableSizes: readonly number[];
  readonly trainExamples: number;
  readonly validationExamples: number;
  /** Training examples `start ..` of one epoch (same order every epoch), in batches. */
  trainBatches(batchSize: number, start: number): AsyncIterable<Batch>;
  /** Every validation example, in batches. */
  validationBatches(batchSize: number): AsyncIterable<Batch>;
}

/** Options of {@link syntheticSource}. */
export interface SyntheticSourceOptions {
  /** Seed of the built-in data (its planted model and every example). */
  readonly seed: number;
  readonly trainExamples: number;
  readonly validationExamples: number;
  /** Cap on table rows (default 100,000). */
  readonly cap?: number;
}

/**
 * The built-in synthetic Criteo data: examples `0 .. train-1` train, the next `validation`
 * examples validate; each table has `min(kaggle, cap)` rows, hashed without collisions.
 */
export function syntheticSource(options: SyntheticSourceOptions): DataSource {
  const { seed, trainExamples, validationExamples } = options;
  const cap = options.cap ?? DEFAULT_CAP;
  return {
    description: `built-in synthetic data (seed ${seed}, cap ${cap}): ${trainExamples} train / ${validationExamples} validation examples`,
    tableSizes: tableSizes(cap),
    trainExamples,
    validationExamples,
    trainBatches: (batchSize, start) =>
      syntheticBatches({
        seed,
        cap,
        batchSize,
        start,
        examples: Math.max(0, trainExamples - start),
      }),
    validationBatches: (batchSize) =>
      syntheticBatches({
        seed,
        cap,
        batchSize,
        start: trainExamples,
        examples: validationExamples,
      }),
  };
}

/** Options of {@link fileSource}. */
export interface FileSourceOptions {
  /** Criteo TSV, plain or gzipped. */
  readonly path: string;
  /** Every categorical value is hashed to `value % maxIndRange` (DLRM's `--max-ind-range`). */
  readonly maxIndRange: number;
  /** Use at most this many of the train lines (default all). */
  readonly trainExamples?: number;
}

/** How {@link fileSource} splits a file, for error messages. */
const SPLIT_RULE =
  'The file is split as DLRM splits Kaggle\'s train.txt: 7 consecutive "days" of floor(lines / 7) lines each (the first lines % 7 days one longer); days 1-6 train, the first half of day 7 is test (unused) and its second half validation, so at least 14 lines are needed.';

/**
 * A Criteo file split as DLRM splits Kaggle's `train.txt` (`splitTrainValidation`, 7 "days": the
 * first 6/7 train, the second half of the last day validation), every table `maxIndRange` rows.
 * Counts the lines once up front. Malformed lines throw a `MalformedLineError` with the line number.
 * @throws Error when the split leaves no training or no validation example (fewer than 14 lines).
 */
export async function fileSource(options: FileSourceOptions): Promise<DataSource> {
  const { path, maxIndRange } = options;
  const total = await countLines(path);
  const split = splitTrainValidation(total);
  const train: IndexRange = {
    start: split.train.start,
    end: Math.min(split.train.end, split.train.start + (options.trainExamples ?? total)),
  };
  const trainExamples = train.end - train.start;
  const validationExamples = split.validation.end - split.validation.start;
  if (trainExamples < 1 || validationExamples < 1) {
    throw new Error(
      `${path}: ${total} lines give ${trainExamples} training and ${validationExamples} validation examples; training needs at least one of each. ${SPLIT_RULE}`,
    );
  }
  return {
    description: `${path}: ${total} lines, ${trainExamples} train / ${validationExamples} validation examples, tables hashed to ${maxIndRange} rows`,
    tableSizes: new Array<number>(26).fill(maxIndRange),
    trainExamples,
    validationExamples,
    trainBatches: (batchSize, start) =>
      readCriteoBatches(path, {
        batchSize,
        maxIndRange,
        lines: { start: train.start + start, end: train.end },
      }),
    validationBatches: (batchSize) =>
      readCriteoBatches(path, { batchSize, maxIndRange, lines: split.validation }),
  };
}

import { type ReadLinesOptions, readLines } from './lines.js';

/** A half-open range `[start, end)` of 0-based example (line) positions. */
export interface IndexRange {
  start: number;
  end: number;
}

/** Train, validation and test ranges over `total` positions; any of them may be empty. */
export interface DataSplit {
  train: IndexRange;
  validation: IndexRange;
  test: IndexRange;
}

/** Options of {@link splitTrainValidation}. */
export type SplitOptions =
  | {
      /** DLRM's `--data-split=train` on one file (default): see {@link splitTrainValidation}. */
      scheme?: 'dlrm';
      /** Number of "days" the file is cut into (DLRM: 7 for Kaggle, 24 for Terabyte). */
      days?: number;
    }
  | {
      scheme: 'fraction';
      /** The last `validationFraction` of positions (rounded down) is validation; test is empty. */
      validationFraction: number;
    };

function checkTotal(total: number): void {
  if (!Number.isInteger(total) || total < 0) {
    throw new RangeError(`total must be a non-negative integer, got ${String(total)}`);
  }
}

/**
 * Splits positions `0..total-1` by position, without shuffling.
 *
 * `scheme: 'dlrm'` (default, `days = 7`) matches facebookresearch/dlrm with `--data-split=train`
 * on Kaggle's single `train.txt` (`data_utils.getCriteoAdData` + `dlrm_data_pytorch.CriteoDataset`):
 * the file is cut into `days` consecutive parts, `floor(total / days)` lines each with the first
 * `total % days` parts one longer; the first `days - 1` parts are train; the last part is split in
 * two (`np.array_split(…, 2)`): its first `ceil(n / 2)` lines are test, the rest validation.
 * (DLRM's `randomize='total'` then shuffles the train part; that is the trainer's business.)
 *
 * `scheme: 'fraction'`: the first `total - floor(total * validationFraction)` positions are train,
 * the rest validation, test empty.
 */
export function splitTrainValidation(total: number, options: SplitOptions = {}): DataSplit {
  checkTotal(total);
  if (options.scheme === 'fraction') {
    const f = options.validationFraction;
    if (!(f >= 0 && f <= 1)) throw new RangeError(`validationFraction must be in [0, 1], got ${f}`);
    const cut = total - Math.floor(total * f);
    return {
      train: { start: 0, end: cut },
      validation: { start: cut, end: total },
      test: { start: total, end: total },
    };
  }
  const days = options.days ?? 7;
  if (!Number.isInteger(days) || days < 2) {
    throw new RangeError(`days must be an integer >= 2, got ${String(days)}`);
  }
  const perDay = Math.floor(total / days);
  // Only the first `total % days` days get an extra line, so the last day has exactly perDay.
  const lastDayStart = total - perDay;
  const testEnd = lastDayStart + Math.ceil(perDay / 2);
  return {
    train: { start: 0, end: lastDayStart },
    test: { start: lastDayStart, end: testEnd },
    validation: { start: testEnd, end: total },
  };
}

/** The items of `source` at positions in `range`; stops pulling from `source` after `range.end`. */
export async function* takeRange<T>(
  source: Iterable<T> | AsyncIterable<T>,
  range: IndexRange,
): AsyncGenerator<T> {
  if (range.end <= range.start) return;
  let i = 0;
  for await (const item of source) {
    if (i >= range.start) yield item;
    if (++i >= range.end) return;
  }
}

/**
 * Number of lines in the Criteo file at `path` (plain or gzipped), streaming.
 * @throws LineTooLongError or DataFileError as {@link readLines} does.
 */
export async function countLines(path: string, options: ReadLinesOptions = {}): Promise<number> {
  let n = 0;
  for await (const _ of readLines(path, options)) n++;
  return n;
}

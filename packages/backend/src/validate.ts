import { argumentError, checkInstance } from '@halfstep/codecs';
import { BadInputError } from './errors.js';
import { checkTableInit } from './init.js';
import type {
  BagInput,
  BagUpdate,
  MatmulArgs,
  Pooling,
  TableSpec,
  Tensor,
  WriteRowsOptions,
} from './types.js';

const STORAGES = new Set(['float32', 'float16', 'bfloat16', 'float8e4m3', 'float8e5m2']);

/**
 * Checks a table spec: positive integer rows and dim with rows x dim < 2^31 elements, a known
 * storage and rounding, a table index in 0..2^24 - 1 and a seed in [0, 2^64).
 * @throws RangeError naming the field.
 */
export function checkTableSpec(spec: TableSpec): void {
  const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v);
  if (!int(spec.rows) || spec.rows < 1)
    throw new RangeError(`rows: expected a positive integer, got ${spec.rows}`);
  if (!int(spec.dim) || spec.dim < 1)
    throw new RangeError(`dim: expected a positive integer, got ${spec.dim}`);
  if (spec.rows * spec.dim >= 2 ** 31) {
    throw new RangeError(
      `rows x dim = ${spec.rows * spec.dim}: tables hold fewer than 2^31 elements`,
    );
  }
  if (!STORAGES.has(spec.storage)) {
    throw new RangeError(
      `storage: expected one of ${[...STORAGES].join(', ')}, got ${String(spec.storage)}`,
    );
  }
  if (spec.rounding !== 'stochastic' && spec.rounding !== 'nearest-even') {
    throw new RangeError(
      `rounding: expected "stochastic" or "nearest-even", got ${String(spec.rounding)}`,
    );
  }
  if (!int(spec.index) || spec.index < 0 || spec.index >= 2 ** 24) {
    throw new RangeError(`table index: expected an integer in 0..2^24 - 1, got ${spec.index}`);
  }
  if (typeof spec.seed !== 'bigint' || spec.seed < 0n || spec.seed >= 2n ** 64n) {
    throw new RangeError(`seed: expected a bigint in [0, 2^64), got ${String(spec.seed)}`);
  }
  checkTableInit(spec);
}

/**
 * Checks one batch of lookups against a table of `rows` rows, before anything is read:
 * `indices` an Int32Array of integers in [0, rows); `offsets` an Int32Array starting at 0 (when
 * there is a bag), non-decreasing, none past `indices.length`; `perSampleWeights`, when given, a
 * Float32Array of finite values, one per index, and only with sum pooling.
 * @throws TypeError naming the table and the argument when `indices` or `offsets` is not an
 *   Int32Array or `perSampleWeights` not a Float32Array (a missing one included); BadInputError
 *   naming the table, the argument, the position and the value.
 */
export function checkBagInput(
  table: string,
  rows: number,
  input: BagInput,
  pooling: Pooling,
): void {
  if (typeof input !== 'object' || input === null) {
    throw argumentError(
      `table "${table}": input`,
      'a batch { indices, offsets, perSampleWeights? }',
      input,
    );
  }
  const { indices, offsets, perSampleWeights } = input;
  checkInstance(indices, Int32Array, `table "${table}": indices`);
  checkInstance(offsets, Int32Array, `table "${table}": offsets`);
  const n = indices.length;
  for (let i = 0; i < n; i++) {
    const v = indices[i]!;
    if (v < 0 || v >= rows) {
      throw new BadInputError(
        table,
        'indices',
        i,
        v,
        `indices[${i}] = ${v} is out of range [0, ${rows})`,
      );
    }
  }
  const bags = offsets.length;
  if (bags > 0 && offsets[0] !== 0) {
    throw new BadInputError(
      table,
      'offsets',
      0,
      offsets[0]!,
      `offsets[0] = ${offsets[0]}; the first bag must start at 0`,
    );
  }
  for (let b = 0; b < bags; b++) {
    const o = offsets[b]!;
    if (o > n) {
      throw new BadInputError(
        table,
        'offsets',
        b,
        o,
        `offsets[${b}] = ${o} is past the end of indices (length ${n})`,
      );
    }
    if (b > 0 && o < offsets[b - 1]!) {
      throw new BadInputError(
        table,
        'offsets',
        b,
        o,
        `offsets[${b}] = ${o} is less than offsets[${b - 1}] = ${offsets[b - 1]}; offsets must be non-decreasing`,
      );
    }
  }
  if (bags === 0 && n > 0) {
    throw new BadInputError(
      table,
      'offsets',
      -1,
      0,
      `offsets is empty but indices has ${n} entries`,
    );
  }
  if (perSampleWeights !== undefined) {
    if (pooling !== 'sum') {
      throw new BadInputError(
        table,
        'perSampleWeights',
        -1,
        Number.NaN,
        'perSampleWeights: only sum pooling takes per-sample weights',
      );
    }
    checkInstance(perSampleWeights, Float32Array, `table "${table}": perSampleWeights`);
    if (perSampleWeights.length !== n) {
      throw new BadInputError(
        table,
        'perSampleWeights',
        -1,
        perSampleWeights.length,
        `perSampleWeights: expected a Float32Array of ${n} values (one per index), got length ${perSampleWeights.length}`,
      );
    }
    for (let i = 0; i < n; i++) {
      const w = perSampleWeights[i]!;
      if (w - w !== 0) {
        throw new BadInputError(
          table,
          'perSampleWeights',
          i,
          w,
          `perSampleWeights[${i}] = ${w} is not finite`,
        );
      }
    }
  }
}

/**
 * Indices or offsets as callers may give them: an Int32Array (used as is), int64 values
 * (`BigInt64Array`, `BigUint64Array`: PyTorch's default index type), or any array-like of integer
 * numbers or bigints (a plain array, a Float64Array...).
 */
export type IndexArray =
  | Int32Array
  | BigInt64Array
  | BigUint64Array
  | ArrayLike<number>
  | ArrayLike<bigint>
  | ArrayLike<number | bigint>;

/**
 * Throws a TypeError unless `value` is an `IndexArray` (an object with a numeric `length`).
 * @param where - the function and the argument, for the message (`'forward: indices'`).
 */
export function checkIndexArray(value: unknown, where: string): IndexArray {
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as { length?: unknown }).length !== 'number'
  ) {
    throw argumentError(
      where,
      'an Int32Array, a BigInt64Array or an array of integers (numbers or bigints)',
      value,
    );
  }
  return value as IndexArray;
}

const TWO_POW_31 = 2 ** 31;

/**
 * Converts `values` to an Int32Array, checking each value: an integer number or a bigint in
 * [0, `limit`). An Int32Array is returned as is (its range is `checkBagInput`'s job).
 */
function toInt32(
  table: string,
  argument: string,
  values: unknown,
  limit: number,
  outOfRange: (i: number, v: number | bigint) => string,
): Int32Array {
  if (values instanceof Int32Array) return values;
  const list = checkIndexArray(values, `table "${table}": ${argument}`) as ArrayLike<unknown>;
  const n = list.length;
  const out = new Int32Array(n);
  const bigLimit = BigInt(limit);
  for (let i = 0; i < n; i++) {
    const v = list[i];
    if (typeof v === 'bigint') {
      if (v < 0n || v >= bigLimit) {
        throw new BadInputError(table, argument, i, Number(v), outOfRange(i, v));
      }
      out[i] = Number(v);
      continue;
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new BadInputError(
        table,
        argument,
        i,
        Number(v),
        `${argument}[${i}] = ${String(v)} is not an integer`,
      );
    }
    if (v < 0 || v >= limit) throw new BadInputError(table, argument, i, v, outOfRange(i, v));
    out[i] = v;
  }
  return out;
}

/**
 * Checks an indices array that may not be an Int32Array (plain arrays, Float64Array, int64
 * `BigInt64Array`, bigints) and returns it as one: every value must be an integer in [0, rows).
 * @throws TypeError naming the table and `argument` when `indices` is not an array (missing,
 *   null, a number); BadInputError naming the table, the position and the value.
 */
export function toIndices(
  table: string,
  rows: number,
  indices: IndexArray,
  argument = 'indices',
): Int32Array {
  return toInt32(
    table,
    argument,
    indices,
    rows,
    (i, v) => `${argument}[${i}] = ${v} is out of range [0, ${rows})`,
  );
}

/**
 * Checks an offsets array that may not be an Int32Array (as `toIndices` does) and returns it as
 * one (non-negative integers below 2^31; the order is `checkBagInput`'s job).
 * @throws TypeError naming the table when `offsets` is not an array; BadInputError naming the
 *   table, the position and the value.
 */
export function toOffsets(table: string, offsets: IndexArray): Int32Array {
  return toInt32(
    table,
    'offsets',
    offsets,
    TWO_POW_31,
    (i, v) => `offsets[${i}] = ${v} is not a non-negative integer`,
  );
}

/**
 * Checks a fused-backward request: a valid batch, `gradOutput` a tensor (or, for host-side
 * aggregation, a Float32Array) of bags x dim values, a
 * known non-finite policy and a non-negative integer step. (Finiteness is checked where the
 * gradient lives: `checkFiniteGradient` on host backends, a kernel on a device.)
 * @throws BadInputError; the message names the table, the argument and the value.
 */
export function checkBagUpdate(
  update: Omit<BagUpdate, 'gradOutput'> & { readonly gradOutput: Tensor | Float32Array },
): void {
  const { table, input, gradOutput } = update;
  checkBagInput(table.name, table.rows, input, update.pooling);
  const expected = input.offsets.length * table.dim;
  const size = gradOutput instanceof Float32Array ? gradOutput.length : gradOutput?.size;
  if (!Number.isInteger(size) || size !== expected) {
    const got = Number.isInteger(size) ? `${size} values` : 'not a tensor';
    throw new BadInputError(
      table.name,
      'gradOutput',
      -1,
      size ?? Number.NaN,
      `gradOutput: expected a tensor of ${input.offsets.length} bags x ${table.dim} = ${expected} values, got ${got}`,
    );
  }
  const policy = update.nonFinite ?? 'error';
  if (policy !== 'error' && policy !== 'skip-rows') {
    throw new RangeError(`nonFinite: expected "error" or "skip-rows", got ${String(policy)}`);
  }
  if (!Number.isInteger(update.step) || update.step < 0) {
    throw new RangeError(`step: expected a non-negative integer, got ${update.step}`);
  }
}

/**
 * The error for the first non-finite value of an update's gradient under the 'error' policy, or
 * null when every value is finite or the policy is 'skip-rows'.
 */
export function checkFiniteGradient(
  update: Pick<BagUpdate, 'table' | 'nonFinite'>,
  values: Float32Array,
): BadInputError | null {
  if ((update.nonFinite ?? 'error') !== 'error') return null;
  const i = firstNonFinite(values);
  return i < 0 ? null : nonFiniteGradient(update.table.name, i, update.table.dim, values[i]!);
}

/**
 * Checks that `tensor` holds at least `length` values.
 * @throws RangeError `name: expected a tensor of at least N values, got M`.
 */
export function checkTensorSize(tensor: Tensor, length: number, name: string): void {
  if (!(tensor?.size >= length)) {
    throw new RangeError(
      `${name}: expected a tensor of at least ${length} values, got ${String(tensor?.size)}`,
    );
  }
}

/**
 * Checks `matmul`'s arguments, in this order: m, n, k non-negative integers; a, b, c tensors of at
 * least m x k, k x n and m x n values.
 * @throws RangeError naming the argument.
 */
export function checkMatmul(args: MatmulArgs): void {
  const { m, n, k, a, b, c } = args;
  for (const [v, name] of [
    [m, 'm'],
    [n, 'n'],
    [k, 'k'],
  ] as const) {
    if (!Number.isInteger(v) || v < 0)
      throw new RangeError(`${name}: expected a non-negative integer, got ${v}`);
  }
  checkTensorSize(a, m * k, 'a');
  checkTensorSize(b, k * n, 'b');
  checkTensorSize(c, m * n, 'c');
}

/**
 * Checks `rows` and `cols` of a row-major dense op: non-negative integers.
 * @throws RangeError naming the argument.
 */
export function checkRowsCols(rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0)
    throw new RangeError(`rows: expected a non-negative integer, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 0)
    throw new RangeError(`cols: expected a non-negative integer, got ${cols}`);
}

/** The position of the first NaN or infinity in `values[0 .. end)`, or -1. */
export function firstNonFinite(values: Float32Array, end: number = values.length): number {
  for (let i = 0; i < end; i++) {
    const v = values[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}

/** The error for a non-finite gradient value at position `i` of a bags x dim gradient. */
export function nonFiniteGradient(
  table: string,
  i: number,
  dim: number,
  value: number,
): BadInputError {
  const bag = Math.floor(i / dim);
  return new BadInputError(
    table,
    'gradOutput',
    i,
    value,
    `gradOutput[${i}] (bag ${bag}, column ${i - bag * dim}) = ${value} is not finite; nothing was updated (nonFinite: 'skip-rows' skips the affected rows instead)`,
  );
}

/**
 * The error for a row whose summed gradient overflowed to infinity although every input was finite.
 */
export function nonFiniteRowGradient(table: string, row: number): BadInputError {
  return new BadInputError(
    table,
    'gradOutput',
    -1,
    row,
    `the summed gradient of row ${row} overflows float32; nothing was updated (nonFinite: 'skip-rows' skips such rows instead)`,
  );
}

/**
 * The error for a row whose update, computed from a finite gradient, gives a non-finite new
 * weight or optimizer state (float32 overflow, e.g. a huge weight pushed further, or Adam's
 * squared gradient): under the 'error' policy the step is refused and no table changes.
 */
export function nonFiniteRowResult(table: string, row: number): BadInputError {
  return new BadInputError(
    table,
    'gradOutput',
    -1,
    row,
    `the update of row ${row} gives a non-finite weight or optimizer state; nothing was updated (nonFinite: 'skip-rows' skips such rows instead)`,
  );
}

/**
 * Checks the `rows` argument of `readRows`/`writeRows`: every entry must lie in [0, table.rows).
 * @returns the number of rows the call covers: `rows.length`, or `table.rows` when `rows` is
 *   omitted (every row).
 * @throws RangeError naming the table, the position and the value.
 */
export function checkRowNumbers(
  table: Pick<TableSpec, 'name' | 'rows'>,
  rows: Int32Array | undefined,
): number {
  if (rows === undefined) return table.rows;
  for (let k = 0; k < rows.length; k++) {
    if (!(rows[k]! >= 0 && rows[k]! < table.rows)) {
      throw new RangeError(
        `table "${table.name}": rows[${k}] = ${rows[k]} is out of range [0, ${table.rows})`,
      );
    }
  }
  return rows.length;
}

/**
 * Checks the arguments of `writeRows`, in this order: `values` is a Float32Array of (`rows.length`,
 * or every row) x dim values; every row lies in [0, table.rows) (`checkRowNumbers`); every value
 * is finite, unless `options.allowNonFinite`. A backend calls it before writing anything.
 * @returns the number of rows the call covers.
 * @throws RangeError naming the table, the position, the row and column, and the value.
 */
export function checkWriteRows(
  table: Pick<TableSpec, 'name' | 'rows' | 'dim'>,
  values: Float32Array,
  rows: Int32Array | undefined,
  options?: WriteRowsOptions,
): number {
  const dim = table.dim;
  const count = rows === undefined ? table.rows : rows.length;
  if (!(values instanceof Float32Array) || values.length !== count * dim) {
    throw new RangeError(
      `values: expected a Float32Array of ${count} rows x ${dim} = ${count * dim} values`,
    );
  }
  checkRowNumbers(table, rows);
  if (options?.allowNonFinite === true) return count;
  const i = firstNonFinite(values);
  if (i >= 0) {
    const k = Math.floor(i / dim);
    const row = rows === undefined ? k : rows[k]!;
    throw new RangeError(
      `table "${table.name}": values[${i}] (row ${row}, column ${i - k * dim}) = ${values[i]} is not finite; nothing was written (writeRows' { allowNonFinite: true } stores it)`,
    );
  }
  return count;
}

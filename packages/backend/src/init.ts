import { DOMAIN_INIT, fillRowWords, philoxSchedule, tableDomain } from './random-bits.js';
import type { Backend, TableHandle, TableInit, TableSpec } from './types.js';

/** Rows initialised per chunk, to bound the scratch memory. */
const CHUNK_ELEMENTS = 1 << 18;

/**
 * The initial float32 weights of rows `start .. start + count` of a table, before the
 * nearest-even store: zeros; the slice of an explicit `Float32Array`; or for `{ uniform: b }`
 * element (row, col) = `fround(-b + fround(2b) * u)` with u = (word >>> 8) * 2^-24, word = word
 * `col` of the counter-based stream of (seed, step 0, table index, domain DOMAIN_INIT, row) (see
 * the README). Every backend and store initialises from these values.
 */
export function initialRows(
  spec: Pick<TableSpec, 'dim' | 'seed' | 'index' | 'init'>,
  start: number,
  count: number,
): Float32Array {
  const { dim } = spec;
  const init = spec.init ?? 'zeros';
  if (init === 'zeros') return new Float32Array(count * dim);
  if (init instanceof Float32Array) return init.slice(start * dim, (start + count) * dim);
  const schedule = philoxSchedule(spec.seed);
  const td = tableDomain(spec.index, DOMAIN_INIT);
  const low = Math.fround(-init.uniform);
  const width = Math.fround(2 * init.uniform);
  const words = new Uint32Array(dim + 4);
  const values = new Float32Array(count * dim);
  for (let k = 0; k < count; k++) {
    fillRowWords(schedule, start + k, 0, td, words, dim);
    const o = k * dim;
    for (let c = 0; c < dim; c++)
      values[o + c] = low + Math.fround(width * ((words[c]! >>> 8) * 2 ** -24));
  }
  return values;
}

/**
 * Checks `spec.init`: 'zeros'; `{ uniform: b }` with b finite and >= 0 and `fround(2b)` finite
 * (the width `initialRows` draws from); or a Float32Array of rows x dim finite values (to store
 * NaN or infinities, create the table and `writeRows` them with `{ allowNonFinite: true }`).
 * Also checks that `spec.onProgress` is a function or undefined.
 * @throws RangeError naming the problem (and the table, when `spec.name` is given); TypeError
 *   for an `onProgress` that is not a function.
 */
export function checkTableInit(
  spec: Pick<TableSpec, 'rows' | 'dim' | 'init' | 'onProgress'> & {
    readonly name?: string | undefined;
  },
): void {
  checkOnProgress(spec.onProgress, spec.name);
  const init: TableInit | undefined = spec.init;
  if (init === undefined || init === 'zeros') return;
  const where = spec.name === undefined ? '' : `table "${spec.name}": `;
  if (init instanceof Float32Array) {
    if (init.length !== spec.rows * spec.dim) {
      throw new RangeError(
        `init: expected ${spec.rows} rows x ${spec.dim} = ${spec.rows * spec.dim} values, got ${init.length}`,
      );
    }
    let i = 0;
    while (i < init.length && Number.isFinite(init[i]!)) i++;
    if (i < init.length) {
      const row = Math.floor(i / spec.dim);
      throw new RangeError(
        `${where}init[${i}] (row ${row}, column ${i - row * spec.dim}) = ${init[i]} is not finite; initial weights must be finite`,
      );
    }
    return;
  }
  if (
    typeof init !== 'object' ||
    init === null ||
    !(init.uniform >= 0 && init.uniform < Infinity)
  ) {
    throw new RangeError(
      `init: expected 'zeros', { uniform: b } with a finite b >= 0, or a Float32Array`,
    );
  }
  const width = Math.fround(2 * init.uniform);
  if (width === Infinity) {
    throw new RangeError(
      `${where}init: { uniform: ${init.uniform} }: 2b rounds to Infinity in float32; expected a bound whose double is finite in float32`,
    );
  }
}

/**
 * Elements (rows x dim) a table's initialisation writes between two calls of its `onProgress`:
 * 2^22, e.g. 2^20 rows of dim 4 (see {@link initProgressRows}).
 */
export const INIT_PROGRESS_ELEMENTS = 1 << 22;

/**
 * The rows written between two calls of a table's `onProgress` while it is initialised, for a
 * table of `dim` columns: `max(1, floor(INIT_PROGRESS_ELEMENTS / dim))` (2^20 rows at dim 4,
 * 2^16 at dim 64), so that the calls come at about the same pace whatever the width. A table of
 * n rows gets at most `floor(n / initProgressRows(dim)) + 1` calls.
 */
export function initProgressRows(dim: number): number {
  return Math.max(1, Math.floor(INIT_PROGRESS_ELEMENTS / dim));
}

/**
 * Writes a new table's initial weights (`initialRows` of `init`, stored with nearest-even)
 * through `writeRows`, in chunks: what a backend's `createTable` calls with its spec's `init`
 * and `onProgress`. `onProgress(done, table.rows)` is called after a chunk once at least
 * {@link initProgressRows} rows were written since the last call, and always after the last
 * chunk with `done === table.rows`; for zeros (nothing to write) only that last call is made.
 * @throws TypeError when `onProgress` is neither a function nor undefined (before anything is
 *   written); whatever `writeRows` or `onProgress` throws.
 */
export function initializeTable(
  backend: Backend,
  table: TableHandle,
  init: TableInit | undefined,
  onProgress?: ((done: number, total: number) => void) | undefined,
): void {
  checkOnProgress(onProgress, table.name);
  const total = table.rows;
  if (init === undefined || init === 'zeros') {
    onProgress?.(total, total);
    return;
  }
  const spec = { dim: table.dim, seed: table.seed, index: table.index, init };
  const chunkRows = Math.max(1, Math.floor(CHUNK_ELEMENTS / table.dim));
  const every = initProgressRows(table.dim);
  let reported = 0;
  for (let start = 0; start < total; start += chunkRows) {
    const count = Math.min(chunkRows, total - start);
    const rows = new Int32Array(count);
    for (let k = 0; k < count; k++) rows[k] = start + k;
    backend.writeRows(table, initialRows(spec, start, count), count === total ? undefined : rows);
    const done = start + count;
    if (onProgress !== undefined && (done === total || done - reported >= every)) {
      reported = done;
      onProgress(done, total);
    }
  }
}

function checkOnProgress(onProgress: unknown, name: string | undefined): void {
  if (onProgress === undefined || typeof onProgress === 'function') return;
  const where = name === undefined ? '' : `table "${name}": `;
  throw new TypeError(
    `${where}onProgress: expected a function (done, total) or undefined, got ${typeof onProgress}`,
  );
}

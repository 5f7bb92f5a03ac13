import {
  type Backend,
  DOMAIN_INIT,
  fillRowWords,
  philoxSchedule,
  type TableHandle,
  tableDomain,
} from '@halfstep/backend';
import type { Init } from './config.js';

/** Rows initialised per chunk, to bound the scratch memory. */
const CHUNK_ELEMENTS = 1 << 18;

/**
 * Writes the initial weights of a table. `{ uniform: b }`: element (row, col) is
 * `fround(-b + fround(2b) * u)` with u = (word >>> 8) * 2^-24, word = word `col` of the
 * counter-based stream of (seed, step 0, table t, domain DOMAIN_INIT, row) (see
 * `@halfstep/backend`'s README); stored with nearest-even.
 */
export function initializeTable(backend: Backend, table: TableHandle, init: Init): void {
  if (init === 'zeros') return;
  if (init instanceof Float32Array) {
    backend.writeRows(table, init);
    return;
  }
  const { rows, dim } = table;
  const schedule = philoxSchedule(table.seed);
  const td = tableDomain(table.index, DOMAIN_INIT);
  const low = Math.fround(-init.uniform);
  const width = Math.fround(2 * init.uniform);
  const chunkRows = Math.max(1, Math.floor(CHUNK_ELEMENTS / dim));
  const words = new Uint32Array(dim + 4);
  let values = new Float32Array(Math.min(rows, chunkRows) * dim);
  let rowIds = new Int32Array(Math.min(rows, chunkRows));
  for (let start = 0; start < rows; start += chunkRows) {
    const count = Math.min(chunkRows, rows - start);
    if (count !== rowIds.length) {
      values = new Float32Array(count * dim);
      rowIds = new Int32Array(count);
    }
    for (let k = 0; k < count; k++) {
      const row = start + k;
      rowIds[k] = row;
      fillRowWords(schedule, row, 0, td, words, dim);
      const o = k * dim;
      for (let c = 0; c < dim; c++)
        values[o + c] = low + Math.fround(width * ((words[c] >>> 8) * 2 ** -24));
    }
    backend.writeRows(table, values, rowIds);
  }
}

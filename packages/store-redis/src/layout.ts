import { bytesPerElement, type StorageName, type TableSpec } from '@halfstep/backend';

/** Default payload bytes per block key: rows are packed into strings of at most this size. */
export const DEFAULT_BLOCK_BYTES = 16320;

/** Where a table's rows live in Redis: fixed-size records packed into block keys. */
export interface TableLayout {
  /** Bytes of one row's weights: dim x 4 (float32), x 2 (16-bit) or x 1 (8-bit). */
  readonly weightBytes: number;
  /** Optimizer state values per row. */
  readonly stateSize: number;
  /** Bytes of one row's record: weights then optimizer state. */
  readonly recordBytes: number;
  /** Rows per block key (the last block may hold fewer). */
  readonly blockRows: number;
  /** Number of block keys. */
  readonly blocks: number;
}

/** The most values (weights + optimizer state) per row the Redis update function handles. */
export const MAX_RECORD_VALUES = 6000;

/** The storages the Redis store keeps: every halfstep storage (float32, 16- and 8-bit). */
export const SUPPORTED_STORAGES: readonly StorageName[] = [
  'float32',
  'float16',
  'bfloat16',
  'float8e4m3',
  'float8e5m2',
];

/**
 * The layout of a table with `blockBytes` payload per block key: as many whole records as fit,
 * at least one. A block of ~16 KB amortises Redis's per-key overhead (about 60-90 bytes) to
 * under 1% and stays within one allocator size class.
 * @throws RangeError naming the table for a storage the Redis store does not support.
 */
export function tableLayout(
  spec: Pick<TableSpec, 'name' | 'rows' | 'dim' | 'storage' | 'optimizer'>,
  blockBytes: number,
): TableLayout {
  if (!SUPPORTED_STORAGES.includes(spec.storage)) {
    throw new RangeError(
      `table "${spec.name}": storage "${spec.storage}" is not supported by the Redis store (${SUPPORTED_STORAGES.join(', ')})`,
    );
  }
  const weightBytes = spec.dim * bytesPerElement(spec.storage);
  const stateSize = spec.optimizer.stateSize(spec.dim);
  if (spec.dim + stateSize > MAX_RECORD_VALUES) {
    throw new RangeError(
      `table "${spec.name}": dim + optimizer state = ${spec.dim + stateSize} values per row; the Redis store handles at most ${MAX_RECORD_VALUES}`,
    );
  }
  const recordBytes = weightBytes + stateSize * bytesPerElement(spec.optimizer.stateStorage);
  const blockRows = Math.max(1, Math.min(spec.rows, Math.floor(blockBytes / recordBytes)));
  return {
    weightBytes,
    stateSize,
    recordBytes,
    blockRows,
    blocks: Math.ceil(spec.rows / blockRows),
  };
}

/** Payload bytes of block `b` of a table of `rows` rows. */
export function blockLength(layout: TableLayout, rows: number, b: number): number {
  return Math.min(layout.blockRows, rows - b * layout.blockRows) * layout.recordBytes;
}

/**
 * Groups `rows` by the block holding them: block -> the positions in `rows` of its rows, in
 * order (one read or update call per block).
 */
export function rowsByBlock(layout: TableLayout, rows: Int32Array): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let k = 0; k < rows.length; k++) {
    const b = Math.floor(rows[k]! / layout.blockRows);
    let g = groups.get(b);
    if (!g) {
      g = [];
      groups.set(b, g);
    }
    g.push(k);
  }
  return groups;
}

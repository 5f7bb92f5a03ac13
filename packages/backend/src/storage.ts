import type { StorageName, TableHandle, TableSpec } from './types.js';

/** Bytes per stored element: 4 for float32, 2 for 16-bit formats, 1 for 8-bit ones. */
export function bytesPerElement(storage: StorageName): 1 | 2 | 4 {
  if (storage === 'float32') return 4;
  if (storage === 'float16' || storage === 'bfloat16') return 2;
  return 1;
}

/** What a table takes in memory, known before it is allocated (see {@link tableBytes}). */
export interface TableBytes {
  /** The weights: rows x dim x `bytesPerElement(storage)` (4, 2 or 1). */
  readonly weightBytes: number;
  /** The optimizer state: rows x `optimizer.stateSize(dim)` x `bytesPerElement(optimizer.stateStorage)`. */
  readonly stateBytes: number;
  /** `weightBytes + stateBytes`. */
  readonly totalBytes: number;
}

/**
 * The exact bytes a table of `spec` takes, weights and optimizer state, before anything is
 * allocated: the `weightBytes` and `stateBytes` of the handle every backend's `createTable`
 * returns for it (a backend may round its buffers up, e.g. to 4 bytes on a GPU, beyond these).
 * Pure: checks nothing, allocates nothing. E.g. 1000 rows of dim 64 with Adam's two float32
 * slots per element: float16 weights take 1000 x 64 x 2 = 128000 bytes and the state
 * 1000 x 128 x 4 = 512000.
 */
export function tableBytes(
  spec: Pick<TableSpec, 'rows' | 'dim' | 'storage' | 'optimizer'>,
): TableBytes {
  const { rows, dim, optimizer } = spec;
  const weightBytes = rows * dim * bytesPerElement(spec.storage);
  const stateBytes = rows * optimizer.stateSize(dim) * bytesPerElement(optimizer.stateStorage);
  return { weightBytes, stateBytes, totalBytes: weightBytes + stateBytes };
}

/**
 * A table's handle: its spec (without `init` and `onProgress`, which the handle must not keep
 * alive) frozen together with the backend's id and the exact byte counts.
 */
export function tableHandle(
  spec: TableSpec,
  id: number,
  weightBytes: number,
  stateBytes: number,
): TableHandle {
  const { init: _init, onProgress: _onProgress, ...rest } = spec;
  return Object.freeze({ ...rest, id, weightBytes, stateBytes });
}

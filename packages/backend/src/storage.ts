import type { StorageName, TableHandle, TableSpec } from './types.js';

/** Bytes per stored element: 4 for float32, 2 for 16-bit formats, 1 for 8-bit ones. */
export function bytesPerElement(storage: StorageName): 1 | 2 | 4 {
  if (storage === 'float32') return 4;
  if (storage === 'float16' || storage === 'bfloat16') return 2;
  return 1;
}

/**
 * A table's handle: its spec (without `init`, which the handle must not keep alive) frozen
 * together with the backend's id and the exact byte counts.
 */
export function tableHandle(
  spec: TableSpec,
  id: number,
  weightBytes: number,
  stateBytes: number,
): TableHandle {
  const { init: _init, ...rest } = spec;
  return Object.freeze({ ...rest, id, weightBytes, stateBytes });
}

import type { StorageName } from './types.js';

/** Bytes per stored element: 4 for float32, 2 for 16-bit formats, 1 for 8-bit ones. */
export function bytesPerElement(storage: StorageName): 1 | 2 | 4 {
  if (storage === 'float32') return 4;
  if (storage === 'float16' || storage === 'bfloat16') return 2;
  return 1;
}

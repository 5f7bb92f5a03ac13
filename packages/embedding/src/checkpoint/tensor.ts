import { DTYPES, type SafetensorsDtype, type TensorData } from './dtypes.js';
import { CheckpointError } from './errors.js';

/**
 * One tensor of a checkpoint: element type, shape (row-major; `[]` is a scalar of one element,
 * a 0 anywhere makes it empty) and data. `data` must be the typed array kind of the dtype
 * (`DTYPES[dtype].array`: e.g. `Uint16Array` of raw binary16 codes for `F16`, `Float32Array` for
 * `F32`, `BigInt64Array` for `I64`) holding exactly product(shape) elements.
 */
export interface Tensor {
  /** Element type as written in the file. */
  readonly dtype: SafetensorsDtype;
  /** Dimensions, outermost first; each a non-negative safe integer. */
  readonly shape: readonly number[];
  /** The elements, row-major, in the typed array kind of `dtype`. */
  readonly data: TensorData;
}

/** A checkpoint in memory: tensors by name, and the free-form string metadata. */
export interface Checkpoint {
  /** Tensors by name (a null-prototype object when produced by the decoder). */
  tensors: Record<string, Tensor>;
  /** The `__metadata__` string map; `{}` when the file has none. */
  metadata: Record<string, string>;
}

/**
 * Returns the number of elements of a tensor of this `shape` (1 for `[]`), or throws a
 * {@link CheckpointError} with reason `reason` when a dimension is not a non-negative safe integer
 * or the product exceeds `Number.MAX_SAFE_INTEGER`. `what` names the tensor in the message.
 */
export function elementCount(
  shape: readonly unknown[],
  what: string,
  reason: 'invalid-tensor' | 'invalid-header',
): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new CheckpointError(
        reason,
        `${what}: shape[${i}] is ${String(d)}, expected a non-negative integer (shape [${shape.join(', ')}])`,
      );
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) {
    throw new CheckpointError(
      reason,
      `${what}: shape [${shape.join(', ')}] has more than 2^53 - 1 elements`,
    );
  }
  return n;
}

/**
 * Checks that `tensor` is usable for writing as tensor `name`: a supported dtype, a valid shape,
 * data of the dtype's typed array kind whose byte length is product(shape) * dtype size.
 * Returns the byte length. Throws a {@link CheckpointError} (`unknown-dtype`, `invalid-tensor`
 * or `size-mismatch`) naming the tensor otherwise.
 */
export function checkTensor(name: string, tensor: Tensor): number {
  const what = `tensor ${JSON.stringify(name)}`;
  if (tensor === null || typeof tensor !== 'object') {
    throw new CheckpointError('invalid-tensor', `${what} is ${String(tensor)}, not a tensor`);
  }
  const { dtype, shape, data } = tensor;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPES, dtype)) {
    throw new CheckpointError(
      'unknown-dtype',
      `${what} has unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPES).join(', ')})`,
    );
  }
  const info = DTYPES[dtype];
  if (!Array.isArray(shape)) {
    throw new CheckpointError('invalid-tensor', `${what}: shape is not an array`);
  }
  const count = elementCount(shape, what, 'invalid-tensor');
  if (!(data instanceof info.array)) {
    const got = data !== null && typeof data === 'object' ? data.constructor.name : String(data);
    throw new CheckpointError(
      'invalid-tensor',
      `${what}: dtype ${dtype} needs data in a ${info.array.name}, got ${got}`,
    );
  }
  const expected = count * info.size;
  if (data.byteLength !== expected) {
    throw new CheckpointError(
      'size-mismatch',
      `${what}: shape [${shape.join(', ')}] of ${dtype} needs ${expected} bytes (${count} elements), data has ${data.byteLength} bytes (${data.length} elements)`,
    );
  }
  return expected;
}

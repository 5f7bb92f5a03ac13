import type { BackendStats, Tensor } from './types.js';
import { checkTensorSize } from './validate.js';

/** A tensor whose values live in a host `Float32Array` (the js and wasm backends). */
export interface HostTensor extends Tensor {
  /** The values: exactly `size` of them, owned by the backend. */
  readonly data: Float32Array;
}

/**
 * The tensors of a backend whose memory the host can see: allocation, ownership checks, copies in
 * and out, and the traffic they make (`uploadBytes`, `downloadBytes`). The js and wasm backends
 * share it so that their tensors behave, and fail, the same way.
 */
export class HostTensors {
  readonly #backend: string;
  readonly #live = new Map<number, HostTensor>();
  #nextId = 1;
  /** Bytes copied into tensors (and, by the backend, into tables and batches). */
  uploadBytes = 0;
  /** Bytes copied out of tensors (and, by the backend, out of tables). */
  downloadBytes = 0;
  /** Hand-offs to worker threads (counted by the backend). */
  submissions = 0;

  /** @param backend - the owning backend's name, for handles and errors. */
  constructor(backend: string) {
    this.#backend = backend;
  }

  /** The traffic so far, as `Backend.stats()` reports it. */
  stats(): BackendStats {
    return {
      uploadBytes: this.uploadBytes,
      downloadBytes: this.downloadBytes,
      submissions: this.submissions,
    };
  }

  /**
   * A new tensor of `size` zeros, or a copy of `values` (counted as an upload).
   * @throws RangeError for a size that is not a non-negative integer.
   */
  create(valuesOrSize: Float32Array | number): HostTensor {
    let data: Float32Array;
    if (valuesOrSize instanceof Float32Array) {
      data = valuesOrSize.slice();
      this.uploadBytes += data.byteLength;
    } else {
      if (!Number.isSafeInteger(valuesOrSize) || valuesOrSize < 0) {
        throw new RangeError(
          `tensor: expected a Float32Array or a non-negative integer size, got ${String(valuesOrSize)}`,
        );
      }
      data = new Float32Array(valuesOrSize);
    }
    const tensor: HostTensor = Object.freeze({
      backend: this.#backend,
      id: this.#nextId++,
      size: data.length,
      data,
    });
    this.#live.set(tensor.id, tensor);
    return tensor;
  }

  /**
   * The values of `tensor` (no copy), after checking that this backend owns it and that it holds
   * at least `atLeast` values.
   * @throws TypeError for something that is not a live tensor of this backend; RangeError when
   *   it is too small (message `name: expected a tensor of at least N values, got M`).
   */
  data(tensor: Tensor, name = 'tensor', atLeast = 0): Float32Array {
    const t = this.#live.get(tensor?.id);
    if (t === undefined || t !== tensor) {
      throw new TypeError(
        `${name}: not a tensor of backend "${this.#backend}" (made by ${
          typeof tensor?.backend === 'string' ? `"${tensor.backend}"` : 'no backend'
        }, or disposed)`,
      );
    }
    if (atLeast > 0) checkTensorSize(t, atLeast, name);
    return t.data;
  }

  /** Copies `values` into `tensor` at `offset` (an upload). @throws RangeError when they do not fit. */
  write(tensor: Tensor, values: Float32Array, offset = 0): void {
    const data = this.data(tensor);
    if (!(values instanceof Float32Array)) throw new TypeError('values: expected a Float32Array');
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + values.length > data.length) {
      throw new RangeError(
        `write: ${values.length} values at offset ${offset} do not fit a tensor of ${data.length}`,
      );
    }
    data.set(values, offset);
    this.uploadBytes += values.byteLength;
  }

  /** A copy of the tensor's values (a download). */
  read(tensor: Tensor): Float32Array {
    const copy = this.data(tensor).slice();
    this.downloadBytes += copy.byteLength;
    return copy;
  }

  /** Forgets a tensor; its handle is dead afterwards. */
  dispose(tensor: Tensor): void {
    this.data(tensor);
    this.#live.delete(tensor.id);
  }

  /** Forgets every tensor. */
  clear(): void {
    this.#live.clear();
  }
}

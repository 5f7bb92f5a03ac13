import type { Backend, Tensor } from '@halfstep/backend';

/**
 * Tensors of a backend kept for reuse, by size: a training step asks for the same sizes every
 * time, and allocating device buffers per step would cost more than the step's kernels.
 */
export class TensorPool {
  readonly #backend: Backend;
  readonly #free = new Map<number, Tensor[]>();

  /** @param backend - the backend whose tensors this pool hands out. */
  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** A tensor of `size` values (contents unspecified): a released one, or a new one. */
  take(size: number): Tensor {
    return this.#free.get(size)?.pop() ?? this.#backend.tensor(size);
  }

  /** A tensor holding a copy of `values`. */
  upload(values: Float32Array): Tensor {
    const tensor = this.take(values.length);
    this.#backend.write(tensor, values);
    return tensor;
  }

  /** Gives a tensor back; work enqueued before keeps its data (backends run work in order). */
  release(tensor: Tensor): void {
    const list = this.#free.get(tensor.size);
    if (list) list.push(tensor);
    else this.#free.set(tensor.size, [tensor]);
  }

  /** Frees every pooled tensor. */
  dispose(): void {
    for (const list of this.#free.values()) for (const t of list) this.#backend.disposeTensor(t);
    this.#free.clear();
  }
}

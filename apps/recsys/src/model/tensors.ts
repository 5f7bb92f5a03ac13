import type { Backend, Tensor } from '@halfstep/backend';

/**
 * A tensor's values on the host: `readSync` where the backend's memory is host-visible (js,
 * wasm), else an awaited `read` (WebGPU). For the steps that have no backend kernel yet (the dot
 * interaction, the dense optimizer).
 */
export function hostValues(backend: Backend, tensor: Tensor): Float32Array | Promise<Float32Array> {
  return backend.readSync ? backend.readSync(tensor) : backend.read(tensor);
}

/** {@link hostValues} of several tensors (reads issued together on an asynchronous backend). */
export function hostValuesOf(
  backend: Backend,
  tensors: readonly Tensor[],
): Float32Array[] | Promise<Float32Array[]> {
  const { readSync } = backend;
  if (readSync) return tensors.map((t) => readSync.call(backend, t));
  return Promise.all(tensors.map((t) => backend.read(t)));
}

/**
 * Backend tensors sized for one batch size, made on first use and kept for the next batches of
 * that size (the elementwise kernels cover whole tensors, so each batch size needs its own). A
 * run sees few sizes (training, validation, their last partial batches): the least recently used
 * set beyond `keep` is freed.
 */
export class TensorsByBatch<T extends Record<string, Tensor | readonly Tensor[]>> {
  readonly #sets = new Map<number, T>();

  /**
   * @param backend - where the tensors live.
   * @param make - allocates the set for a batch size.
   * @param keep - sets kept at most (default 4).
   */
  constructor(
    readonly backend: Backend,
    readonly make: (batch: number) => T,
    readonly keep = 4,
  ) {}

  /** The set for `batch` (made on first use). */
  get(batch: number): T {
    let set = this.#sets.get(batch);
    if (set === undefined) {
      set = this.make(batch);
      if (this.#sets.size >= this.keep) {
        const [oldest, value] = this.#sets.entries().next().value as [number, T];
        this.#sets.delete(oldest);
        this.#free(value);
      }
    } else this.#sets.delete(batch);
    this.#sets.set(batch, set);
    return set;
  }

  #free(set: T): void {
    for (const entry of Object.values(set)) {
      const tensors = Array.isArray(entry) ? entry : [entry as Tensor];
      for (const t of tensors) this.backend.disposeTensor(t);
    }
  }

  /** Frees every set. */
  dispose(): void {
    for (const set of this.#sets.values()) this.#free(set);
    this.#sets.clear();
  }
}

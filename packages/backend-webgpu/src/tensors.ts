import { checkTensorSize, type Tensor } from '@halfstep/backend';
import type { GpuRunner } from './gpu.js';

/** A tensor of the WebGPU backend: its values live in a GPU storage buffer. */
export interface GpuTensor extends Tensor {
  /** The buffer: `size` float32 values (at least 4 bytes), STORAGE | COPY_SRC | COPY_DST. */
  readonly buffer: GPUBuffer;
}

/**
 * The tensors of a WebGPU backend: GPU buffers made, written (`queue.writeBuffer`), read (a
 * mapped readback) and destroyed, with the ownership checks and messages of
 * `@halfstep/backend`'s `HostTensors`, so that every backend's tensors fail the same way.
 */
export class GpuTensors {
  readonly #live = new Map<number, GpuTensor>();
  #nextId = 1;

  /** @param runner - the device's runner (uploads and downloads are counted there). */
  constructor(private readonly runner: GpuRunner) {}

  /**
   * A new tensor of `size` zeros, or holding a copy of `values` (an upload).
   * @throws RangeError for a size that is not a non-negative integer.
   */
  create(valuesOrSize: Float32Array | number): GpuTensor {
    const values = valuesOrSize instanceof Float32Array ? valuesOrSize : null;
    const size = values === null ? valuesOrSize : values.length;
    if (values === null && (!Number.isSafeInteger(size) || (size as number) < 0)) {
      throw new RangeError(
        `tensor: expected a Float32Array or a non-negative integer size, got ${String(valuesOrSize)}`,
      );
    }
    const n = size as number;
    if (n * 4 > this.runner.device.limits.maxStorageBufferBindingSize) {
      throw new RangeError(
        `tensor: ${n} values exceed the device's storage binding limit of ${this.runner.device.limits.maxStorageBufferBindingSize} bytes`,
      );
    }
    const buffer = this.runner.persistent(n * 4);
    if (values !== null) this.runner.upload(buffer, 0, values);
    const tensor: GpuTensor = Object.freeze({
      backend: 'webgpu',
      id: this.#nextId++,
      size: n,
      buffer,
    });
    this.#live.set(tensor.id, tensor);
    return tensor;
  }

  /**
   * The buffer of `tensor`, after checking that this backend owns it and that it holds at least
   * `atLeast` values.
   * @throws TypeError for something that is not a live tensor of this backend; RangeError when
   *   it is too small (message `name: expected a tensor of at least N values, got M`).
   */
  get(tensor: Tensor, name = 'tensor', atLeast = 0): GpuTensor {
    const t = this.#live.get(tensor?.id);
    if (t === undefined || t !== tensor) {
      throw new TypeError(
        `${name}: not a tensor of backend "webgpu" (made by ${
          typeof tensor?.backend === 'string' ? `"${tensor.backend}"` : 'no backend'
        }, or disposed)`,
      );
    }
    if (atLeast > 0) checkTensorSize(t, atLeast, name);
    return t;
  }

  /**
   * Copies `values` into `tensor` at value `offset` (an upload, after the work recorded before).
   * @throws RangeError when they do not fit.
   */
  write(tensor: Tensor, values: Float32Array, offset = 0): void {
    const t = this.get(tensor);
    if (!(values instanceof Float32Array)) throw new TypeError('values: expected a Float32Array');
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + values.length > t.size) {
      throw new RangeError(
        `write: ${values.length} values at offset ${offset} do not fit a tensor of ${t.size}`,
      );
    }
    // Recorded work that reads the tensor must see its old values.
    if (this.runner.recording) this.runner.submitNow();
    this.runner.upload(t.buffer, offset * 4, values);
  }

  /** The tensor's values once every earlier kernel is done (a download). */
  async read(tensor: Tensor): Promise<Float32Array> {
    const t = this.get(tensor);
    if (t.size === 0) return new Float32Array(0);
    return new Float32Array(await this.runner.download(t.buffer, t.size * 4));
  }

  /** Frees a tensor; its handle is dead afterwards. */
  dispose(tensor: Tensor): void {
    const t = this.get(tensor);
    this.#live.delete(t.id);
    if (this.runner.recording) this.runner.submitNow();
    t.buffer.destroy();
  }

  /** Frees every tensor. */
  clear(): void {
    for (const t of this.#live.values()) t.buffer.destroy();
    this.#live.clear();
  }
}

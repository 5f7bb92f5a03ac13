/**
 * A pool of GPU buffers keyed by (usage, size class): `acquire` hands out a free buffer of at
 * least the asked size (sizes round up to a power of two, at least 256 bytes), `release` returns
 * it for reuse, `destroy` frees them all.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly all = new Set<GPUBuffer>();

  constructor(private readonly device: GPUDevice) {}

  /** The byte size a request of `bytes` is served with: max(256, the next power of two). */
  static sizeClass(bytes: number): number {
    let size = 256;
    while (size < bytes) size *= 2;
    return size;
  }

  /** A buffer of at least `bytes` bytes with exactly `usage`. */
  acquire(bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const size = BufferPool.sizeClass(bytes);
    const list = this.free.get(`${usage}:${size}`);
    const reused = list?.pop();
    if (reused) return reused;
    const buffer = this.device.createBuffer({ size, usage });
    this.all.add(buffer);
    return buffer;
  }

  /** Returns a buffer from `acquire` to the pool. */
  release(buffer: GPUBuffer): void {
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.free.get(key);
    if (!list) {
      list = [];
      this.free.set(key, list);
    }
    list.push(buffer);
  }

  /** Destroys every buffer the pool ever made. */
  destroy(): void {
    for (const buffer of this.all) buffer.destroy();
    this.all.clear();
    this.free.clear();
  }
}

import { BufferPool } from './buffers.js';
import { PipelineCache } from './pipelines.js';
import { type HalfConversionFlavor, halfPrelude } from './shaders/halves.js';

const STORAGE_IN = 0x80 | 0x8; // STORAGE | COPY_DST
const STORAGE_OUT = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST
const READBACK = 0x1 | 0x8; // MAP_READ | COPY_DST
const WORKGROUP = 64;
const MAX_GROUPS = 65535;

/**
 * The bytes of `data`, padded with zeros to a whole number of 32-bit words: a view of `data` when
 * it already is whole words in an `ArrayBuffer`, else a copy (a `SharedArrayBuffer`'s bytes are
 * copied too, since `writeBuffer` takes only unshared memory in the browser typings).
 */
export function wordBytes(data: ArrayBufferView): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength % 4 === 0 && bytes.byteOffset % 4 === 0 && isUnshared(bytes)) return bytes;
  const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  padded.set(bytes);
  return padded;
}

function isUnshared(bytes: Uint8Array): bytes is Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer;
}

/**
 * Runs compute passes on one device: uploads into pooled buffers, records dispatches into one
 * command encoder per batch (`begin` ... `submit`), and reads results back.
 */
export class GpuRunner {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  private encoder: GPUCommandEncoder | null = null;
  private readonly transient: GPUBuffer[] = [];
  private scoped = false;
  /**
   * How the kernels dispatched from now on convert float16 (`halfPrelude`); each flavor compiles
   * its own pipelines.
   */
  conversion: HalfConversionFlavor = 'integer';

  constructor(readonly device: GPUDevice) {
    this.pool = new BufferPool(device);
    this.pipelines = new PipelineCache(device);
  }

  /** Opens the error scopes of the batch being recorded (once per batch). */
  private open(): void {
    if (this.scoped) return;
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    this.scoped = true;
  }

  /** A pooled storage buffer holding `data` (padded to words). Released at `submit`. */
  input(data: ArrayBufferView): GPUBuffer {
    this.open();
    const bytes = wordBytes(data);
    const buffer = this.pool.acquire(Math.max(4, bytes.byteLength), STORAGE_IN);
    if (bytes.byteLength > 0) this.device.queue.writeBuffer(buffer, 0, bytes);
    this.transient.push(buffer);
    return buffer;
  }

  /** A pooled storage buffer of `bytes` for results, holding `initial` when given. Released at `submit`. */
  output(bytes: number, initial?: ArrayBufferView): GPUBuffer {
    this.open();
    const buffer = this.pool.acquire(Math.max(4, bytes), STORAGE_OUT);
    if (initial !== undefined && initial.byteLength > 0) {
      this.device.queue.writeBuffer(buffer, 0, wordBytes(initial));
    }
    this.transient.push(buffer);
    return buffer;
  }

  /** A long-lived storage buffer of `bytes` (a table's weights), not pooled. */
  persistent(bytes: number): GPUBuffer {
    return this.device.createBuffer({
      size: Math.max(4, Math.ceil(bytes / 4) * 4),
      usage: STORAGE_OUT,
    });
  }

  /** A long-lived storage buffer holding `data` (padded to words), not pooled: the caller destroys it. */
  persistentWith(data: ArrayBufferView): GPUBuffer {
    const bytes = wordBytes(data);
    const buffer = this.persistent(bytes.byteLength);
    if (bytes.byteLength > 0) this.device.queue.writeBuffer(buffer, 0, bytes);
    return buffer;
  }

  /** Records one dispatch of `invocations` threads (64 per workgroup, 2-D beyond 65535 groups). */
  dispatch(key: string, source: () => string, buffers: readonly GPUBuffer[], invocations: number) {
    if (invocations === 0) return;
    this.open();
    const flavor = this.conversion;
    const pipeline = this.pipelines.get(`${flavor}:${key}`, () => halfPrelude(flavor) + source());
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    this.encoder ??= this.device.createCommandEncoder();
    const pass = this.encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const groups = Math.ceil(invocations / WORKGROUP);
    const x = Math.min(groups, MAX_GROUPS);
    pass.dispatchWorkgroups(x, Math.ceil(groups / x));
    pass.end();
  }

  /** Records a copy of `bytes` from `source` into a new readback buffer; returns it. */
  copyOut(source: GPUBuffer, bytes: number): GPUBuffer {
    this.open();
    const staging = this.pool.acquire(Math.max(4, bytes), READBACK);
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(source, 0, staging, 0, Math.ceil(Math.max(4, bytes) / 4) * 4);
    return staging;
  }

  /**
   * Records a copy of `bytes` from `source` into a readback buffer of its own (not pooled: a
   * whole table can exceed the pool's power-of-two size classes); `readOwn` frees it.
   */
  copyOutOwn(source: GPUBuffer, bytes: number): GPUBuffer {
    this.open();
    const size = Math.ceil(Math.max(4, bytes) / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: READBACK });
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(source, 0, staging, 0, size);
    return staging;
  }

  /**
   * Waits for a readback buffer from `copyOutOwn`, hands its first `bytes` bytes to `use` while
   * mapped (no copy: `use` must copy what it keeps) and destroys it.
   */
  async readOwn(staging: GPUBuffer, bytes: number, use: (data: Uint8Array) => void): Promise<void> {
    try {
      await staging.mapAsync(0x1);
      use(new Uint8Array(staging.getMappedRange(0, staging.size), 0, bytes));
      staging.unmap();
    } finally {
      staging.destroy();
    }
  }

  /**
   * Submits everything recorded since the last submit as one command buffer. The promise rejects
   * with the device's message when the batch raised a validation or out-of-memory error (so that
   * a GPU error is never silent); await it before trusting the results.
   */
  submit(): Promise<void> {
    if (this.encoder) this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    for (const buffer of this.transient.splice(0)) this.pool.release(buffer);
    if (!this.scoped) return Promise.resolve();
    this.scoped = false;
    const validation = this.device.popErrorScope();
    const memory = this.device.popErrorScope();
    return Promise.all([validation, memory]).then(([a, b]) => {
      const error = a ?? b;
      if (error) throw new Error(`WebGPU error: ${error.message}`);
    });
  }

  /** Waits for a readback buffer from `copyOut`, copies `bytes` out and returns it to the pool. */
  async read(staging: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    await staging.mapAsync(0x1);
    const copy = staging.getMappedRange(0, Math.ceil(Math.max(4, bytes) / 4) * 4).slice(0, bytes);
    staging.unmap();
    this.pool.release(staging);
    return copy;
  }

  /** Destroys the pooled buffers. */
  destroy(): void {
    this.pool.destroy();
  }
}

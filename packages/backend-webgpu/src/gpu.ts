import { BufferPool } from './buffers.js';
import { PipelineCache } from './pipelines.js';
import { type HalfConversionFlavor, halfPrelude } from './shaders/halves.js';

const STORAGE_IN = 0x80 | 0x8; // STORAGE | COPY_DST
/** Usage of buffers that kernels write and that are copied in and out: STORAGE | COPY_SRC | COPY_DST. */
export const STORAGE_OUT = 0x80 | 0x4 | 0x8;
const READBACK = 0x1 | 0x8; // MAP_READ | COPY_DST
const WORKGROUP = 64;
/** Readback buffers above this size are made for one read, not pooled. */
const OWN_READBACK = 64 * 2 ** 20;
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
 * command encoder per batch (recorded ... `submit`), and reads results back. Counts the traffic
 * (`uploadBytes`: every `writeBuffer`; `downloadBytes`: every mapped read; `submissions`: every
 * `queue.submit`) for `Backend.stats()`.
 */
export class GpuRunner {
  /** The pool of transient buffers. */
  readonly pool: BufferPool;
  /** The compiled pipelines. */
  readonly pipelines: PipelineCache;
  /** Bytes written with `queue.writeBuffer` since the runner was made. */
  uploadBytes = 0;
  /** Bytes read out of mapped readback buffers since the runner was made. */
  downloadBytes = 0;
  /** `queue.submit` calls since the runner was made. */
  submissions = 0;
  private encoder: GPUCommandEncoder | null = null;
  private readonly transient: GPUBuffer[] = [];
  private scoped = false;
  private failure: unknown = undefined;
  /**
   * How the kernels dispatched from now on convert float16 (`halfPrelude`); each flavor compiles
   * its own pipelines.
   */
  conversion: HalfConversionFlavor = 'integer';

  /** @param device - the device every buffer and pipeline is made on. */
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

  /**
   * Submits what is recorded without waiting: a device error it raises is kept for
   * `takeFailure` (the backend's `flush` reports it).
   */
  submitNow(): void {
    this.submit().catch((error: unknown) => {
      this.failure ??= error;
    });
  }

  /** The first device error of a `submitNow` nobody saw yet, or undefined; forgets it. */
  takeFailure(): unknown {
    const failure = this.failure;
    this.failure = undefined;
    return failure;
  }

  /** Dispatches recorded since the last submission. */
  pendingDispatches = 0;

  /** Whether commands are recorded and not yet submitted. */
  get recording(): boolean {
    return this.encoder !== null;
  }

  /**
   * `queue.writeBuffer` of `data` (padded to words) at byte `offset` of `buffer`, counted in
   * `uploadBytes`. The write lands before every later submission and after every earlier one:
   * a caller writing a buffer that recorded commands use submits them first.
   */
  upload(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    const bytes = wordBytes(data);
    if (bytes.byteLength === 0) return;
    this.device.queue.writeBuffer(buffer, offset, bytes);
    this.uploadBytes += bytes.byteLength;
  }

  /** A pooled storage buffer holding `data` (padded to words). Released at `submit`. */
  input(data: ArrayBufferView): GPUBuffer {
    this.open();
    const bytes = wordBytes(data);
    const buffer = this.pool.acquire(Math.max(4, bytes.byteLength), STORAGE_IN);
    this.upload(buffer, 0, bytes);
    this.transient.push(buffer);
    return buffer;
  }

  /** A pooled storage buffer of `bytes` for results, holding `initial` when given. Released at `submit`. */
  output(bytes: number, initial?: ArrayBufferView): GPUBuffer {
    this.open();
    const buffer = this.pool.acquire(Math.max(4, bytes), STORAGE_OUT);
    if (initial !== undefined) this.upload(buffer, 0, initial);
    this.transient.push(buffer);
    return buffer;
  }

  /** A pooled storage buffer of at least `bytes` that outlives `submit`: `release` returns it. */
  keep(bytes: number): GPUBuffer {
    return this.pool.acquire(Math.max(4, bytes), STORAGE_OUT);
  }

  /** Returns a buffer of `keep` (or a readback buffer of `copyOut` left unread) to the pool. */
  release(buffer: GPUBuffer): void {
    this.pool.release(buffer);
  }

  /** Records zeroing `bytes` (a multiple of 4) of `buffer` from byte `offset`. */
  clear(buffer: GPUBuffer, offset: number, bytes: number): void {
    if (bytes === 0) return;
    this.open();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.clearBuffer(buffer, offset, bytes);
  }

  /** Records a copy of `bytes` (a multiple of 4) from `source` into `target`. */
  copy(source: GPUBuffer, target: GPUBuffer, bytes: number): void {
    if (bytes === 0) return;
    this.open();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(source, 0, target, 0, bytes);
  }

  /**
   * A transient copy of `source` when it is one of `writable` (WebGPU forbids binding a buffer
   * both read-only and writable in one dispatch), else `source` itself.
   */
  distinct(source: GPUBuffer, bytes: number, ...writable: GPUBuffer[]): GPUBuffer {
    if (!writable.includes(source)) return source;
    const copy = this.output(bytes);
    this.copy(source, copy, Math.ceil(Math.max(4, bytes) / 4) * 4);
    return copy;
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
    this.upload(buffer, 0, bytes);
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
    this.pendingDispatches++;
  }

  /**
   * Records a copy of `bytes` from byte `offset` of `source` into a readback buffer (pooled up
   * to 64 MiB, else a buffer of its own); returns it for `read`.
   */
  copyOut(source: GPUBuffer, bytes: number, offset = 0): GPUBuffer {
    this.open();
    const size = Math.ceil(Math.max(4, bytes) / 4) * 4;
    const staging =
      size <= OWN_READBACK
        ? this.pool.acquire(size, READBACK)
        : this.device.createBuffer({ size, usage: READBACK });
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(source, offset, staging, 0, size);
    return staging;
  }

  /**
   * Submits everything recorded since the last submit as one command buffer. The promise rejects
   * with the device's message when the batch raised a validation or out-of-memory error (so that
   * a GPU error is never silent); await it before trusting the results.
   */
  submit(): Promise<void> {
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.submissions++;
      this.pendingDispatches = 0;
    }
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

  /**
   * Waits for a readback buffer from `copyOut` (submitted), copies `bytes` out (counted in
   * `downloadBytes`) and returns it to the pool (or destroys it).
   */
  async read(staging: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    try {
      await staging.mapAsync(0x1);
      const copy = staging.getMappedRange(0, Math.ceil(Math.max(4, bytes) / 4) * 4).slice(0, bytes);
      staging.unmap();
      this.downloadBytes += bytes;
      return copy;
    } finally {
      if (staging.size <= OWN_READBACK) this.pool.release(staging);
      else staging.destroy();
    }
  }

  /** Records a copy of `bytes` of `source` out, submits, and returns them. */
  async download(source: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const staging = this.copyOut(source, bytes, offset);
    const [, data] = await Promise.all([this.submit(), this.read(staging, bytes)]);
    return data;
  }

  /** Destroys the pooled buffers. */
  destroy(): void {
    this.pool.destroy();
  }
}

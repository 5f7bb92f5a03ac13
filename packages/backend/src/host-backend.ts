import type { FormatName, Overflow, RoundingStrategy } from '@halfstep/codecs';
import { HostTensors } from './host-tensors.js';
import { StepResult, UnobservedErrors } from './step-result.js';
import type { BackendStats, BagUpdateResult, TableData, TableHandle, Tensor } from './types.js';

/**
 * What every backend whose memory the host can see (js, wasm) does alike: tensors in host arrays
 * (`HostTensors`), the traffic they count, asynchronous reads that are their synchronous twins,
 * failed steps kept for `flush()`, and the check that the backend was not disposed. A subclass
 * supplies the tables, the kernels and the `...Sync` reads.
 */
export abstract class HostBackend {
  /** The registered name, e.g. "js". */
  readonly name: string;
  /** The backend's tensors and the traffic counters `stats()` reports. */
  protected readonly tensors: HostTensors;
  /** Failed steps nobody awaited yet: `flush()` reports them. */
  protected readonly unobserved = new UnobservedErrors();
  /** Set by `dispose`: every later call throws. */
  protected disposed = false;

  /** @param name - the backend's name (its tensors carry it). */
  constructor(name: string) {
    this.name = name;
    this.tensors = new HostTensors(name);
  }

  /** @throws Error when the backend was disposed. */
  protected live(): void {
    if (this.disposed) throw new Error(`backend "${this.name}" was disposed`);
  }

  /** The values of a tensor of this backend, checked (`HostTensors.data`). */
  protected data(tensor: Tensor, name: string, atLeast = 0): Float32Array {
    this.live();
    return this.tensors.data(tensor, name, atLeast);
  }

  /** A failed step: delivered to whoever awaits it, else reported by `flush()`. */
  protected rejected(error: unknown): StepResult<BagUpdateResult[]> {
    const result = StepResult.of<BagUpdateResult[]>({ error });
    this.unobserved.add(result);
    return result;
  }

  /** Host <-> backend traffic since creation (see `BackendStats`). */
  stats(): BackendStats {
    return this.tensors.stats();
  }

  /** Every kernel ran when called: reports the first failed step nobody awaited, once. */
  async flush(): Promise<void> {
    this.live();
    await this.unobserved.report();
  }

  /** A new tensor: `size` zeros, or a copy of `values`. */
  tensor(valuesOrSize: Float32Array | number): Tensor {
    this.live();
    return this.tensors.create(valuesOrSize);
  }

  /** Copies `values` into `tensor` at `offset`. */
  write(tensor: Tensor, values: Float32Array, offset?: number): void {
    this.live();
    this.tensors.write(tensor, values, offset);
  }

  /** The tensor's values (settled at once: `readSync`). */
  async read(tensor: Tensor): Promise<Float32Array> {
    return this.readSync(tensor);
  }

  /** A copy of the tensor's values. */
  readSync(tensor: Tensor): Float32Array {
    this.live();
    return this.tensors.read(tensor);
  }

  /** Frees a tensor. */
  disposeTensor(tensor: Tensor): void {
    this.live();
    this.tensors.dispose(tensor);
  }

  /** Decoded rows (settled at once: `readRowsSync`). */
  async readRows(table: TableHandle, rows?: Int32Array): Promise<Float32Array> {
    return this.readRowsSync(table, rows);
  }

  /** Decoded rows, synchronously. */
  abstract readRowsSync(table: TableHandle, rows?: Int32Array): Float32Array;

  /** The stored bytes (settled at once: `exportTableSync`). */
  async exportTable(table: TableHandle): Promise<TableData> {
    return this.exportTableSync(table);
  }

  /** The stored bytes, synchronously. */
  abstract exportTableSync(table: TableHandle): TableData;

  /** Bulk encode (settled at once: `encodeSync`). */
  async encode(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow?: Overflow,
  ): Promise<void> {
    this.encodeSync(format, src, out, rounding, overflow);
  }

  /** Bulk encode, synchronously. */
  abstract encodeSync(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow?: Overflow,
  ): void;

  /** Bulk decode (settled at once: `decodeSync`). */
  async decode(
    format: FormatName,
    codes: Uint16Array | Uint8Array,
    out: Float32Array,
  ): Promise<void> {
    this.decodeSync(format, codes, out);
  }

  /** Bulk decode, synchronously. */
  abstract decodeSync(format: FormatName, codes: Uint16Array | Uint8Array, out: Float32Array): void;
}

import {
  type Backend,
  type BackendRegistration,
  type BagInput,
  type BagUpdate,
  type BagUpdateResult,
  checkBagUpdate,
  checkRowNumbers,
  type MatmulArgs,
  type Pooling,
  type TableData,
  type TableHandle,
  type TableSpec,
} from '@halfstep/backend';
import {
  decode,
  encode,
  type FormatName,
  type Overflow,
  type RoundingStrategy,
} from '@halfstep/codecs';
import { type Aggregated, AggregateScratch, aggregate } from './aggregate.js';
import { addBias, bceWithLogits, matmul, relu, reluBackward, sigmoid, sumRows } from './dense.js';
import { embeddingBagForward } from './forward.js';
import { StoreScratch, storeRow } from './store.js';
import { allocateTable, type JsTable } from './table.js';
import { applyUpdate, UpdateScratch } from './update.js';

/**
 * The reference backend: plain TypeScript on typed arrays in the JS heap. Its results define
 * what every other backend must reproduce.
 */
export class JsBackend implements Backend {
  readonly name = 'js';
  private readonly tables = new Map<number, JsTable>();
  private readonly aggregateScratch = new Map<number, AggregateScratch>();
  private readonly updateScratch = new UpdateScratch();
  private readonly storeScratch = new StoreScratch();
  private disposed = false;

  private get(table: TableHandle): JsTable {
    if (this.disposed) throw new Error('backend "js" was disposed');
    const t = this.tables.get(table?.id);
    if (!t || t.handle !== table)
      throw new Error(`table "${table?.name}" does not belong to this backend (or was disposed)`);
    return t;
  }

  createTable(spec: TableSpec): TableHandle {
    if (this.disposed) throw new Error('backend "js" was disposed');
    const t = allocateTable(spec);
    this.tables.set(t.handle.id, t);
    return t.handle;
  }

  disposeTable(table: TableHandle): void {
    this.get(table);
    this.tables.delete(table.id);
    this.aggregateScratch.delete(table.id);
  }

  readRows(table: TableHandle, rows?: Int32Array, out?: Float32Array): Float32Array {
    const t = this.get(table);
    const dim = table.dim;
    const count = checkRowNumbers(table, rows);
    const result = out ?? new Float32Array(count * dim);
    if (result.length !== count * dim) {
      throw new RangeError(
        `out: expected ${count} rows x ${dim} = ${count * dim} values, got ${result.length}`,
      );
    }
    for (let k = 0; k < count; k++) {
      const row = rows === undefined ? k : rows[k];
      const r = row * dim;
      const o = k * dim;
      if (t.format === null) {
        result.set((t.weights as Float32Array).subarray(r, r + dim), o);
      } else {
        for (let c = 0; c < dim; c++) result[o + c] = t.lut[t.weights[r + c]];
      }
    }
    return result;
  }

  writeRows(table: TableHandle, values: Float32Array, rows?: Int32Array): void {
    const t = this.get(table);
    const dim = table.dim;
    const count = rows === undefined ? table.rows : rows.length;
    if (!(values instanceof Float32Array) || values.length !== count * dim) {
      throw new RangeError(
        `values: expected a Float32Array of ${count} rows x ${dim} = ${count * dim} values`,
      );
    }
    checkRowNumbers(table, rows);
    if (t.format === null) {
      if (rows === undefined) t.weights.set(values);
      else
        for (let k = 0; k < count; k++)
          t.weights.set(values.subarray(k * dim, (k + 1) * dim), rows[k] * dim);
      return;
    }
    // Nearest-even, saturating, through the update's row store (its fast path).
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const codes = t.weights as Uint16Array | Uint8Array;
    if (rows === undefined)
      storeRow(t.format, bits, 0, codes, 0, values.length, null, this.storeScratch);
    else
      for (let k = 0; k < count; k++)
        storeRow(t.format, bits, k * dim, codes, rows[k] * dim, dim, null, this.storeScratch);
  }

  exportTable(table: TableHandle): TableData {
    const t = this.get(table);
    return {
      weights: new Uint8Array(
        t.weights.buffer.slice(t.weights.byteOffset, t.weights.byteOffset + t.weights.byteLength),
      ),
      state: new Uint8Array(
        t.state.buffer.slice(t.state.byteOffset, t.state.byteOffset + t.state.byteLength),
      ),
    };
  }

  importTable(table: TableHandle, data: TableData): void {
    const t = this.get(table);
    if (data.weights.byteLength !== t.weights.byteLength) {
      throw new RangeError(
        `table "${table.name}": weights have ${data.weights.byteLength} bytes, expected ${t.weights.byteLength}`,
      );
    }
    if (data.state.byteLength !== t.state.byteLength) {
      throw new RangeError(
        `table "${table.name}": optimizer state has ${data.state.byteLength} bytes, expected ${t.state.byteLength}`,
      );
    }
    new Uint8Array(t.weights.buffer, t.weights.byteOffset, t.weights.byteLength).set(data.weights);
    new Uint8Array(t.state.buffer, t.state.byteOffset, t.state.byteLength).set(data.state);
  }

  encode(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow?: Overflow,
  ): void {
    encode(format, src, { out, rounding, overflow });
  }

  decode(format: FormatName, codes: Uint16Array | Uint8Array, out: Float32Array): void {
    decode(format, codes, out);
  }

  embeddingBagForward(table: TableHandle, input: BagInput, pooling: Pooling): Float32Array {
    return embeddingBagForward(this.get(table), input, pooling);
  }

  embeddingBagBackward(updates: readonly BagUpdate[]): BagUpdateResult[] {
    const tables = updates.map((u) => this.get(u.table));
    const seen = new Set<number>();
    for (const u of updates) {
      if (seen.has(u.table.id))
        throw new RangeError(`table "${u.table.name}" appears twice in one backward call`);
      seen.add(u.table.id);
    }
    // Phase 1: check and aggregate every table; nothing is written before all succeed.
    for (const u of updates) checkBagUpdate(u);
    const aggregated: Aggregated[] = updates.map((u) => {
      let scratch = this.aggregateScratch.get(u.table.id);
      if (!scratch) {
        scratch = new AggregateScratch();
        this.aggregateScratch.set(u.table.id, scratch);
      }
      return aggregate(u, scratch);
    });
    // Phase 2: the fused update.
    return updates.map((u, k) => {
      const agg = aggregated[k];
      applyUpdate(tables[k], agg, u.gradOutput, u.step, this.updateScratch);
      return { updatedRows: agg.count - agg.badCount, skippedRows: agg.badCount };
    });
  }

  matmul(args: MatmulArgs): void {
    matmul(args);
  }
  addBias(x: Float32Array, bias: Float32Array, rows: number, cols: number): void {
    addBias(x, bias, rows, cols);
  }
  relu(x: Float32Array, out: Float32Array): void {
    relu(x, out);
  }
  reluBackward(grad: Float32Array, x: Float32Array, out: Float32Array): void {
    reluBackward(grad, x, out);
  }
  sigmoid(x: Float32Array, out: Float32Array): void {
    sigmoid(x, out);
  }
  bceWithLogits(logits: Float32Array, labels: Float32Array, grad?: Float32Array): number {
    return bceWithLogits(logits, labels, grad);
  }
  sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void {
    sumRows(x, rows, cols, out);
  }

  dispose(): void {
    this.tables.clear();
    this.aggregateScratch.clear();
    this.disposed = true;
  }
}

/** Creates the JS backend (nothing to initialise; async for the registry's sake). */
export async function createJsBackend(): Promise<JsBackend> {
  return new JsBackend();
}

/** The JS backend's registry entry: name "js", priority 0 (the fallback every platform has). */
export const jsBackend: BackendRegistration = Object.freeze({
  name: 'js',
  priority: 0,
  create: createJsBackend,
});

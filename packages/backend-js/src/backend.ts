import {
  type Backend,
  type BackendOptions,
  type BackendRegistration,
  type BagInput,
  type BagUpdate,
  type BagUpdateResult,
  checkBagInput,
  checkBagUpdate,
  checkFiniteGradient,
  checkMatmul,
  checkRowNumbers,
  checkRowsCols,
  checkWriteRows,
  HostBackend,
  initializeTable,
  type MatmulArgs,
  nonFiniteRowResult,
  type Pooling,
  StepResult,
  type TableData,
  type TableHandle,
  type TableSpec,
  type Tensor,
  type WriteRowsOptions,
} from '@halfstep/backend';
import {
  checkOptions,
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
import { applyUpdate, UndoJournal, UpdateScratch } from './update.js';

/**
 * The reference backend: plain TypeScript on typed arrays in the JS heap. Its results define
 * what every other backend must reproduce. Every kernel runs when called; its promises are
 * already settled when returned, and the `...Sync` twins read without waiting.
 *
 * @example
 * ```ts
 * import { JsBackend } from '@halfstep/backend-js';
 *
 * const backend = new JsBackend();
 * const x = backend.tensor(new Float32Array([-1, 2]));
 * backend.relu(x, x);
 * console.log(backend.readSync(x)); // Float32Array [0, 2]
 * ```
 */
export class JsBackend extends HostBackend implements Backend {
  private readonly tables = new Map<number, JsTable>();
  private readonly aggregateScratch = new Map<number, AggregateScratch>();
  private readonly updateScratch = new UpdateScratch();
  private readonly journal = new UndoJournal();
  private readonly storeScratch = new StoreScratch();

  constructor() {
    super('js');
  }

  private get(table: TableHandle): JsTable {
    this.live();
    const t = this.tables.get(table?.id);
    if (!t || t.handle !== table)
      throw new Error(`table "${table?.name}" does not belong to this backend (or was disposed)`);
    return t;
  }

  createTable(spec: TableSpec): TableHandle {
    this.live();
    const t = allocateTable(spec);
    this.tables.set(t.handle.id, t);
    initializeTable(this, t.handle, spec.init, spec.onProgress);
    return t.handle;
  }

  disposeTable(table: TableHandle): void {
    this.get(table);
    this.tables.delete(table.id);
    this.aggregateScratch.delete(table.id);
  }

  readRowsSync(table: TableHandle, rows?: Int32Array): Float32Array {
    const t = this.get(table);
    const dim = table.dim;
    const count = checkRowNumbers(table, rows);
    const result = new Float32Array(count * dim);
    for (let k = 0; k < count; k++) {
      const row = rows === undefined ? k : rows[k]!;
      const r = row * dim;
      const o = k * dim;
      if (t.format === null) {
        result.set((t.weights as Float32Array).subarray(r, r + dim), o);
      } else {
        for (let c = 0; c < dim; c++) result[o + c] = t.lut[t.weights[r + c]!]!;
      }
    }
    this.tensors.downloadBytes += result.byteLength;
    return result;
  }

  writeRows(
    table: TableHandle,
    values: Float32Array,
    rows?: Int32Array,
    options?: WriteRowsOptions,
  ): void {
    const t = this.get(table);
    const dim = table.dim;
    const count = checkWriteRows(table, values, rows, options);
    this.tensors.uploadBytes += values.byteLength;
    if (t.format === null) {
      if (rows === undefined) t.weights.set(values);
      else
        for (let k = 0; k < count; k++)
          t.weights.set(values.subarray(k * dim, (k + 1) * dim), rows[k]! * dim);
      return;
    }
    // Nearest-even, saturating, through the update's row store (its fast path).
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const codes = t.weights as Uint16Array | Uint8Array;
    if (rows === undefined)
      storeRow(t.format, bits, 0, codes, 0, values.length, null, this.storeScratch);
    else
      for (let k = 0; k < count; k++)
        storeRow(t.format, bits, k * dim, codes, rows[k]! * dim, dim, null, this.storeScratch);
  }

  exportTableSync(table: TableHandle): TableData {
    const t = this.get(table);
    const data = {
      weights: new Uint8Array(
        t.weights.buffer.slice(t.weights.byteOffset, t.weights.byteOffset + t.weights.byteLength),
      ),
      state: new Uint8Array(
        t.state.buffer.slice(t.state.byteOffset, t.state.byteOffset + t.state.byteLength),
      ),
    };
    this.tensors.downloadBytes += data.weights.byteLength + data.state.byteLength;
    return data;
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
    this.tensors.uploadBytes += data.weights.byteLength + data.state.byteLength;
  }

  /** `encode`, synchronously. */
  encodeSync(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow?: Overflow,
  ): void {
    this.live();
    encode(format, src, { out, rounding, overflow });
  }

  /** `decode`, synchronously. */
  decodeSync(format: FormatName, codes: Uint16Array | Uint8Array, out: Float32Array): void {
    this.live();
    decode(format, codes, out);
  }

  embeddingBagForward(table: TableHandle, input: BagInput, pooling: Pooling, out: Tensor): void {
    const t = this.get(table);
    checkBagInput(table.name, table.rows, input, pooling);
    const values = this.data(out, 'out', input.offsets.length * table.dim);
    embeddingBagForward(t, input, pooling, values);
  }

  embeddingBagBackward(updates: readonly BagUpdate[]): StepResult<BagUpdateResult[]> {
    const tables = updates.map((u) => this.get(u.table));
    const seen = new Set<number>();
    for (const u of updates) {
      if (seen.has(u.table.id))
        throw new RangeError(`table "${u.table.name}" appears twice in one backward call`);
      seen.add(u.table.id);
    }
    // Phase 1: check every table; nothing is written before all succeed.
    for (const u of updates) checkBagUpdate(u);
    const grads = updates.map((u) => this.data(u.gradOutput, 'gradOutput'));
    for (let k = 0; k < updates.length; k++) {
      const error = checkFiniteGradient(updates[k]!, grads[k]!);
      if (error) return this.rejected(error);
    }
    let aggregated: Aggregated[];
    try {
      aggregated = updates.map((u, k) => {
        let scratch = this.aggregateScratch.get(u.table.id);
        if (!scratch) {
          scratch = new AggregateScratch();
          this.aggregateScratch.set(u.table.id, scratch);
        }
        return aggregate({ ...u, gradOutput: grads[k]! }, scratch);
      });
    } catch (error) {
      return this.rejected(error);
    }
    // Phase 2: the fused update. When any table uses 'error', every written row of every table
    // is journaled, so that a non-finite result found later restores all of them.
    const journal = this.journal;
    const atomic = updates.some((u) => (u.nonFinite ?? 'error') === 'error');
    const results: BagUpdateResult[] = [];
    for (let k = 0; k < updates.length; k++) {
      const u = updates[k]!;
      const agg = aggregated[k]!;
      const t = tables[k]!;
      const entry = atomic ? journal.begin(t, agg.count) : null;
      const policy = u.nonFinite ?? 'error';
      const scratch = this.updateScratch;
      const { badRow, skipped } = applyUpdate(t, agg, grads[k]!, u.step, scratch, policy, entry);
      if (badRow >= 0) {
        journal.restore();
        return this.rejected(nonFiniteRowResult(u.table.name, badRow));
      }
      const skippedRows = agg.badCount + skipped;
      results.push({ updatedRows: agg.count - skippedRows, skippedRows });
    }
    journal.clear();
    return StepResult.of({ value: results });
  }

  matmul(args: MatmulArgs): void {
    this.live();
    checkMatmul(args);
    matmul({
      ...args,
      a: this.data(args.a, 'a'),
      b: this.data(args.b, 'b'),
      c: this.data(args.c, 'c'),
    });
  }

  addBias(x: Tensor, bias: Tensor, rows: number, cols: number): void {
    checkRowsCols(rows, cols);
    addBias(this.data(x, 'x', rows * cols), this.data(bias, 'bias', cols), rows, cols);
  }

  relu(x: Tensor, out: Tensor): void {
    relu(this.data(x, 'x'), this.data(out, 'out', x.size));
  }

  reluBackward(grad: Tensor, x: Tensor, out: Tensor): void {
    const g = this.data(grad, 'grad');
    reluBackward(g, this.data(x, 'x', g.length), this.data(out, 'out', g.length));
  }

  sigmoid(x: Tensor, out: Tensor): void {
    sigmoid(this.data(x, 'x'), this.data(out, 'out', x.size));
  }

  bceWithLogits(logits: Tensor, labels: Tensor, loss: Tensor, grad?: Tensor): void {
    const x = this.data(logits, 'logits');
    const y = this.data(labels, 'labels', x.length);
    const l = this.data(loss, 'loss', 1);
    const g = grad === undefined ? undefined : this.data(grad, 'grad', x.length);
    l[0] = bceWithLogits(x, y.length === x.length ? y : y.subarray(0, x.length), g);
  }

  sumRows(x: Tensor, rows: number, cols: number, out: Tensor): void {
    checkRowsCols(rows, cols);
    sumRows(this.data(x, 'x', rows * cols), rows, cols, this.data(out, 'out', cols));
  }

  dispose(): void {
    this.tables.clear();
    this.tensors.clear();
    this.unobserved.clear();
    this.aggregateScratch.clear();
    this.disposed = true;
  }
}

/**
 * Creates the JS backend (nothing to initialise; async for the registry's sake). It takes no
 * options: `createBackend('js', options)` rejects any key, rather than ignoring it.
 * @throws TypeError for options that are not an object or have any key.
 */
export async function createJsBackend(options?: BackendOptions): Promise<JsBackend> {
  checkOptions('createJsBackend', options, [], {
    hints: { build: "the wasm backend's option (createBackend('wasm', { build }))" },
  });
  return new JsBackend();
}

/** The JS backend's registry entry: name "js", priority 0 (the fallback every platform has). */
export const jsBackend: BackendRegistration = Object.freeze({
  name: 'js',
  priority: 0,
  create: createJsBackend,
});

import type { Backend, StorageName, TableData, TableHandle } from '@halfstep/backend';
import { decodeScalar, formats } from '@halfstep/codecs';
import type { OptimizerKind, SparseOptimizer } from '@halfstep/optim';
import {
  addChecksums,
  type Checkpoint,
  CheckpointError,
  type CheckpointErrorOptions,
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  type SafetensorsDtype,
  sha256Hex,
  type Tensor,
  verifyChecksums,
  writeSafetensors,
} from './checkpoint/index.js';
import type { ResolvedTableConfig } from './config.js';

/** What a checkpoint saves and restores: a collection's tables, step and seed. */
export interface CheckpointedTables {
  readonly backend: Backend;
  readonly handles: readonly TableHandle[];
  readonly configs: readonly ResolvedTableConfig[];
  readonly step: number;
  readonly seed: bigint;
}

/** Options of `load` (`EmbeddingBagCollection.load`, `EmbeddingBag.load`). */
export interface LoadOptions {
  /**
   * Receives the warning about a file that records no checksums (written by another tool, such
   * as PyTorch's safetensors, or by a halfstep version before checksums): it loads, but its bytes
   * cannot be verified. Default: `process.emitWarning(message, { type: 'CheckpointWarning',
   * code: 'HALFSTEP_CHECKPOINT_UNVERIFIED' })` (`console.warn` where there is no `process`).
   */
  readonly onWarning?: ((message: string) => void) | undefined;
}

/** The value of metadata key `halfstep.format` in the checkpoints this package writes. */
export const CHECKPOINT_FORMAT = 'halfstep.embedding/1';

/** The `code` of the warning `load` emits for a file without checksums (see {@link LoadOptions}). */
export const UNVERIFIED_WARNING_CODE = 'HALFSTEP_CHECKPOINT_UNVERIFIED';

const DTYPE_OF: Readonly<Record<StorageName, SafetensorsDtype>> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float8e4m3: 'F8_E4M3',
  float8e5m2: 'F8_E5M2',
};

/**
 * The state slots that hold a sum of squares (or a running mean of squares): never negative.
 * A negative value there makes the next step's square root NaN.
 */
const SQUARES: Readonly<Record<OptimizerKind, readonly string[]>> = {
  sgd: [],
  momentum: [],
  adagrad: ['sum_squares'],
  'rowwise-adagrad': ['sum_squares'],
  adam: ['exp_avg_sq'],
};

/** The step metadata: a non-negative decimal integer without sign, spaces or leading zeros. */
const STEP = /^(0|[1-9][0-9]*)$/;

/** What a checkpoint records of each table, to check that it fits the tables it is loaded into. */
interface TableRecord {
  readonly name: string;
  readonly rows: number;
  readonly dim: number;
  readonly storage: StorageName;
  readonly rounding: string;
  readonly pooling: string;
  readonly optimizer: { readonly kind: string; readonly options: Record<string, unknown> };
}

const RECORD_FIELDS = ['name', 'rows', 'dim', 'storage', 'rounding', 'pooling'] as const;

/** A checkpoint that is well-formed but does not fit the tables it is loaded into. */
export class CheckpointMismatchError extends Error {
  /** An error about the file at `path`: `detail` says what differs. */
  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = 'CheckpointMismatchError';
  }
}

function view(bytes: Uint8Array, dtype: SafetensorsDtype): Tensor['data'] {
  const { buffer, byteOffset, byteLength } = bytes;
  if (dtype === 'F32') return new Float32Array(buffer, byteOffset, byteLength / 4);
  if (dtype === 'F16' || dtype === 'BF16')
    return new Uint16Array(buffer, byteOffset, byteLength / 2);
  return new Uint8Array(buffer, byteOffset, byteLength);
}

/**
 * Splits a table's interleaved per-row state (slot after slot within each row) into one
 * rows x width tensor per slot, named `{table}.optimizer.{slot}`.
 */
function stateTensors(
  name: string,
  rows: number,
  dim: number,
  optimizer: SparseOptimizer,
  state: Uint8Array,
  out: Record<string, Tensor>,
): void {
  const size = optimizer.stateSize(dim);
  const bytes = optimizer.stateStorage === 'float32' ? 4 : 2;
  const dtype = DTYPE_OF[optimizer.stateStorage];
  let offset = 0;
  for (const slot of optimizer.slots) {
    const width = slot.perElement ? dim : 1;
    const data = new Uint8Array(rows * width * bytes);
    for (let r = 0; r < rows; r++) {
      const src = (r * size + offset) * bytes;
      data.set(state.subarray(src, src + width * bytes), r * width * bytes);
    }
    out[`${name}.optimizer.${slot.name}`] = {
      dtype,
      shape: slot.perElement ? [rows, dim] : [rows],
      data: view(data, dtype),
    };
    offset += width;
  }
}

/** What a checkpoint holds before it is written: its tensors and metadata (with checksums). */
interface CheckpointContent {
  readonly tensors: Record<string, Tensor>;
  readonly metadata: Record<string, string>;
}

/**
 * A collection's checkpoint (see `EmbeddingBagCollection.save`): every tensor with its SHA-256
 * checksum in the metadata (`halfstep.checksum.<tensor>`, and `halfstep.checksum.__metadata__`
 * for the other metadata entries). `path` (when there is a file) names it in errors.
 */
async function checkpointContent(
  collection: CheckpointedTables,
  path: string | undefined,
): Promise<CheckpointContent> {
  const tensors: Record<string, Tensor> = {};
  const records: TableRecord[] = [];
  // The step and seed of the tables as exported now: read before awaiting anything, since a step
  // enqueued meanwhile comes after the export (work runs in call order).
  const step = collection.step;
  const seed = collection.seed;
  const exported = await Promise.all(
    collection.handles.map((h) => collection.backend.exportTable(h)),
  );
  collection.configs.forEach((c, t) => {
    const data: TableData = exported[t]!;
    const dtype = DTYPE_OF[c.storage];
    tensors[`${c.name}.weight`] = {
      dtype,
      shape: [c.rows, c.dim],
      data: view(data.weights, dtype),
    };
    stateTensors(c.name, c.rows, c.dim, c.optimizer, data.state, tensors);
    records.push({
      name: c.name,
      rows: c.rows,
      dim: c.dim,
      storage: c.storage,
      rounding: c.rounding,
      pooling: c.pooling,
      optimizer: { kind: c.optimizer.kind, options: { ...c.optimizer.options } },
    });
  });
  let metadata: Record<string, string>;
  try {
    metadata = await addChecksums(
      tensors,
      {
        'halfstep.format': CHECKPOINT_FORMAT,
        'halfstep.step': String(step),
        'halfstep.seed': seed.toString(),
        'halfstep.tables': JSON.stringify(records),
      },
      sha256Hex,
    );
  } catch (error) {
    throw error instanceof CheckpointError && path !== undefined ? error.withPath(path) : error;
  }
  return { tensors, metadata };
}

/** Saves a collection to the file `path`, written atomically by `writeSafetensors`. */
export async function saveCheckpoint(path: string, collection: CheckpointedTables): Promise<void> {
  const { tensors, metadata } = await checkpointContent(collection, path);
  await writeSafetensors(path, tensors, metadata);
}

/** A collection's checkpoint as the bytes of a safetensors file (what `save` would write). */
export async function checkpointBytes(
  collection: CheckpointedTables,
): Promise<Uint8Array<ArrayBuffer>> {
  const { tensors, metadata } = await checkpointContent(collection, undefined);
  // A fresh buffer of its own (never shared memory): a Blob part, an IndexedDB value.
  return encodeSafetensors(tensors, metadata) as Uint8Array<ArrayBuffer>;
}

/**
 * Where a checkpoint being loaded came from: `label` names it in messages (the file's path, or
 * {@link BYTES_LABEL}); `error` is the options of its CheckpointErrors (the path of a file).
 */
interface Where {
  readonly label: string;
  readonly error: CheckpointErrorOptions;
}

/** How errors name checkpoint bytes that came from no file. */
export const BYTES_LABEL = 'checkpoint bytes';

function bytesOf(tensor: Tensor): Uint8Array {
  const d = tensor.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  return value === undefined ? 'missing' : JSON.stringify(value);
}

/**
 * Checks that `tensor`, a `rows x width` tensor in `storage`, holds only finite values (and, with
 * `nonNegative`, none below zero; -0 is zero). Throws a {@link CheckpointError} (`invalid-value`)
 * naming the tensor, the first bad element with its row (and column) and its value (and code).
 */
function checkValues(
  at: Where,
  name: string,
  tensor: Tensor,
  storage: StorageName,
  width: number,
  rule: string,
  nonNegative: boolean,
): void {
  const data = tensor.data;
  let bad = -1;
  let shown = '';
  if (storage === 'float32') {
    const values = data as Float32Array;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v) || (nonNegative && v < 0)) {
        bad = i;
        shown = String(v);
        break;
      }
    }
  } else {
    const format = formats[storage];
    const codes = data as Uint16Array | Uint8Array;
    const sign = format.signMask;
    const magnitude = sign - 1;
    const max = format.maxFiniteCode;
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i]!;
      const m = code & magnitude;
      if (m > max || (nonNegative && code & sign && m !== 0)) {
        bad = i;
        const digits = format.bits / 4;
        shown = `${decodeScalar(format, code)} (${storage} code 0x${code.toString(16).padStart(digits, '0')})`;
        break;
      }
    }
  }
  if (bad < 0) return;
  const row = Math.floor(bad / width);
  const where = width === 1 ? `row ${row}` : `row ${row}, column ${bad % width}`;
  throw new CheckpointError(
    'invalid-value',
    `tensor ${JSON.stringify(name)}: element ${bad} (${where}) is ${shown}; ${rule}`,
    at.error,
  );
}

/** Checks a table record of the checkpoint against table `t` of the collection, field by field. */
function checkRecord(at: Where, t: number, rec: unknown, c: ResolvedTableConfig): void {
  const where = `metadata "halfstep.tables"[${t}]`;
  if (!isRecord(rec)) {
    throw new CheckpointError(
      'invalid-metadata',
      `${where} is ${describe(rec)}, not a table`,
      at.error,
    );
  }
  for (const key of Object.keys(rec)) {
    if (key !== 'optimizer' && !(RECORD_FIELDS as readonly string[]).includes(key)) {
      throw new CheckpointError(
        'invalid-metadata',
        `${where} has unknown field "${key}"`,
        at.error,
      );
    }
  }
  for (const key of RECORD_FIELDS) {
    if (rec[key] !== c[key]) {
      throw new CheckpointMismatchError(
        at.label,
        `table ${t} ("${c.name}"): checkpoint ${key} ${describe(rec[key])}, this table ${JSON.stringify(c[key])}`,
      );
    }
  }
  const optimizer = rec.optimizer;
  if (
    !isRecord(optimizer) ||
    !isRecord(optimizer.options) ||
    Object.keys(optimizer).some((key) => key !== 'kind' && key !== 'options')
  ) {
    throw new CheckpointError(
      'invalid-metadata',
      `${where}: optimizer is ${describe(optimizer)}, expected { kind, options }`,
      at.error,
    );
  }
  const options = optimizer.options;
  if (optimizer.kind !== c.optimizer.kind || options.stateStorage !== c.optimizer.stateStorage) {
    throw new CheckpointMismatchError(
      at.label,
      `table "${c.name}": checkpoint optimizer ${String(optimizer.kind)} (state ${String(options.stateStorage)}), this table ${c.optimizer.kind} (state ${c.optimizer.stateStorage})`,
    );
  }
  // Hyperparameters (lr, eps, decay, ...) may differ: resuming with a smaller learning rate is
  // legitimate. The kind and the state's storage fix the state's layout, so they must match.
}

function defaultWarning(message: string): void {
  if (typeof process !== 'undefined' && typeof process.emitWarning === 'function') {
    process.emitWarning(message, { type: 'CheckpointWarning', code: UNVERIFIED_WARNING_CODE });
  } else {
    console.warn(message);
  }
}

/**
 * Loads a checkpoint into a collection whose tables have the same names, shapes, storage,
 * rounding, pooling and optimizer kind and state storage (its hyperparameters may differ: e.g. a
 * smaller learning rate when fine-tuning). Checks everything before writing any
 * table: the checksums the file records (a file without any loads with a warning, see
 * {@link LoadOptions}), the metadata (format, a strict step, seed, table records) and the values
 * (finite weights; finite state, non-negative where it is a sum of squares). Returns the step to
 * resume at; the seed must match.
 */
export async function loadCheckpoint(
  path: string,
  collection: CheckpointedTables,
  options: LoadOptions = {},
): Promise<number> {
  return restoreCheckpoint(await readSafetensors(path), path, path, collection, options);
}

/**
 * The same as {@link loadCheckpoint}, from the bytes of a safetensors file (as
 * {@link checkpointBytes} gives them); errors name them {@link BYTES_LABEL}.
 */
export async function loadCheckpointBytes(
  bytes: Uint8Array,
  collection: CheckpointedTables,
  options: LoadOptions = {},
): Promise<number> {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(
      `loadSafetensors: bytes must be a Uint8Array (e.g. new Uint8Array(arrayBuffer)), got ${describeValue(bytes)}`,
    );
  }
  return restoreCheckpoint(decodeSafetensors(bytes), undefined, BYTES_LABEL, collection, options);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return typeof value;
}

/**
 * Checks a decoded checkpoint against the collection and imports it (see
 * {@link loadCheckpoint}). `filePath` is the file's path (CheckpointErrors carry it), `label`
 * names the checkpoint in every message: the path, or {@link BYTES_LABEL}.
 */
async function restoreCheckpoint(
  file: Checkpoint,
  filePath: string | undefined,
  label: string,
  collection: CheckpointedTables,
  options: LoadOptions,
): Promise<number> {
  const at: Where = { label, error: filePath === undefined ? {} : { path: filePath } };
  let unchecked: readonly string[];
  try {
    ({ unchecked } = await verifyChecksums(file, sha256Hex));
  } catch (error) {
    throw error instanceof CheckpointError && filePath !== undefined
      ? error.withPath(filePath)
      : error;
  }
  const meta = file.metadata;
  if (meta['halfstep.format'] !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      'invalid-metadata',
      `metadata "halfstep.format" is ${describe(meta['halfstep.format'])}, expected "${CHECKPOINT_FORMAT}"`,
      at.error,
    );
  }
  const stepText = meta['halfstep.step'];
  const step = Number(stepText);
  if (stepText === undefined || !STEP.test(stepText) || !Number.isSafeInteger(step)) {
    throw new CheckpointError(
      'invalid-metadata',
      `metadata "halfstep.step" is ${describe(stepText)}, expected a non-negative decimal integer (digits only, no leading zeros, at most 2^53 - 1)`,
      at.error,
    );
  }
  if (meta['halfstep.seed'] !== collection.seed.toString()) {
    throw new CheckpointMismatchError(
      at.label,
      `checkpoint seed ${meta['halfstep.seed']} differs from this collection's seed ${collection.seed}`,
    );
  }
  let records: unknown;
  try {
    records = JSON.parse(meta['halfstep.tables'] ?? '');
  } catch {
    throw new CheckpointError(
      'invalid-metadata',
      'metadata "halfstep.tables" is not valid JSON',
      at.error,
    );
  }
  if (!Array.isArray(records)) {
    throw new CheckpointError(
      'invalid-metadata',
      `metadata "halfstep.tables" is ${describe(records)}, expected an array of tables`,
      at.error,
    );
  }
  if (records.length !== collection.configs.length) {
    throw new CheckpointMismatchError(
      at.label,
      `checkpoint has ${records.length} tables, this collection ${collection.configs.length}`,
    );
  }
  const expected = new Set<string>();
  const imports: TableData[] = collection.configs.map((c, t) => {
    checkRecord(at, t, records[t], c);
    const weightName = `${c.name}.weight`;
    const weight = file.tensors[weightName];
    const dtype = DTYPE_OF[c.storage];
    if (!weight || weight.dtype !== dtype || weight.shape.join() !== `${c.rows},${c.dim}`) {
      throw new CheckpointMismatchError(
        at.label,
        `tensor "${weightName}" is missing or not ${dtype} [${c.rows}, ${c.dim}]`,
      );
    }
    expected.add(weightName);
    checkValues(at, weightName, weight, c.storage, c.dim, 'weights must be finite', false);
    const size = c.optimizer.stateSize(c.dim);
    const bytes = c.optimizer.stateStorage === 'float32' ? 4 : 2;
    const state = new Uint8Array(c.rows * size * bytes);
    const squares = SQUARES[c.optimizer.kind] ?? [];
    let offset = 0;
    for (const slot of c.optimizer.slots) {
      const width = slot.perElement ? c.dim : 1;
      const key = `${c.name}.optimizer.${slot.name}`;
      const tensor = file.tensors[key];
      const shape = slot.perElement ? `${c.rows},${c.dim}` : `${c.rows}`;
      if (
        !tensor ||
        tensor.dtype !== DTYPE_OF[c.optimizer.stateStorage] ||
        tensor.shape.join() !== shape
      ) {
        throw new CheckpointMismatchError(
          at.label,
          `tensor "${key}" is missing or not ${DTYPE_OF[c.optimizer.stateStorage]} [${shape}]`,
        );
      }
      expected.add(key);
      const square = squares.includes(slot.name);
      checkValues(
        at,
        key,
        tensor,
        c.optimizer.stateStorage,
        width,
        square
          ? `optimizer state "${slot.name}" is a sum of squares: it must be finite and >= 0`
          : `optimizer state "${slot.name}" must be finite`,
        square,
      );
      const src = bytesOf(tensor);
      for (let r = 0; r < c.rows; r++) {
        state.set(
          src.subarray(r * width * bytes, (r + 1) * width * bytes),
          (r * size + offset) * bytes,
        );
      }
      offset += width;
    }
    return { weights: bytesOf(weight), state };
  });
  for (const name of Object.keys(file.tensors)) {
    if (!expected.has(name)) {
      throw new CheckpointMismatchError(
        at.label,
        `tensor ${JSON.stringify(name)} of the checkpoint belongs to no table of this collection`,
      );
    }
  }
  if (unchecked.length > 0) {
    (options.onWarning ?? defaultWarning)(
      `${label}: the file records no checksums (written by another tool such as PyTorch's safetensors, or before halfstep wrote them): the bytes of its ${unchecked.length - 1} tensors and its metadata cannot be verified; shapes, dtypes, metadata and values were checked`,
    );
  }
  for (let t = 0; t < imports.length; t++)
    collection.backend.importTable(collection.handles[t]!, imports[t]!);
  return step;
}

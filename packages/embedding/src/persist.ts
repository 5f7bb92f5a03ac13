import type { Backend, StorageName, TableData, TableHandle } from '@halfstep/backend';
import type { SparseOptimizer } from '@halfstep/optim';
import {
  CheckpointError,
  readSafetensors,
  type SafetensorsDtype,
  type Tensor,
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

/** The value of metadata key `halfstep.format` in the checkpoints this package writes. */
export const CHECKPOINT_FORMAT = 'halfstep.embedding/1';

const DTYPE_OF: Readonly<Record<StorageName, SafetensorsDtype>> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float8e4m3: 'F8_E4M3',
  float8e5m2: 'F8_E5M2',
};

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

/** Saves a collection (see `EmbeddingBagCollection.save`). */
export async function saveCheckpoint(path: string, collection: CheckpointedTables): Promise<void> {
  const tensors: Record<string, Tensor> = {};
  const records: TableRecord[] = [];
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
  await writeSafetensors(path, tensors, {
    'halfstep.format': CHECKPOINT_FORMAT,
    'halfstep.step': String(collection.step),
    'halfstep.seed': collection.seed.toString(),
    'halfstep.tables': JSON.stringify(records),
  });
}

function bytesOf(tensor: Tensor): Uint8Array {
  const d = tensor.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * Loads a checkpoint into a collection whose tables have the same names, shapes, storage,
 * optimizer kind and state storage (hyper-parameters may differ). Checks everything before
 * writing any table. Returns the step to resume at; the seed must match.
 */
export async function loadCheckpoint(
  path: string,
  collection: CheckpointedTables,
): Promise<number> {
  const file = await readSafetensors(path);
  const meta = file.metadata;
  if (meta['halfstep.format'] !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      'invalid-metadata',
      `metadata "halfstep.format" is ${JSON.stringify(meta['halfstep.format'])}, expected "${CHECKPOINT_FORMAT}"`,
      { path },
    );
  }
  const step = Number(meta['halfstep.step']);
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new CheckpointError(
      'invalid-metadata',
      `metadata "halfstep.step" is ${JSON.stringify(meta['halfstep.step'])}, expected a non-negative integer`,
      { path },
    );
  }
  if (meta['halfstep.seed'] !== collection.seed.toString()) {
    throw new CheckpointMismatchError(
      path,
      `checkpoint seed ${meta['halfstep.seed']} differs from this collection's seed ${collection.seed}`,
    );
  }
  let records: TableRecord[];
  try {
    records = JSON.parse(meta['halfstep.tables'] ?? '');
  } catch {
    throw new CheckpointError('invalid-metadata', 'metadata "halfstep.tables" is not valid JSON', {
      path,
    });
  }
  if (!Array.isArray(records) || records.length !== collection.configs.length) {
    throw new CheckpointMismatchError(
      path,
      `checkpoint has ${Array.isArray(records) ? records.length : 'no'} tables, this collection ${collection.configs.length}`,
    );
  }
  const imports: TableData[] = collection.configs.map((c, t) => {
    const rec = records[t]!;
    for (const key of ['name', 'rows', 'dim', 'storage'] as const) {
      if (rec?.[key] !== c[key]) {
        throw new CheckpointMismatchError(
          path,
          `table ${t}: checkpoint ${key} ${JSON.stringify(rec?.[key])}, this table ${JSON.stringify(c[key])}`,
        );
      }
    }
    if (
      rec.optimizer?.kind !== c.optimizer.kind ||
      rec.optimizer.options?.stateStorage !== c.optimizer.stateStorage
    ) {
      throw new CheckpointMismatchError(
        path,
        `table "${c.name}": checkpoint optimizer ${rec.optimizer?.kind} (state ${String(rec.optimizer?.options?.stateStorage)}), this table ${c.optimizer.kind} (state ${c.optimizer.stateStorage})`,
      );
    }
    const weight = file.tensors[`${c.name}.weight`];
    const dtype = DTYPE_OF[c.storage];
    if (!weight || weight.dtype !== dtype || weight.shape.join() !== `${c.rows},${c.dim}`) {
      throw new CheckpointMismatchError(
        path,
        `tensor "${c.name}.weight" is missing or not ${dtype} [${c.rows}, ${c.dim}]`,
      );
    }
    const size = c.optimizer.stateSize(c.dim);
    const bytes = c.optimizer.stateStorage === 'float32' ? 4 : 2;
    const state = new Uint8Array(c.rows * size * bytes);
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
          path,
          `tensor "${key}" is missing or not ${DTYPE_OF[c.optimizer.stateStorage]} [${shape}]`,
        );
      }
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
  for (let t = 0; t < imports.length; t++)
    collection.backend.importTable(collection.handles[t]!, imports[t]!);
  return step;
}

import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { readSafetensors, type Tensor, writeSafetensors } from '@halfstep/embedding';
import type { Dlrm } from '../model/dlrm.js';
import type { DenseParam } from '../model/mlp.js';
import type { DenseOptimizer } from './dense-optimizer.js';
import type { TrainingState } from './state.js';

/** The file in a checkpoint directory that names the latest complete checkpoint. */
export const LATEST_FILE = 'latest';
const EMBEDDINGS_FILE = 'embeddings.safetensors';
const DENSE_FILE = 'dense.safetensors';
const METADATA_KEY = 'halfstep-recsys';
/** The names of the folders `saveCheckpoint` writes: `step-<9 digits>`, or with `-<n>`. */
const STEP_FOLDER = /^step-\d{9,}(-\d+)?$/;

/** The state slots of `params[k]` (`p`): the optimizer is built on the same params, in order. */
function stateOf(optimizer: DenseOptimizer, k: number, p: DenseParam): Float32Array[] {
  const slots = optimizer.state[k];
  if (slots === undefined) throw new Error(`the dense optimizer has no state for ${p.name}`);
  return slots;
}

/** Flushes `path` (a file, or a folder and everything in it) to the disk. */
async function fsyncTree(path: string): Promise<void> {
  if ((await stat(path)).isDirectory()) {
    for (const entry of await readdir(path)) await fsyncTree(join(path, entry));
  }
  await fsyncPath(path);
}

/** fsync of one file or folder (folders: their entries, after a create, rename or remove). */
async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads the folder name in `dir`'s `latest` file, or null when there is none. */
async function readLatest(dir: string): Promise<string | null> {
  try {
    return (await readFile(join(dir, LATEST_FILE), 'utf8')).trim();
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * The checkpoint folder that `name` (read from `dir`'s `latest`) names: one folder directly inside
 * `dir`. @throws Error naming the file and the value when it points anywhere else.
 */
export function checkpointFolder(dir: string, name: string): string {
  const root = resolve(dir);
  const folder = resolve(root, name);
  if (
    name === '' ||
    name.includes('/') ||
    name.includes('\\') ||
    name.includes('\0') ||
    name === '.' ||
    name === '..' ||
    !folder.startsWith(root + sep)
  ) {
    throw new Error(
      `checkpoint ${join(dir, LATEST_FILE)}: ${JSON.stringify(name)} is not the name of a checkpoint folder inside ${dir}`,
    );
  }
  return folder;
}

/** A folder name for step `step` that does not exist in `dir` yet (re-saving a step: a suffix). */
async function freshName(dir: string, step: number): Promise<string> {
  const base = `step-${String(step).padStart(9, '0')}`;
  const taken = new Set(await readdir(dir));
  if (!taken.has(base)) return base;
  for (let n = 1; ; n++) {
    const name = `${base}-${n}`;
    if (!taken.has(name)) return name;
  }
}

/**
 * Saves a complete checkpoint of `model`, `optimizer` and `state` under `dir`: a new folder
 * `step-<step>` (`step-<step>-<n>` when that name is taken, e.g. re-saving the same step after a
 * resume) holding `embeddings.safetensors` (the tables, by `@halfstep/embedding`) and
 * `dense.safetensors` (MLP weights, dense optimizer state, the position as I64
 * `[step, epoch, batchInEpoch, examplesSeen]`, the rest of `state` and `fingerprint` as JSON
 * metadata). Its files and the folder are fsynced, then `latest` is replaced atomically (a
 * fsynced temporary file renamed over it, then `dir` fsynced) to name it, and only then are the
 * other folders removed (never the one `latest` names). A crash at any point leaves `latest`
 * naming a complete checkpoint.
 */
export async function saveCheckpoint(
  dir: string,
  model: Dlrm,
  optimizer: DenseOptimizer,
  state: TrainingState,
  fingerprint: string,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const name = await freshName(dir, state.step);
  const folder = join(dir, name);
  await mkdir(folder);
  await model.embeddings.collection.save(join(folder, EMBEDDINGS_FILE));
  const tensors: Record<string, Tensor> = {};
  const params = model.denseParams();
  for (const [k, p] of params.entries()) {
    tensors[p.name] = { dtype: 'F32', shape: p.shape, data: p.host };
    for (const [s, slot] of stateOf(optimizer, k, p).entries()) {
      tensors[`optimizer.${p.name}.${s}`] = { dtype: 'F32', shape: p.shape, data: slot };
    }
  }
  tensors['train.position'] = {
    dtype: 'I64',
    shape: [4],
    data: BigInt64Array.from(
      [state.step, state.epoch, state.batchInEpoch, state.examplesSeen].map((v) => BigInt(v)),
    ),
  };
  const metadata = JSON.stringify({
    fingerprint,
    trainSeconds: state.trainSeconds,
    curve: state.curve,
  });
  await writeSafetensors(join(folder, DENSE_FILE), tensors, { [METADATA_KEY]: metadata });
  await fsyncTree(folder);
  await fsyncPath(dir);
  const temporary = join(dir, `${LATEST_FILE}.tmp-${process.pid}`);
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(`${name}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, join(dir, LATEST_FILE));
  await fsyncPath(dir);
  // `latest` now names `name` on the disk: every other folder (older checkpoints, the one
  // replaced, unfinished saves of a crashed run) and stale temporaries can go.
  for (const entry of await readdir(dir)) {
    // Only names this module writes: a user's `step-functions/` in the same folder is not ours.
    if ((STEP_FOLDER.test(entry) && entry !== name) || entry.startsWith(`${LATEST_FILE}.tmp-`)) {
      await rm(join(dir, entry), { recursive: true, force: true });
    }
  }
}

/**
 * Restores the latest checkpoint under `dir` into `model` and `optimizer` (built with the same
 * configuration) and returns the saved state, or null when `dir` holds no checkpoint.
 * @throws Error when the checkpoint was made with a different configuration (`fingerprint`), or
 *   its files are damaged.
 */
export async function loadCheckpoint(
  dir: string,
  model: Dlrm,
  optimizer: DenseOptimizer,
  fingerprint: string,
): Promise<TrainingState | null> {
  const name = await readLatest(dir);
  if (name === null) return null;
  const folder = checkpointFolder(dir, name);
  const denseFile = join(folder, DENSE_FILE);
  const dense = await readSafetensors(denseFile, { copy: true });
  let meta: { fingerprint?: string; trainSeconds?: number; curve?: TrainingState['curve'] };
  try {
    meta = JSON.parse(dense.metadata[METADATA_KEY] ?? '{}') as typeof meta;
  } catch (error) {
    throw new Error(
      `checkpoint ${denseFile}: the "${METADATA_KEY}" metadata is not valid JSON (${(error as Error).message})`,
      { cause: error },
    );
  }
  if (typeof meta !== 'object' || meta === null) {
    throw new Error(`checkpoint ${denseFile}: the "${METADATA_KEY}" metadata is not a JSON object`);
  }
  if (meta.fingerprint !== fingerprint) {
    throw new Error(
      `checkpoint ${folder} was made with a different configuration:\n  saved: ${meta.fingerprint}\n  now:   ${fingerprint}\n(use another --checkpoint directory, or the same options)`,
    );
  }
  const params = model.denseParams();
  const take = (key: string, into: Float32Array): void => {
    const tensor = dense.tensors[key];
    if (tensor?.dtype !== 'F32' || tensor.data.length !== into.length) {
      throw new Error(`checkpoint ${folder}: tensor ${key} is missing or has the wrong shape`);
    }
    into.set(tensor.data as Float32Array);
  };
  for (const [k, p] of params.entries()) {
    take(p.name, p.host);
    for (const [s, slot] of stateOf(optimizer, k, p).entries())
      take(`optimizer.${p.name}.${s}`, slot);
  }
  model.uploadDense();
  const position = dense.tensors['train.position']?.data;
  if (!(position instanceof BigInt64Array) || position.length !== 4) {
    throw new Error(`checkpoint ${folder}: train.position is missing`);
  }
  await model.embeddings.collection.load(join(folder, EMBEDDINGS_FILE));
  // Four values (checked above): the defaults are never used.
  const [step = 0, epoch = 0, batchInEpoch = 0, examplesSeen = 0] = Array.from(position, Number);
  if (model.embeddings.step !== step) {
    throw new Error(
      `checkpoint ${folder}: the tables are at step ${model.embeddings.step}, the dense part at step ${step}`,
    );
  }
  return {
    step,
    epoch,
    batchInEpoch,
    examplesSeen,
    trainSeconds: meta.trainSeconds ?? 0,
    curve: meta.curve ?? [],
  };
}

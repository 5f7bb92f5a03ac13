import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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

/** The state slots of `params[k]` (`p`): the optimizer is built on the same params, in order. */
function stateOf(optimizer: DenseOptimizer, k: number, p: DenseParam): Float32Array[] {
  const slots = optimizer.state[k];
  if (slots === undefined) throw new Error(`the dense optimizer has no state for ${p.name}`);
  return slots;
}

/**
 * Saves a complete checkpoint of `model`, `optimizer` and `state` under `dir`: a fresh folder
 * `step-<step>` holding `embeddings.safetensors` (the tables, by `@halfstep/embedding`) and
 * `dense.safetensors` (MLP weights, dense optimizer state, the position as I64
 * `[step, epoch, batchInEpoch, examplesSeen]`, the rest of `state` and `fingerprint` as JSON
 * metadata); then the `latest` file is replaced atomically (write + rename) to name that folder,
 * and older folders are removed. A crash at any point leaves `latest` naming a complete checkpoint.
 */
export async function saveCheckpoint(
  dir: string,
  model: Dlrm,
  optimizer: DenseOptimizer,
  state: TrainingState,
  fingerprint: string,
): Promise<void> {
  const name = `step-${String(state.step).padStart(9, '0')}`;
  const folder = join(dir, name);
  await rm(folder, { recursive: true, force: true });
  await mkdir(folder, { recursive: true });
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
  const temporary = join(dir, `${LATEST_FILE}.tmp-${process.pid}`);
  await writeFile(temporary, `${name}\n`);
  await rename(temporary, join(dir, LATEST_FILE));
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('step-') && entry !== name) {
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
  let name: string;
  try {
    name = (await readFile(join(dir, LATEST_FILE), 'utf8')).trim();
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return null;
    throw error;
  }
  const folder = join(dir, name);
  const dense = await readSafetensors(join(folder, DENSE_FILE), { copy: true });
  const meta = JSON.parse(dense.metadata[METADATA_KEY] ?? '{}') as {
    fingerprint?: string;
    trainSeconds?: number;
    curve?: TrainingState['curve'];
  };
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

import type {
  Backend,
  BackendName,
  NonFinitePolicy,
  Pooling,
  RoundingMode,
  StorageName,
  TableInit,
} from '@halfstep/backend';
import { argumentError, checkOptions, optionKeys } from '@halfstep/codecs';
import type { SparseOptimizer } from '@halfstep/optim';

/** Initial weights (`TableInit` of `@halfstep/backend`: zeros, seeded uniform, or values). */
export type Init = TableInit;

/** One table of a collection. */
export interface TableConfig {
  readonly rows: number;
  readonly dim: number;
  /** Storage of the weights. Default 'float16'. */
  readonly storage?: StorageName | undefined;
  /** Default 'stochastic' (float32 storage ignores it: float32 math stores exactly). */
  readonly rounding?: RoundingMode | undefined;
  /** Default 'sum'. */
  readonly pooling?: Pooling | undefined;
  readonly optimizer: SparseOptimizer;
  /** Default `{ uniform: 1 / sqrt(dim) }`. */
  readonly init?: Init | undefined;
  /** Name in error messages and checkpoints; default "table{t}" ("embedding" for a single bag). */
  readonly name?: string | undefined;
  /** Non-finite gradients: 'error' (default; nothing is written) or 'skip-rows'. */
  readonly nonFinite?: NonFinitePolicy | undefined;
}

/** Options shared by a collection's tables. */
export interface CollectionOptions {
  /** Key of every counter-based random bit (stochastic rounding, init). Default 0. */
  readonly seed?: number | bigint | undefined;
  /**
   * A backend instance, or a registered backend's name (default "js", always there): "wasm" once
   * `@halfstep/backend-wasm` (or its `/register` entry) is imported, "webgpu" once
   * `@halfstep/backend-webgpu/register` is; the names are the keys of `BackendNames`.
   */
  readonly backend?: Backend | BackendName | undefined;
}

/** The configuration of `createEmbeddingBag`: one table plus the collection options. */
export interface EmbeddingBagConfig extends TableConfig, CollectionOptions {}

/** A table config with every default filled in. */
export interface ResolvedTableConfig {
  readonly name: string;
  readonly rows: number;
  readonly dim: number;
  readonly storage: StorageName;
  readonly rounding: RoundingMode;
  readonly pooling: Pooling;
  readonly optimizer: SparseOptimizer;
  readonly init: Init;
  readonly nonFinite: NonFinitePolicy;
}

/** The keys of a table config (the type checker keeps the list complete). */
export const TABLE_CONFIG_KEYS = optionKeys<TableConfig>({
  rows: true,
  dim: true,
  storage: true,
  rounding: true,
  pooling: true,
  optimizer: true,
  init: true,
  name: true,
  nonFinite: true,
});

/** The keys of the collection options. */
export const COLLECTION_OPTION_KEYS = optionKeys<CollectionOptions>({ seed: true, backend: true });

/** Suggestions for PyTorch's and TorchRec's names of the config keys. */
export const CONFIG_HINTS: Readonly<Record<string, string>> = Object.freeze({
  num_embeddings: 'rows',
  numEmbeddings: 'rows',
  embedding_dim: 'dim',
  embeddingDim: 'dim',
  mode: 'pooling',
  dtype: 'storage',
  weight: 'init',
  _weight: 'init',
  device: 'backend',
  optim: 'optimizer',
  lr: 'optimizer: sgd({ lr }) (from @halfstep/optim)',
  learning_rate: 'optimizer: sgd({ lr }) (from @halfstep/optim)',
});

const STORAGES: readonly StorageName[] = [
  'float32',
  'float16',
  'bfloat16',
  'float8e4m3',
  'float8e5m2',
];

/**
 * Fills defaults and checks a table config.
 * @param fn - the function the messages name.
 * @throws TypeError naming the field for a wrong type (a missing `rows`, `dim` or `optimizer`
 *   included) or an unknown key; RangeError naming the field for a value out of range.
 */
export function resolveTableConfig(
  config: TableConfig,
  t: number,
  defaultName: string,
  fn = 'createEmbeddingBagCollection',
): ResolvedTableConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw argumentError(
      `${fn}: tables[${t}]`,
      'a table config { rows, dim, optimizer, ... }',
      config,
    );
  checkOptions(fn, config, TABLE_CONFIG_KEYS, { argument: `tables[${t}]`, hints: CONFIG_HINTS });
  if (config.name !== undefined && typeof config.name !== 'string')
    throw argumentError(`${fn}: tables[${t}].name`, 'a string', config.name);
  const name = config.name ?? defaultName;
  const where = `${fn}: table "${name}"`;
  for (const key of ['rows', 'dim'] as const) {
    if (typeof config[key] !== 'number')
      throw argumentError(`${where}: ${key}`, 'a positive integer', config[key]);
  }
  for (const key of ['storage', 'rounding', 'pooling', 'nonFinite'] as const) {
    const value = config[key];
    if (value !== undefined && typeof value !== 'string')
      throw argumentError(`${where}: ${key}`, 'a string', value);
  }
  if (!Number.isInteger(config.rows) || config.rows < 1)
    throw new RangeError(`${where}: rows must be a positive integer, got ${config.rows}`);
  if (!Number.isInteger(config.dim) || config.dim < 1)
    throw new RangeError(`${where}: dim must be a positive integer, got ${config.dim}`);
  const storage = config.storage ?? 'float16';
  if (!STORAGES.includes(storage))
    throw new RangeError(
      `${where}: storage must be one of ${STORAGES.join(', ')}, got ${String(storage)}`,
    );
  // float32 storage stores float32 math exactly: its rounding is nominally nearest-even.
  const rounding = storage === 'float32' ? 'nearest-even' : (config.rounding ?? 'stochastic');
  if (
    config.rounding !== undefined &&
    config.rounding !== 'stochastic' &&
    config.rounding !== 'nearest-even'
  )
    throw new RangeError(
      `${where}: rounding must be "stochastic" or "nearest-even", got ${String(config.rounding)}`,
    );
  const pooling = config.pooling ?? 'sum';
  if (pooling !== 'sum' && pooling !== 'mean')
    throw new RangeError(`${where}: pooling must be "sum" or "mean", got ${String(pooling)}`);
  const optimizer = config.optimizer;
  if (
    typeof optimizer !== 'object' ||
    optimizer === null ||
    typeof optimizer.updateRow !== 'function'
  ) {
    throw argumentError(
      `${where}: optimizer`,
      "an optimizer of @halfstep/optim's (sgd, momentum, adagrad, rowwiseAdagrad, adam)",
      optimizer,
    );
  }
  const init = config.init ?? { uniform: 1 / Math.sqrt(config.dim) };
  if (init instanceof Float32Array) {
    if (init.length !== config.rows * config.dim) {
      throw new RangeError(
        `${where}: init has ${init.length} values, expected rows x dim = ${config.rows * config.dim}`,
      );
    }
  } else if (
    init !== 'zeros' &&
    !(typeof init === 'object' && Number.isFinite(init.uniform) && init.uniform >= 0)
  ) {
    throw new RangeError(
      `${where}: init must be "zeros", { uniform: bound >= 0 } or a Float32Array`,
    );
  }
  const nonFinite = config.nonFinite ?? 'error';
  if (nonFinite !== 'error' && nonFinite !== 'skip-rows')
    throw new RangeError(
      `${where}: nonFinite must be "error" or "skip-rows", got ${JSON.stringify(nonFinite)}`,
    );
  return {
    name,
    rows: config.rows,
    dim: config.dim,
    storage,
    rounding,
    pooling,
    optimizer,
    init,
    nonFinite,
  };
}

/**
 * The seed as an unsigned 64-bit bigint (negative values modulo 2^64).
 * @throws TypeError for a seed that is neither a number nor a bigint; RangeError for one out of
 *   range.
 */
export function resolveSeed(
  seed: number | bigint | undefined,
  fn = 'createEmbeddingBagCollection',
): bigint {
  if (seed === undefined) return 0n;
  if (typeof seed !== 'number' && typeof seed !== 'bigint')
    throw argumentError(`${fn}: seed`, 'a number or a bigint', seed);
  if (typeof seed === 'number' && !Number.isSafeInteger(seed))
    throw new RangeError(`${fn}: seed must be a safe integer or a bigint, got ${seed}`);
  const big = BigInt(seed);
  if (big < -(2n ** 63n) || big >= 2n ** 64n)
    throw new RangeError(`${fn}: seed must be in [-2^63, 2^64), got ${seed}`);
  return BigInt.asUintN(64, big);
}

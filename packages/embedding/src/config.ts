import type {
  Backend,
  NonFinitePolicy,
  Pooling,
  RoundingMode,
  StorageName,
  TableInit,
} from '@halfstep/backend';
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
  /** A backend instance, or a registered backend's name. Default "js". */
  readonly backend?: Backend | string | undefined;
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

const STORAGES: readonly StorageName[] = [
  'float32',
  'float16',
  'bfloat16',
  'float8e4m3',
  'float8e5m2',
];

/** Fills defaults and checks a table config. @throws RangeError/TypeError naming the field. */
export function resolveTableConfig(
  config: TableConfig,
  t: number,
  defaultName: string,
): ResolvedTableConfig {
  if (typeof config !== 'object' || config === null)
    throw new TypeError(`tables[${t}]: expected a config object`);
  const name = config.name ?? defaultName;
  const where = `table "${name}"`;
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
    throw new TypeError(
      `${where}: optimizer must be one of @halfstep/optim's (sgd, momentum, adagrad, rowwiseAdagrad, adam)`,
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
    throw new RangeError(`${where}: nonFinite must be "error" or "skip-rows"`);
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

/** The seed as an unsigned 64-bit bigint (negative values modulo 2^64). @throws RangeError. */
export function resolveSeed(seed: number | bigint | undefined): bigint {
  if (seed === undefined) return 0n;
  if (typeof seed === 'number' && !Number.isSafeInteger(seed))
    throw new RangeError(`seed must be a safe integer or a bigint, got ${seed}`);
  if (typeof seed !== 'number' && typeof seed !== 'bigint')
    throw new TypeError(`seed must be a number or a bigint`);
  const big = BigInt(seed);
  if (big < -(2n ** 63n) || big >= 2n ** 64n)
    throw new RangeError(`seed must be in [-2^63, 2^64), got ${seed}`);
  return BigInt.asUintN(64, big);
}

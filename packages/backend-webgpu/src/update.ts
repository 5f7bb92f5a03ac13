import {
  DOMAIN_STATE,
  DOMAIN_WEIGHTS,
  randomBitsFor,
  type TableHandle,
  tableDomain,
} from '@halfstep/backend';
import { type FloatFormat, resolveFormat } from '@halfstep/codecs';
import { kernelConstants, type OptimizerKind } from '@halfstep/optim';
import { formatValues, UPDATE_LAYOUT } from './layouts.js';
import { formatParams } from './params.js';
import { STORE_SEGMENT, storeSource, updateSource } from './shaders/update.js';

/** The optimizer kinds the GPU fused update implements. */
export const GPU_OPTIMIZERS: ReadonlySet<OptimizerKind> = new Set<OptimizerKind>([
  'sgd',
  'momentum',
  'adagrad',
  'rowwise-adagrad',
  'adam',
]);

/** One pass of the fused update: its pipeline key, source and invocations. */
export interface UpdatePass {
  /** The pipeline cache key. */
  readonly key: string;
  /** The WGSL source (compiled once per key). */
  readonly source: () => string;
  /** Invocations to dispatch. */
  readonly invocations: number;
}

/**
 * The two dispatches of one table's fused update, which share their parameters and bindings:
 * `compute` (the new float32 weights and state and their finiteness check, `updateSource`),
 * then, once every table of the call has run its compute pass, `store` (`storeSource`).
 */
export interface UpdateKernel {
  readonly compute: UpdatePass;
  readonly store: UpdatePass;
  /** The parameter words (binding 0). */
  readonly params: Uint32Array;
  /** The state format's words (binding 6), or null for a stateless optimizer. */
  readonly stateParams: Uint32Array | null;
  /** Bytes of the new state between the passes (binding 7; 0 for a stateless optimizer). */
  readonly freshBytes: number;
  /**
   * The buffers in binding order: parameters, rows (`SKIPPED_ROW` for a row to leave alone; the
   * compute pass marks rows it skips), summed gradients (row-major; the compute pass overwrites
   * them with the new weights), the table's weights, the status words, and for a stateful
   * optimizer its state, the state format's words and `freshBytes` of scratch.
   */
  bindings(
    params: GPUBuffer,
    rows: GPUBuffer,
    grads: GPUBuffer,
    weights: GPUBuffer,
    status: GPUBuffer,
    state: GPUBuffer | null,
    stateParams: GPUBuffer | null,
    fresh: GPUBuffer | null,
  ): GPUBuffer[];
}

/** Columns per invocation of the compute pass when a row need not be computed whole. */
const SEGMENT = 8;

function formatOf(storage: string): FloatFormat | null {
  return storage === 'float32' ? null : resolveFormat(storage as 'float16');
}

/** Options of `updateKernel`. */
export interface UpdateOptions {
  /** The 'error' non-finite policy (else 'skip-rows'). */
  readonly policyError: boolean;
  /** The table's first word in the status buffer (see `STATUS`). */
  readonly statusBase: number;
}

/**
 * The fused update of `count` aggregated rows of `table` at optimizer step `step`: the two
 * passes, their parameters (`UPDATE_LAYOUT`, with the optimizer's float32 constants at this step
 * from `@halfstep/optim`'s `kernelConstants`, as every backend takes them) and bindings.
 */
export function updateKernel(
  table: TableHandle,
  count: number,
  step: number,
  { policyError, statusBase }: UpdateOptions,
): UpdateKernel {
  const opt = table.optimizer;
  const kind = opt.kind;
  const format = formatOf(table.storage);
  const stateFormat = formatOf(opt.stateStorage);
  const stateSize = opt.stateSize(table.dim);
  // Rows whose sums need every column in order are computed whole; others in segments of 8
  // columns, which spreads a row over neighbouring invocations.
  const whole = kind === 'rowwise-adagrad' || opt.maxNorm !== 0;
  const segment = whole ? table.dim : Math.min(table.dim, SEGMENT);
  const c = kernelConstants(opt, step);
  const params = UPDATE_LAYOUT.block({
    ...formatValues(format, true),
    count,
    dim: table.dim,
    step: step >>> 0,
    weightDomain: tableDomain(table.index, DOMAIN_WEIGHTS),
    key0: Number(table.seed & 0xffffffffn),
    key1: Number((table.seed >> 32n) & 0xffffffffn),
    weightStochastic: format !== null && table.rounding === 'stochastic' ? 1 : 0,
    weightRandomBits: format === null ? 0 : randomBitsFor(format.mantissaBits),
    stateDomain: tableDomain(table.index, DOMAIN_STATE),
    stateRandomBits: stateFormat === null ? 0 : randomBitsFor(stateFormat.mantissaBits),
    stateSize,
    segment,
    policyError: policyError ? 1 : 0,
    statusBase,
    lr: c.lr,
    l2: c.l2,
    decoupled: c.decoupled,
    shrink: c.shrink,
    maxNorm: c.maxNorm,
    momentum: c.momentum,
    eps: c.eps,
    beta1: c.beta1,
    beta2: c.beta2,
    oneMinusBeta1: c.oneMinusBeta1,
    oneMinusBeta2: c.oneMinusBeta2,
    biasCorrection1: c.biasCorrection1,
    biasCorrection2: c.biasCorrection2,
    dimValue: table.dim,
  });
  const stateful = kind !== 'sgd';
  const perRow =
    Math.ceil(table.dim / STORE_SEGMENT) + (stateful ? Math.ceil(stateSize / STORE_SEGMENT) : 0);
  return {
    compute: {
      key: `update-${kind}`,
      source: () => updateSource(kind),
      invocations: count * Math.ceil(table.dim / segment),
    },
    store: {
      key: storeKey(stateful),
      source: () => storeSource(stateful),
      invocations: count * perRow,
    },
    params,
    stateParams: stateful ? formatParams(stateFormat, true) : null,
    freshBytes: stateful ? count * stateSize * 4 : 0,
    bindings: (p, rows, grads, weights, status, state, sp, fresh) => {
      if (!stateful) return [p, rows, grads, weights, status];
      if (state === null || sp === null || fresh === null) {
        throw new Error(`optimizer "${kind}" needs its state`);
      }
      return [p, rows, grads, weights, status, state, sp, fresh];
    },
  };
}

/** The pipeline key of the store pass. */
export function storeKey(stateful: boolean): string {
  return stateful ? 'store-stateful' : 'store-stateless';
}

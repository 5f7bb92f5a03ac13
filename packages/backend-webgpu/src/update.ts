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
import { updateSource } from './shaders/update.js';

/** The optimizer kinds the GPU fused update implements. */
export const GPU_OPTIMIZERS: ReadonlySet<OptimizerKind> = new Set<OptimizerKind>([
  'sgd',
  'momentum',
  'adagrad',
  'rowwise-adagrad',
  'adam',
]);

/** One fused-update dispatch: its pipeline key and source, parameters and binding order. */
export interface UpdateKernel {
  /** The pipeline cache key. */
  readonly key: string;
  /** The WGSL source (compiled once per key). */
  readonly source: () => string;
  /** The parameter words (binding 0). */
  readonly params: Uint32Array;
  /** The state format's words (binding 6), or null for a stateless optimizer. */
  readonly stateParams: Uint32Array | null;
  /** Invocations to dispatch (one per row segment). */
  readonly invocations: number;
  /**
   * The buffers in binding order: parameters, rows (`SKIPPED_ROW` for a row to leave alone),
   * summed gradients (row-major; the kernel may overwrite them), the table's weights, the status
   * words (word 0 non-zero: write nothing), and for a stateful optimizer its state and the state
   * format's words.
   */
  bindings(
    params: GPUBuffer,
    rows: GPUBuffer,
    grads: GPUBuffer,
    weights: GPUBuffer,
    status: GPUBuffer,
    state: GPUBuffer | null,
    stateParams: GPUBuffer | null,
  ): GPUBuffer[];
}

/** Columns per invocation when a row need not be updated whole. */
const SEGMENT = 8;

function formatOf(storage: string): FloatFormat | null {
  return storage === 'float32' ? null : resolveFormat(storage as 'float16');
}

/**
 * The fused update of `count` aggregated rows of `table` at optimizer step `step`: the kernel,
 * its parameters (`UPDATE_LAYOUT`, with the optimizer's float32 constants at this step from
 * `@halfstep/optim`'s `kernelConstants`, as every backend takes them) and bindings.
 */
export function updateKernel(table: TableHandle, count: number, step: number): UpdateKernel {
  const opt = table.optimizer;
  const kind = opt.kind;
  const format = formatOf(table.storage);
  const stateFormat = formatOf(opt.stateStorage);
  const stateSize = opt.stateSize(table.dim);
  // Rows whose sums need every column in order run whole; others in segments of 8 columns
  // (one Philox block of 16-bit codes), which spreads a row over neighbouring invocations.
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
  return {
    key: `update-${kind}`,
    source: () => updateSource(kind),
    params,
    stateParams: stateful ? formatParams(stateFormat, true) : null,
    invocations: count * Math.ceil(table.dim / segment),
    bindings: (p, rows, grads, weights, status, state, sp) => {
      if (!stateful) return [p, rows, grads, weights, status];
      if (state === null || sp === null) throw new Error(`optimizer "${kind}" needs its state`);
      return [p, rows, grads, weights, status, state, sp];
    },
  };
}

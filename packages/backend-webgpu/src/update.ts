import {
  DOMAIN_STATE,
  DOMAIN_WEIGHTS,
  randomBitsFor,
  type TableHandle,
  tableDomain,
} from '@halfstep/backend';
import { type FloatFormat, resolveFormat } from '@halfstep/codecs';
import type { OptimizerKind } from '@halfstep/optim';
import { formatParams } from './params.js';
import { U, UPDATE_PARAM_WORDS, updateSource } from './shaders/update.js';

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

function f32Bits(value: number): number {
  return new Uint32Array(Float32Array.of(value).buffer)[0];
}

function formatOf(storage: string): FloatFormat | null {
  return storage === 'float32' ? null : resolveFormat(storage as 'float16');
}

/**
 * The fused update of `count` aggregated rows of `table` at optimizer step `step`: the kernel,
 * its parameters (the optimizer's normalised options as float32 bits, and its per-step scalars
 * from `stepScalars`, computed on the CPU exactly as `@halfstep/backend-js` does) and bindings.
 */
export function updateKernel(table: TableHandle, count: number, step: number): UpdateKernel {
  const opt = table.optimizer;
  const kind = opt.kind;
  const format = formatOf(table.storage);
  const stateFormat = formatOf(opt.stateStorage);
  const stateSize = opt.stateSize(table.dim);
  const params = new Uint32Array(UPDATE_PARAM_WORDS);
  params.set(formatParams(format, true).subarray(0, 16));
  params[U.count] = count;
  params[U.dim] = table.dim;
  params[U.step] = step >>> 0;
  params[U.weightDomain] = tableDomain(table.index, DOMAIN_WEIGHTS);
  params[U.key0] = Number(table.seed & 0xffffffffn);
  params[U.key1] = Number((table.seed >> 32n) & 0xffffffffn);
  params[U.weightStochastic] = format !== null && table.rounding === 'stochastic' ? 1 : 0;
  params[U.weightRandomBits] = format === null ? 0 : randomBitsFor(format.mantissaBits);
  params[U.stateDomain] = tableDomain(table.index, DOMAIN_STATE);
  params[U.stateRandomBits] = stateFormat === null ? 0 : randomBitsFor(stateFormat.mantissaBits);
  params[U.stateSize] = stateSize;
  // Rows whose sums need every column in order run whole; others in segments of 8 columns
  // (one Philox block of 16-bit codes), which spreads a row over neighbouring invocations.
  const whole = kind === 'rowwise-adagrad' || opt.maxNorm !== 0;
  const segment = whole ? table.dim : Math.min(table.dim, SEGMENT);
  params[U.segment] = segment;
  const o = opt.options;
  const num = (name: string) => Math.fround(Number(o[name] ?? 0));
  const lr = num('lr');
  const decoupled = num('decoupled');
  params[U.lr] = f32Bits(lr);
  params[U.l2] = f32Bits(num('l2'));
  params[U.decoupled] = f32Bits(decoupled);
  params[U.shrink] = f32Bits(decoupled === 0 ? 0 : Math.fround(lr * decoupled));
  params[U.maxNorm] = f32Bits(opt.maxNorm);
  params[U.momentum] = f32Bits(num('momentum'));
  params[U.eps] = f32Bits(num('eps'));
  params[U.beta1] = f32Bits(num('beta1'));
  params[U.beta2] = f32Bits(num('beta2'));
  params[U.oneMinusBeta1] = f32Bits(Math.fround(1 - num('beta1')));
  params[U.oneMinusBeta2] = f32Bits(Math.fround(1 - num('beta2')));
  const scalars = new Float32Array(Math.max(2, opt.scalarCount));
  opt.stepScalars(step, scalars);
  params[U.biasCorrection1] = f32Bits(scalars[0]);
  params[U.biasCorrection2] = f32Bits(scalars[1]);
  params[U.dimValue] = f32Bits(table.dim);
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

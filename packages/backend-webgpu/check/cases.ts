import type { BagInput, RoundingMode, StorageName, TableSpec } from '@halfstep/backend';
import {
  adagrad,
  adam,
  momentum,
  rowwiseAdagrad,
  type SparseOptimizer,
  sgd,
} from '@halfstep/optim';
import { lcg } from '../test/device.js';

/** Every weight storage the backend takes. */
export const STORAGES: readonly StorageName[] = [
  'float32',
  'float16',
  'bfloat16',
  'float8e4m3',
  'float8e5m2',
];

/** A random batch: `bags` bags of `perBag` lookups (uniform rows; duplicates likely). */
export function uniformBatch(
  rows: number,
  bags: number,
  perBag: number,
  seed: number,
  weights = false,
): BagInput {
  const next = lcg(seed);
  const indices = Int32Array.from({ length: bags * perBag }, () => Math.floor(next() * rows));
  const offsets = Int32Array.from({ length: bags }, (_, b) => b * perBag);
  const perSampleWeights = weights ? Float32Array.from(indices, () => next() * 4 - 2) : undefined;
  return { indices, offsets, perSampleWeights };
}

/** The spec of a check table (zeros until written; table number 2, a fixed seed). */
export function tableSpec(
  storage: StorageName,
  rows: number,
  dim: number,
  optimizer: SparseOptimizer,
  rounding: RoundingMode = 'stochastic',
): TableSpec {
  return {
    name: `check-${storage}`,
    index: 2,
    rows,
    dim,
    storage,
    rounding,
    optimizer,
    seed: 0x0123456789abcdefn,
  };
}

/** The optimizers of @halfstep/optim with the options the check covers. */
export function optimizers(): [string, SparseOptimizer][] {
  return [
    ['sgd', sgd({ lr: 0.1 })],
    ['sgd l2 max-norm', sgd({ lr: 0.05, weightDecay: { mode: 'l2', rate: 0.01 }, maxNorm: 0.8 })],
    ['momentum', momentum({ lr: 0.1, momentum: 0.9 })],
    [
      'momentum decoupled f16-state',
      momentum({ lr: 0.1, weightDecay: { mode: 'decoupled', rate: 0.1 }, stateStorage: 'float16' }),
    ],
    ['adagrad', adagrad({ lr: 0.1, initialAccumulator: 0.01 })],
    ['adagrad bf16-state max-norm', adagrad({ lr: 0.1, stateStorage: 'bfloat16', maxNorm: 0.5 })],
    ['rowwise-adagrad', rowwiseAdagrad({ lr: 0.1 })],
    [
      'rowwise-adagrad f16-state l2',
      rowwiseAdagrad({ lr: 0.1, stateStorage: 'float16', weightDecay: { mode: 'l2', rate: 0.02 } }),
    ],
    ['adam', adam({ lr: 0.01 })],
    [
      'adam f16-state decoupled',
      adam({ lr: 0.01, stateStorage: 'float16', weightDecay: { mode: 'decoupled', rate: 0.01 } }),
    ],
    ['adam bf16-state max-norm', adam({ lr: 0.01, stateStorage: 'bfloat16', maxNorm: 1 })],
  ];
}

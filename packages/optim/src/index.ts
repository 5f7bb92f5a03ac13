/**
 * Sparse optimizers for embedding tables: SGD, momentum, Adagrad, row-wise Adagrad and lazy Adam,
 * each a description of its per-row state and a float32 rule that updates one row.
 *
 * @packageDocumentation
 */

export { type KernelConstants, kernelConstants, OPTIMIZER_CODES } from './kernel-constants.js';
export type { AdagradOptions, AdamOptions, MomentumOptions, SgdOptions } from './optimizers.js';
export { adagrad, adam, momentum, rowwiseAdagrad, sgd } from './optimizers.js';
export type {
  CommonOptions,
  OptimizerKind,
  SparseOptimizer,
  StateSlot,
  StateStorage,
  WeightDecay,
} from './types.js';

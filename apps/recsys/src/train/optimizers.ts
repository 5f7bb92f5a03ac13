import { adam, rowwiseAdagrad, type SparseOptimizer, sgd } from '@halfstep/optim';
import type { OptimizerSettings } from './dense-optimizer.js';

/**
 * The embedding tables' sparse optimizer for the app's optimizer names: `sgd` -> `sgd({ lr })`,
 * `rowwise-adagrad` -> `rowwiseAdagrad({ lr })` (FBGEMM's rule, as DLRM uses for its tables),
 * `adam` -> lazy `adam({ lr })`; float32 state.
 */
export function sparseOptimizer(settings: OptimizerSettings): SparseOptimizer {
  const { lr } = settings;
  switch (settings.name) {
    case 'sgd':
      return sgd({ lr });
    case 'rowwise-adagrad':
      return rowwiseAdagrad({ lr, ...(settings.eps === undefined ? {} : { eps: settings.eps }) });
    case 'adam':
      return adam({ lr, ...(settings.eps === undefined ? {} : { eps: settings.eps }) });
  }
}

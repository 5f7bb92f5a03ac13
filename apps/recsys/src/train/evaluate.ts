import type { Backend, Tensor } from '@halfstep/backend';
import type { Batch } from '../data/batch.js';
import { MetricsAccumulator } from '../metrics/accumulator.js';
import type { Dlrm, DlrmTables } from '../model/dlrm.js';
import { hostValues } from '../model/tensors.js';

/** Validation quality of a model at one point of training. */
export interface Validation {
  /** Mean binary cross-entropy of the clipped probabilities (`logLoss`). */
  readonly logloss: number;
  /** ROC AUC. */
  readonly auc: number;
  /** Accuracy at threshold 0.5. */
  readonly accuracy: number;
  /** Examples evaluated. */
  readonly examples: number;
}

/**
 * Runs the model forward on every batch (nothing is updated; each lookup is released), turns
 * logits into probabilities with the backend's `sigmoid`, reads them, and computes log loss, AUC
 * and accuracy over all examples on the host (float64).
 */
export async function evaluate<E extends DlrmTables>(
  model: Dlrm<E>,
  batches: AsyncIterable<Batch>,
): Promise<Validation> {
  return evaluateLogits(model.backend, batches, async (batch) => {
    const logits = await model.forward(batch.dense, batch.sparse, batch.size);
    return { logits, done: () => model.embeddings.release() };
  });
}

/** A batch's logits on the backend, and what to do once they have been read. */
export interface BatchLogits {
  /** `batch.size` logits. */
  readonly logits: Tensor;
  /** Called once the probabilities are read (e.g. to release the lookup). */
  readonly done?: () => void;
}

/**
 * {@link evaluate} for any model: `logitsOf` gives a batch's logits as a tensor on `backend`,
 * which turns them into probabilities.
 */
export async function evaluateLogits(
  backend: Backend,
  batches: AsyncIterable<Batch>,
  logitsOf: (batch: Batch) => Promise<BatchLogits>,
): Promise<Validation> {
  const metrics = new MetricsAccumulator();
  let probabilities: Tensor | null = null;
  try {
    for await (const batch of batches) {
      const { logits, done } = await logitsOf(batch);
      if (probabilities?.size !== batch.size) {
        if (probabilities !== null) backend.disposeTensor(probabilities);
        probabilities = backend.tensor(batch.size);
      }
      backend.sigmoid(logits, probabilities);
      const values = await hostValues(backend, probabilities);
      done?.();
      metrics.add(batch.labels, values);
    }
  } finally {
    if (probabilities !== null) backend.disposeTensor(probabilities);
  }
  const m = metrics.compute();
  return { logloss: m.logLoss, auc: m.auc, accuracy: m.accuracy, examples: m.count };
}

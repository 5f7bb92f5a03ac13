import type { Backend } from '@halfstep/backend';
import type { Batch } from '../data/batch.js';
import { MetricsAccumulator } from '../metrics/accumulator.js';
import type { Dlrm } from '../model/dlrm.js';

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
 * Runs the model forward on every batch (nothing is updated), turns logits into probabilities
 * with the backend's `sigmoid`, and computes log loss, AUC and accuracy over all examples.
 */
export async function evaluate(model: Dlrm, batches: AsyncIterable<Batch>): Promise<Validation> {
  return evaluateLogits(model.backend, batches, (batch) =>
    model.forward(batch.dense, batch.sparse, batch.size),
  );
}

/**
 * {@link evaluate} for any model: `logitsOf` gives a batch's logits (e.g. after fetching its
 * embedding rows from a store); `backend` turns them into probabilities.
 */
export async function evaluateLogits(
  backend: Backend,
  batches: AsyncIterable<Batch>,
  logitsOf: (batch: Batch) => Float32Array | Promise<Float32Array>,
): Promise<Validation> {
  const metrics = new MetricsAccumulator();
  let probabilities = new Float32Array(0);
  for await (const batch of batches) {
    const logits = await logitsOf(batch);
    if (probabilities.length !== batch.size) probabilities = new Float32Array(batch.size);
    backend.sigmoid(logits, probabilities);
    metrics.add(batch.labels, probabilities);
  }
  const m = metrics.compute();
  return { logloss: m.logLoss, auc: m.auc, accuracy: m.accuracy, examples: m.count };
}

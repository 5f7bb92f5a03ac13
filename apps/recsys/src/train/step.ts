import type { BagUpdateResult, Tensor } from '@halfstep/backend';
import type { Batch } from '../data/batch.js';
import type { Dlrm, DlrmTables } from '../model/dlrm.js';
import { hostValues, TensorsByBatch } from '../model/tensors.js';
import type { DenseOptimizer } from './dense-optimizer.js';
import { divergedOr } from './diverged.js';

/** The training loss over a run of steps, as read from the backend. */
export interface LossWindow {
  /** Steps in the window. */
  readonly steps: number;
  /** Sum of their mean batch losses (float32, summed on the backend in step order). */
  readonly sum: number;
  /** `sum / steps` (NaN for an empty window). */
  readonly mean: number;
}

/**
 * One DLRM training step, the same for the in-memory and the store-backed tables: forward (the
 * tables' lookups included), mean BCE with logits on the backend, backward, the dense update at
 * the given optimizer step (host, float32), then the tables' update. The batch loss stays on the
 * backend, summed there; {@link TrainStep.takeLoss} reads the sum when the caller wants it (every
 * N steps), so a step reads back only what the host-side parts need.
 */
export class TrainStep<E extends DlrmTables = DlrmTables> {
  readonly #tensors: TensorsByBatch<{ labels: Tensor; gradLogits: Tensor }>;
  readonly #loss: Tensor;
  readonly #lossSum: Tensor;
  #lossSteps = 0;

  constructor(
    readonly model: Dlrm<E>,
    readonly optimizer: DenseOptimizer,
  ) {
    const { backend } = model;
    this.#tensors = new TensorsByBatch(backend, (batch) => ({
      labels: backend.tensor(batch),
      gradLogits: backend.tensor(batch),
    }));
    this.#loss = backend.tensor(1);
    this.#lossSum = backend.tensor(1);
  }

  /**
   * Trains on `batch` with optimizer step `step` (0 for the first) for the dense part; the tables
   * advance their own step. Resolves with what the tables' update did; rejects as it does (the
   * dense part is updated by then), with a `TrainingDivergedError` (the original as its cause)
   * when a loss or gradient was not finite.
   */
  async run(batch: Batch, step: number): Promise<BagUpdateResult[]> {
    try {
      return await this.#run(batch, step);
    } catch (error) {
      throw divergedOr(error, step + 1);
    }
  }

  async #run(batch: Batch, step: number): Promise<BagUpdateResult[]> {
    const { model } = this;
    const { backend } = model;
    const size = batch.size;
    const logits = await model.forward(batch.dense, batch.sparse, size);
    const { labels, gradLogits } = this.#tensors.get(size);
    backend.write(labels, batch.labels.subarray(0, size));
    backend.bceWithLogits(logits, labels, this.#loss, gradLogits);
    backend.addBias(this.#lossSum, this.#loss, 1, 1);
    this.#lossSteps++;
    const embeddingGrads = await model.backward(gradLogits);
    await this.optimizer.step(backend, model.denseParams(), step);
    return model.embeddings.update(embeddingGrads);
  }

  /** Steps since the last {@link TrainStep.takeLoss}. */
  get pendingLossSteps(): number {
    return this.#lossSteps;
  }

  /** The loss of the steps since the last call (one read), and starts a new window. */
  async takeLoss(): Promise<LossWindow> {
    const steps = this.#lossSteps;
    if (steps === 0) return { steps, sum: 0, mean: Number.NaN };
    const { backend } = this.model;
    const [sum = 0] = await hostValues(backend, this.#lossSum); // one value
    backend.write(this.#lossSum, new Float32Array(1));
    this.#lossSteps = 0;
    return { steps, sum, mean: sum / steps };
  }

  /** Frees the step's tensors (not the model's). */
  dispose(): void {
    const { backend } = this.model;
    this.#tensors.dispose();
    backend.disposeTensor(this.#loss);
    backend.disposeTensor(this.#lossSum);
  }
}

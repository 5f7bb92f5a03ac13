import { accuracyCount } from './accuracy.js';
import { checkSameLength } from './check.js';
import { LOG_LOSS_EPS, logLossSum } from './log-loss.js';
import { rocAuc } from './roc-auc.js';

/** What {@link MetricsAccumulator.compute} reports. */
export interface ValidationMetrics {
  /** Examples seen. */
  count: number;
  /** Mean log loss (see `logLoss`). */
  logLoss: number;
  /** ROC AUC over all examples seen (see `rocAuc`); NaN with one class only. */
  auc: number;
  /** Accuracy at the threshold (see `accuracy`). */
  accuracy: number;
  /** Mean label. */
  positiveRate: number;
  /** Mean predicted probability. */
  meanPrediction: number;
}

/**
 * Collects labels and predicted probabilities across validation batches (copying them into its
 * own growing float32 buffers) and computes log loss, AUC and accuracy over all of them. Log loss
 * and accuracy are summed as batches arrive; AUC needs every score and is computed at the end.
 */
export class MetricsAccumulator {
  #labels = new Float32Array(1024);
  #scores = new Float32Array(1024);
  #count = 0;
  #logLossSum = 0;
  #correct = 0;
  #positives = 0;
  #predictionSum = 0;
  readonly #threshold: number;
  readonly #eps: number;

  constructor(options: { threshold?: number; eps?: number } = {}) {
    this.#threshold = options.threshold ?? 0.5;
    this.#eps = options.eps ?? LOG_LOSS_EPS;
  }

  /** Examples added so far. */
  get count(): number {
    return this.#count;
  }

  /** Adds a batch: `labels[i]` (0/1) and `probabilities[i]`, the first `size` of each (default all). */
  add(labels: ArrayLike<number>, probabilities: ArrayLike<number>, size = labels.length): void {
    checkSameLength(labels, probabilities);
    if (!Number.isInteger(size) || size < 0 || size > labels.length) {
      throw new RangeError(`size must be an integer in [0, ${labels.length}], got ${size}`);
    }
    const l = size === labels.length ? labels : Array.prototype.slice.call(labels, 0, size);
    const p =
      size === probabilities.length
        ? probabilities
        : Array.prototype.slice.call(probabilities, 0, size);
    this.#reserve(this.#count + size);
    for (let i = 0; i < size; i++) {
      this.#labels[this.#count + i] = l[i];
      this.#scores[this.#count + i] = p[i];
      this.#positives += l[i];
      this.#predictionSum += p[i];
    }
    this.#logLossSum += logLossSum(l, p, this.#eps);
    this.#correct += accuracyCount(l, p, this.#threshold);
    this.#count += size;
  }

  #reserve(capacity: number): void {
    if (capacity <= this.#labels.length) return;
    const next = Math.max(capacity, this.#labels.length * 2);
    const labels = new Float32Array(next);
    labels.set(this.#labels.subarray(0, this.#count));
    const scores = new Float32Array(next);
    scores.set(this.#scores.subarray(0, this.#count));
    this.#labels = labels;
    this.#scores = scores;
  }

  /** The metrics over everything added so far (NaN where undefined, e.g. with no examples). */
  compute(): ValidationMetrics {
    const n = this.#count;
    return {
      count: n,
      logLoss: this.#logLossSum / n,
      auc: rocAuc(this.#labels.subarray(0, n), this.#scores.subarray(0, n)),
      accuracy: this.#correct / n,
      positiveRate: this.#positives / n,
      meanPrediction: this.#predictionSum / n,
    };
  }

  /** Forgets everything added (keeps the buffers). */
  reset(): void {
    this.#count = 0;
    this.#logLossSum = 0;
    this.#correct = 0;
    this.#positives = 0;
    this.#predictionSum = 0;
  }
}

import type { Dlrm } from '../model/dlrm.js';
import type { Precision } from '../model/precision.js';
import type { Validation } from './evaluate.js';
import type { TrainOptions } from './options.js';
import type { CurvePoint, TrainingState } from './state.js';

/** The outcome of `Trainer.run`. */
export interface TrainResult {
  readonly precision: Precision;
  readonly backend: string;
  readonly optimizer: string;
  readonly lr: number;
  readonly batchSize: number;
  readonly epochs: number;
  readonly seed: number;
  readonly steps: number;
  readonly examplesSeen: number;
  readonly trainSeconds: number;
  /** Training examples per second over the training steps (evaluation and checkpoints excluded). */
  readonly examplesPerSecond: number;
  /** Exact bytes of the embedding weights. */
  readonly embeddingBytes: number;
  /** Exact bytes of the embedding optimizer state. */
  readonly embeddingStateBytes: number;
  /** Bytes of the dense MLP weights (float32). */
  readonly denseBytes: number;
  /** The last validation (NaN metrics when there was none). */
  readonly validation: Validation;
  readonly curve: readonly CurvePoint[];
  /** False when `maxSteps` stopped the run before its last epoch ended. */
  readonly completed: boolean;
  /** The step training resumed from (0 for a fresh run). */
  readonly resumedFromStep: number;
}

/** What a run of `model` with `options` that reached `state` reports. */
export function trainResult(
  options: TrainOptions,
  model: Dlrm,
  state: TrainingState,
  completed: boolean,
  resumedFromStep: number,
): TrainResult {
  const o = options;
  const s = state;
  const last = s.curve[s.curve.length - 1];
  const nan = { logloss: Number.NaN, auc: Number.NaN, accuracy: Number.NaN, examples: 0 };
  // The key order is that of the metrics and compare JSON files: keep it.
  return {
    precision: o.precision,
    backend: o.backend.name,
    optimizer: o.optimizer.name,
    lr: o.optimizer.lr,
    batchSize: o.batchSize,
    epochs: o.epochs,
    seed: o.seed,
    steps: s.step,
    examplesSeen: s.examplesSeen,
    trainSeconds: s.trainSeconds,
    examplesPerSecond: s.trainSeconds > 0 ? s.examplesSeen / s.trainSeconds : 0,
    embeddingBytes: model.embeddings.weightBytes,
    embeddingStateBytes: model.embeddings.stateBytes,
    denseBytes: model.denseParams().reduce((sum, p) => sum + p.host.byteLength, 0),
    validation: last
      ? { logloss: last.logloss, auc: last.auc, accuracy: last.accuracy, examples: last.examples }
      : nan,
    curve: [...s.curve],
    completed,
    resumedFromStep,
  };
}

import type { Validation } from './evaluate.js';

/** One validation measurement during training. */
export interface CurvePoint extends Validation {
  /** Optimizer steps taken when it was measured. */
  readonly step: number;
  /** Training examples seen. */
  readonly examplesSeen: number;
  /** 0-based epoch it was measured in (after the last batch of an epoch: that epoch). */
  readonly epoch: number;
}

/** Where training stands: everything a resumed run needs besides the weights. */
export interface TrainingState {
  /** Optimizer steps taken (batches trained). */
  step: number;
  /** The current 0-based epoch. */
  epoch: number;
  /** Batches of the current epoch already trained (the data position). */
  batchInEpoch: number;
  /** Training examples seen in all epochs. */
  examplesSeen: number;
  /** Seconds spent in training steps (not evaluation or checkpoints), across resumes. */
  trainSeconds: number;
  /** Validation measurements so far. */
  curve: CurvePoint[];
}

/** The state of a run that has not started. */
export function initialState(): TrainingState {
  return { step: 0, epoch: 0, batchInEpoch: 0, examplesSeen: 0, trainSeconds: 0, curve: [] };
}

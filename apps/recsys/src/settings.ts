import { DEFAULT_BOTTOM, DEFAULT_EMBEDDING_DIM, DEFAULT_TOP } from './model/config.js';
import type { Precision } from './model/precision.js';
import type { OptimizerName } from './train/dense-optimizer.js';

/** Every knob of one training run, as the CLI resolves them. */
export interface RunSettings {
  /** Criteo TSV file (plain or .gz); absent: the built-in synthetic data. */
  readonly data?: string;
  /** Hash every categorical value of `data` to this many rows. */
  readonly maxIndRange: number;
  /** Synthetic data: cap on table rows. */
  readonly cap: number;
  /** Synthetic data: its seed. */
  readonly dataSeed: number;
  /** Training examples (synthetic: how many to generate; file: at most this many). */
  readonly trainExamples?: number;
  /** Synthetic data: validation examples. */
  readonly validationExamples: number;
  readonly precision: Precision;
  /** A backend name, or `auto`. */
  readonly backend: string;
  readonly optimizer: OptimizerName;
  readonly lr: number;
  readonly batchSize: number;
  readonly epochs: number;
  readonly seed: number;
  readonly bottom: readonly number[];
  readonly top: readonly number[];
  readonly embeddingDim: number;
  /** Validate every this many batches too (0: only at the end of each epoch). */
  readonly evalEvery: number;
  readonly checkpoint?: string;
  readonly checkpointEvery: number;
  readonly maxSteps?: number;
  /** Without a terminal: a progress line every this many batches. */
  readonly progressEvery: number;
  readonly quiet: boolean;
}

/** Training examples of the built-in data by default: a few minutes per precision on 2 cores. */
export const DEFAULT_TRAIN_EXAMPLES = 65_536;
/** Validation examples of the built-in data by default. */
export const DEFAULT_VALIDATION_EXAMPLES = 8_192;

/** The defaults: DLRM's Criteo Kaggle model, SGD lr 0.1, batch 128, one epoch, built-in data. */
export const DEFAULT_SETTINGS: RunSettings = {
  maxIndRange: 100_000,
  cap: 100_000,
  dataSeed: 1,
  validationExamples: DEFAULT_VALIDATION_EXAMPLES,
  precision: 'fp32',
  backend: 'auto',
  optimizer: 'sgd',
  lr: 0.1,
  batchSize: 128,
  epochs: 1,
  seed: 0,
  bottom: DEFAULT_BOTTOM,
  top: DEFAULT_TOP,
  embeddingDim: DEFAULT_EMBEDDING_DIM,
  evalEvery: 0,
  checkpointEvery: 0,
  progressEvery: 50,
  quiet: false,
};

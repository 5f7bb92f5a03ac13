import type { Backend } from '@halfstep/backend';
import type { Batch } from '../data/batch.js';
import type { DlrmConfig } from '../model/config.js';
import { Dlrm } from '../model/dlrm.js';
import type { EmbeddingTables } from '../model/embeddings.js';
import { type Precision, precisionSpec } from '../model/precision.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { DataSource } from './data-source.js';
import { DenseOptimizer, type OptimizerSettings } from './dense-optimizer.js';
import { evaluate, type Validation } from './evaluate.js';
import { sparseOptimizer } from './optimizers.js';
import { type CurvePoint, initialState, type TrainingState } from './state.js';
import { TrainStep } from './step.js';

/** Everything a training run needs. */
export interface TrainOptions {
  readonly backend: Backend;
  readonly config: DlrmConfig;
  readonly precision: Precision;
  readonly optimizer: OptimizerSettings;
  readonly data: DataSource;
  readonly batchSize: number;
  readonly epochs: number;
  /** Seeds the dense init, the tables' init and the stochastic rounding bits. */
  readonly seed: number;
  /** Also validate every this many batches (0 or absent: only at the end of each epoch). */
  readonly evalEvery?: number;
  /** Validation batch size (default max(batchSize, 1024)). */
  readonly evalBatchSize?: number;
  /** Save to (and resume from) this folder at the end of each epoch and every `checkpointEvery` batches. */
  readonly checkpointDir?: string;
  readonly checkpointEvery?: number;
  /** Stop (and checkpoint) after this many steps in total, as if interrupted. */
  readonly maxSteps?: number;
  /** Read the training loss from the backend every this many steps (default 50; see `BatchEvent.loss`). */
  readonly lossEvery?: number;
  /** Called after every training batch. */
  readonly onBatch?: (event: BatchEvent) => void;
  /** Called after every validation. */
  readonly onEval?: (point: CurvePoint) => void;
  /** Log lines (resume, checkpoints). */
  readonly log?: (line: string) => void;
}

/** What {@link Trainer.run}'s `onBatch` sees. */
export interface BatchEvent {
  readonly step: number;
  readonly epoch: number;
  readonly examplesSeen: number;
  /**
   * Mean training loss of the batches since the last event that had one: set every `lossEvery`
   * steps and at the end of each epoch (the loss stays on the backend in between).
   */
  readonly loss?: number;
  /** Training examples per second so far (training steps only). */
  readonly examplesPerSecond: number;
}

/** The outcome of {@link Trainer.run}. */
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
  /** The last validation. */
  readonly validation: Validation;
  readonly curve: readonly CurvePoint[];
  /** False when `maxSteps` stopped the run before its last epoch ended. */
  readonly completed: boolean;
  /** The step training resumed from (0 for a fresh run). */
  readonly resumedFromStep: number;
}

/**
 * A DLRM training run: each step a {@link TrainStep} (forward, mean BCE with logits, backward,
 * dense update (host, float32) and the fused embedding update at step `step`), for every batch of every epoch in data order, with
 * validation and checkpoints at the configured points. Deterministic: the same options give
 * bit-identical weights, including across an interruption and resume.
 */
export class Trainer {
  #state: TrainingState = initialState();
  #resumedFrom = 0;
  readonly #step: TrainStep<EmbeddingTables>;

  private constructor(
    readonly options: TrainOptions,
    readonly model: Dlrm,
    readonly denseOptimizer: DenseOptimizer,
  ) {
    this.#step = new TrainStep(model, denseOptimizer);
  }

  /** Builds the model, and restores the latest checkpoint from `checkpointDir` when there is one. */
  static async create(options: TrainOptions): Promise<Trainer> {
    const model = await Dlrm.create({
      backend: options.backend,
      config: options.config,
      precision: precisionSpec(options.precision),
      embeddingOptimizer: sparseOptimizer(options.optimizer),
      seed: options.seed,
    });
    const trainer = new Trainer(
      options,
      model,
      new DenseOptimizer(options.optimizer, model.denseParams()),
    );
    if (options.checkpointDir !== undefined) {
      const restored = await loadCheckpoint(
        options.checkpointDir,
        model,
        trainer.denseOptimizer,
        trainer.fingerprint,
      );
      if (restored) {
        trainer.#state = restored;
        trainer.#resumedFrom = restored.step;
        options.log?.(
          `resumed from ${options.checkpointDir} at step ${restored.step} (epoch ${restored.epoch + 1}, batch ${restored.batchInEpoch})`,
        );
      }
    }
    return trainer;
  }

  /** What must match for a checkpoint to be resumed: every option that changes the result. */
  get fingerprint(): string {
    const o = this.options;
    return JSON.stringify({
      config: o.config,
      precision: o.precision,
      optimizer: o.optimizer,
      batchSize: o.batchSize,
      seed: o.seed,
      data: o.data.description,
    });
  }

  /** A copy of the current state. */
  get state(): TrainingState {
    return { ...this.#state, curve: [...this.#state.curve] };
  }

  /**
   * One optimizer step on `batch` (its loss is summed on the backend; `takeLoss` reads it).
   * Rejects for a non-finite embedding gradient.
   */
  async trainStep(batch: Batch): Promise<void> {
    await this.#step.run(batch, this.#state.step);
  }

  /** The mean training loss of the steps since the last call (one read from the backend). */
  async takeLoss(): Promise<number> {
    return (await this.#step.takeLoss()).mean;
  }

  /** Frees the model and the step's tensors. */
  dispose(): void {
    this.#step.dispose();
    this.model.dispose();
  }

  /** Validates on the data's validation set and records the point on the curve. */
  async validate(): Promise<CurvePoint> {
    const { data, batchSize } = this.options;
    const validation = await evaluate(
      this.model,
      data.validationBatches(this.options.evalBatchSize ?? Math.max(batchSize, 1024)),
    );
    const s = this.#state;
    const point: CurvePoint = {
      ...validation,
      step: s.step,
      examplesSeen: s.examplesSeen,
      epoch: s.epoch,
    };
    s.curve.push(point);
    this.options.onEval?.(point);
    return point;
  }

  async #checkpoint(): Promise<void> {
    const dir = this.options.checkpointDir;
    if (dir === undefined) return;
    await saveCheckpoint(dir, this.model, this.denseOptimizer, this.#state, this.fingerprint);
    this.options.log?.(`checkpoint saved to ${dir} at step ${this.#state.step}`);
  }

  /** Trains from the current state to the end (or `maxSteps`) and returns the result. */
  async run(): Promise<TrainResult> {
    const o = this.options;
    const s = this.#state;
    const evalEvery = o.evalEvery ?? 0;
    const checkpointEvery = o.checkpointEvery ?? 0;
    const lossEvery = Math.max(1, o.lossEvery ?? 50);
    let completed = true;
    outer: while (s.epoch < o.epochs) {
      if (s.batchInEpoch * o.batchSize < o.data.trainExamples) {
        const batches = o.data.trainBatches(o.batchSize, s.batchInEpoch * o.batchSize);
        for await (const batch of batches) {
          if (o.maxSteps !== undefined && s.step >= o.maxSteps) {
            completed = false;
            await this.#checkpoint();
            break outer;
          }
          const t0 = performance.now();
          await this.trainStep(batch);
          s.trainSeconds += (performance.now() - t0) / 1000;
          s.step++;
          s.batchInEpoch++;
          s.examplesSeen += batch.size;
          const epochEnd = s.batchInEpoch * o.batchSize >= o.data.trainExamples;
          const loss = s.step % lossEvery === 0 || epochEnd ? await this.takeLoss() : undefined;
          o.onBatch?.({
            step: s.step,
            epoch: s.epoch,
            examplesSeen: s.examplesSeen,
            ...(loss === undefined ? {} : { loss }),
            examplesPerSecond: s.examplesSeen / s.trainSeconds,
          });
          if (evalEvery > 0 && s.step % evalEvery === 0) await this.validate();
          if (checkpointEvery > 0 && s.step % checkpointEvery === 0) await this.#checkpoint();
        }
      }
      const last = s.curve[s.curve.length - 1];
      if (!last || last.step !== s.step) await this.validate();
      s.epoch++;
      s.batchInEpoch = 0;
      await this.#checkpoint();
    }
    return this.#result(completed);
  }

  #result(completed: boolean): TrainResult {
    const o = this.options;
    const s = this.#state;
    const last = s.curve[s.curve.length - 1];
    const nan = { logloss: Number.NaN, auc: Number.NaN, accuracy: Number.NaN, examples: 0 };
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
      embeddingBytes: this.model.embeddings.weightBytes,
      embeddingStateBytes: this.model.embeddings.stateBytes,
      denseBytes: this.model.denseParams().reduce((sum, p) => sum + p.host.byteLength, 0),
      validation: last
        ? { logloss: last.logloss, auc: last.auc, accuracy: last.accuracy, examples: last.examples }
        : nan,
      curve: [...s.curve],
      completed,
      resumedFromStep: this.#resumedFrom,
    };
  }
}

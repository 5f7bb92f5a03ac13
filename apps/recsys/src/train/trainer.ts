import { Dlrm } from '../model/dlrm.js';
import type { EmbeddingTables } from '../model/embeddings.js';
import { precisionSpec } from '../model/precision.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { DenseOptimizer } from './dense-optimizer.js';
import { TrainingDivergedError } from './diverged.js';
import { evaluate } from './evaluate.js';
import { HookList, type TrainHooks } from './hooks.js';
import { sparseOptimizer } from './optimizers.js';
import type { TablesSpec, TrainOptions } from './options.js';
import { type TrainResult, trainResult } from './result.js';
import { type CurvePoint, initialState, type TrainingState } from './state.js';
import { TrainStep } from './step.js';

export type { TrainHooks } from './hooks.js';
export type { BatchEvent, TablesSpec, TrainOptions } from './options.js';
export type { TrainResult } from './result.js';

/**
 * The one DLRM training loop, for in-memory runs and for each worker of a store-backed
 * data-parallel run alike: each step a {@link TrainStep} (forward, mean BCE with logits,
 * backward, dense update (host, float32) and the embedding update at step `step`), for every
 * batch of every epoch of `data` (the whole data, or a worker's shard) in data order, with the
 * loss read every `lossEvery` steps, validation and checkpoints at the configured points, and the
 * run's {@link TrainHooks} at their places. Deterministic: the same options give bit-identical
 * weights, including across an interruption and resume.
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

  /**
   * Builds the model (its tables in memory, or where `openTables` opens them), and restores the
   * latest checkpoint from `checkpointDir` when there is one.
   */
  static async create(options: TrainOptions): Promise<Trainer> {
    const model = await buildModel(options);
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

  /** Frees the model and the step's tensors (tables in a store stay there). */
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

  /** Reads the loss of the steps since the last read (one backend read) and hands it to `hooks`. */
  async #readLoss(hooks: HookList): Promise<number> {
    const window = await this.#step.takeLoss();
    if (window.steps > 0 && !Number.isFinite(window.sum)) {
      const first = this.#state.step - window.steps + 1;
      throw new TrainingDivergedError(
        this.#state.step,
        `the training loss of steps ${first}-${this.#state.step} is ${window.mean}, not finite`,
      );
    }
    hooks.onLoss(window, this.#state.step);
    return window.mean;
  }

  /**
   * Trains from the current state to the end (or `maxSteps`) with `hooks` plugged in, and
   * returns the result.
   */
  async run(hooks: readonly TrainHooks[] = []): Promise<TrainResult> {
    const o = this.options;
    const s = this.#state;
    const each = new HookList(hooks);
    const evalEvery = o.evalEvery ?? 0;
    const checkpointEvery = o.checkpointEvery ?? 0;
    const lossEvery = Math.max(1, o.lossEvery ?? 50);
    const validateEachEpoch = o.validateEachEpoch ?? true;
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
          const updates = await this.#step.run(batch, s.step);
          s.trainSeconds += (performance.now() - t0) / 1000;
          s.step++;
          s.batchInEpoch++;
          s.examplesSeen += batch.size;
          each.afterUpdate(updates, s.step);
          const epochEnd = s.batchInEpoch * o.batchSize >= o.data.trainExamples;
          const readLoss =
            s.step % lossEvery === 0 ||
            (epochEnd && validateEachEpoch) ||
            each.readsLossAfter(s.step);
          const loss = readLoss ? await this.#readLoss(each) : undefined;
          o.onBatch?.({
            step: s.step,
            epoch: s.epoch,
            examplesSeen: s.examplesSeen,
            ...(loss === undefined ? {} : { loss }),
            examplesPerSecond: s.examplesSeen / s.trainSeconds,
          });
          await each.afterStep(s.step);
          if (evalEvery > 0 && s.step % evalEvery === 0) await this.validate();
          if (checkpointEvery > 0 && s.step % checkpointEvery === 0) await this.#checkpoint();
        }
      }
      const last = s.curve[s.curve.length - 1];
      if (validateEachEpoch && last?.step !== s.step) await this.validate();
      s.epoch++;
      s.batchInEpoch = 0;
      await this.#checkpoint();
    }
    // Hooks may count on seeing the loss of every step taken (e.g. `LossQuarters`).
    if (this.#step.pendingLossSteps > 0) await this.#readLoss(each);
    return trainResult(o, this.model, s, completed, this.#resumedFrom);
  }
}

/** The model of a run: dense part from the seed, tables in memory or opened by `openTables`. */
async function buildModel(options: TrainOptions): Promise<Dlrm> {
  const { backend, config, seed } = options;
  const spec: TablesSpec = {
    tableSizes: config.tableSizes,
    dim: config.embeddingDim,
    precision: precisionSpec(options.precision),
    optimizer: sparseOptimizer(options.optimizer),
    seed,
  };
  if (options.openTables === undefined) {
    return Dlrm.create({
      backend,
      config,
      precision: spec.precision,
      embeddingOptimizer: spec.optimizer,
      seed,
    });
  }
  return Dlrm.withTables({ backend, config, seed }, await options.openTables(spec));
}

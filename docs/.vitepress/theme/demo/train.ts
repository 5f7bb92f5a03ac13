/**
 * The live demo's model: logistic regression over an embedding bag, trained with plain SGD through
 * the `@halfstep/backend` kernels, one table per storage arm, all arms on the same data.
 *
 * Data: a planted table W* (rows x dim, N(0, truthStd^2)); a sample is `bag` row indices drawn
 * uniformly; its logit is the sum of the pooled (summed) rows' elements; its label is 1 with
 * probability sigmoid(logit under W*). The model starts from random weights, independent of W*.
 */
import {
  type Backend,
  type BagInput,
  type Rejection,
  type RoundingMode,
  registerBackend,
  type StorageName,
  selectBackend,
  type TableHandle,
} from '@halfstep/backend';
import { jsBackend } from '@halfstep/backend-js';
import { wasmBackend } from '@halfstep/backend-wasm';
import { sgd } from '@halfstep/optim';
import { createEngine, type RandomEngine } from '@halfstep/rng';

/** One storage arm of the demo. */
export interface DemoArm {
  readonly label: string;
  readonly storage: StorageName;
  readonly rounding: RoundingMode;
}

/** Sizes and hyper-parameters of the demo. */
export interface DemoOptions {
  readonly rows: number;
  readonly dim: number;
  readonly bag: number;
  readonly batch: number;
  readonly lr: number;
  readonly truthStd: number;
  /** Standard deviation of the initial weights (drawn independently of W*). */
  readonly initStd: number;
  /** Held-out samples the loss is measured on. */
  readonly evalSamples: number;
  readonly seed: number;
}

/** The defaults the page uses. */
export const DEMO_OPTIONS: DemoOptions = {
  rows: 256,
  dim: 8,
  bag: 4,
  batch: 64,
  lr: 0.02,
  truthStd: 0.25,
  initStd: 0.5,
  evalSamples: 2048,
  seed: 7,
};

/** The arms for a 16-bit format: float32 beside it with stochastic and nearest-even rounding. */
export function armsFor(format: 'float16' | 'bfloat16'): DemoArm[] {
  return [
    { label: 'float32', storage: 'float32', rounding: 'nearest-even' },
    { label: `${format}, stochastic`, storage: format, rounding: 'stochastic' },
    { label: `${format}, nearest-even`, storage: format, rounding: 'nearest-even' },
  ];
}

/** The backends the demo asks for, in order of preference. */
export const PREFERRED_BACKENDS = ['webgpu', 'wasm', 'js'] as const;

/** Registers the backends this build of the docs ships, once. */
function registerShippedBackends(): void {
  registerBackend(jsBackend);
  registerBackend(wasmBackend);
}

/** A batch of samples: the bag input and a label per sample. */
interface Batch {
  readonly input: BagInput;
  readonly labels: Float32Array;
}

function gaussian(random: RandomEngine): number {
  const u = 1 - random.nextFloat();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextFloat());
}

function sampleBatch(
  random: RandomEngine,
  truth: Float32Array,
  options: DemoOptions,
  size: number,
): Batch {
  const { rows, dim, bag } = options;
  const indices = new Int32Array(size * bag);
  const offsets = new Int32Array(size);
  const labels = new Float32Array(size);
  for (let s = 0; s < size; s++) {
    offsets[s] = s * bag;
    let logit = 0;
    for (let k = 0; k < bag; k++) {
      const row = Math.floor(random.nextFloat() * rows);
      indices[s * bag + k] = row;
      for (let j = 0; j < dim; j++) logit += truth[row * dim + j];
    }
    labels[s] = random.nextFloat() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
  }
  return { input: { indices, offsets }, labels };
}

/** A running demo: call `step()` repeatedly; `losses` grows every `evalEvery` steps. */
export interface DemoRun {
  readonly backend: string;
  readonly rejected: readonly Rejection[];
  readonly arms: readonly DemoArm[];
  /** Weight bytes of each arm's table. */
  readonly weightBytes: readonly number[];
  /** The step of each loss measurement. */
  readonly steps: number[];
  /** Held-out log loss of each arm at `steps`. */
  readonly losses: number[][];
  /** Trains every arm one step (one batch); measures the loss every `evalEvery` steps. */
  step(): void;
  dispose(): void;
}

/**
 * Selects a backend from {@link PREFERRED_BACKENDS}, creates one table per arm and measures the
 * initial loss.
 */
export async function startDemo(
  arms: readonly DemoArm[],
  evalEvery = 10,
  options: DemoOptions = DEMO_OPTIONS,
): Promise<DemoRun> {
  registerShippedBackends();
  const selection = await selectBackend(PREFERRED_BACKENDS);
  const backend: Backend = selection.backend;
  const { rows, dim, batch, lr, seed } = options;
  const truthRandom = createEngine('xoshiro128++', seed);
  const truth = new Float32Array(rows * dim).map(() => options.truthStd * gaussian(truthRandom));
  const evalSet = sampleBatch(
    createEngine('xoshiro128++', seed + 1),
    truth,
    options,
    options.evalSamples,
  );
  const tables: TableHandle[] = arms.map((arm, index) =>
    backend.createTable({
      name: arm.label,
      index,
      rows,
      dim,
      storage: arm.storage,
      rounding: arm.rounding,
      optimizer: sgd({ lr }),
      seed: BigInt(seed),
    }),
  );
  const initRandom = createEngine('xoshiro128++', seed + 3);
  const init = new Float32Array(rows * dim).map(() => options.initStd * gaussian(initRandom));
  for (const table of tables) backend.writeRows(table, init);
  // Every arm sees the same batches: one data stream per arm, same seed.
  const streams = arms.map(() => createEngine('xoshiro128++', seed + 2));
  const logits = new Float32Array(Math.max(batch, options.evalSamples));
  const gradOutput = new Float32Array(batch * dim);

  const logLoss = (table: TableHandle, data: Batch): number => {
    const pooled = backend.embeddingBagForward(table, data.input, 'sum');
    const n = data.labels.length;
    let sum = 0;
    for (let s = 0; s < n; s++) {
      let z = 0;
      for (let j = 0; j < dim; j++) z += pooled[s * dim + j];
      logits[s] = z;
      // log(1 + e^-|z|) + max(z, 0) - y z: stable binary cross-entropy.
      sum += Math.log1p(Math.exp(-Math.abs(z))) + Math.max(z, 0) - data.labels[s] * z;
    }
    return sum / n;
  };

  let step = 0;
  const run: DemoRun = {
    backend: selection.name,
    rejected: selection.rejected,
    arms,
    weightBytes: tables.map((t) => t.weightBytes),
    steps: [0],
    losses: tables.map((t) => [logLoss(t, evalSet)]),
    step() {
      tables.forEach((table, a) => {
        const data = sampleBatch(streams[a], truth, options, batch);
        logLoss(table, data);
        for (let s = 0; s < batch; s++) {
          const g = (1 / (1 + Math.exp(-logits[s])) - data.labels[s]) / batch;
          gradOutput.fill(g, s * dim, (s + 1) * dim);
        }
        backend.embeddingBagBackward([
          { table, input: data.input, pooling: 'sum', gradOutput, step },
        ]);
      });
      step++;
      if (step % evalEvery === 0) {
        run.steps.push(step);
        tables.forEach((t, a) => {
          run.losses[a].push(logLoss(t, evalSet));
        });
      }
    },
    dispose() {
      backend.dispose();
    },
  };
  return run;
}

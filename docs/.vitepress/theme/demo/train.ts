/**
 * The live demo's model: logistic regression over an embedding bag, trained with plain SGD through
 * an `@halfstep/embedding` collection, one table per storage arm, all arms on the same data. The
 * same code runs on every backend: the tables and the pooled outputs live on it (on WebGPU the
 * embedding-bag forward and the fused backward + SGD + rounded store run on the GPU); the pooled
 * outputs are read back for the logits and the loss, which the host computes in float64 so that
 * every backend draws the same curves, bit for bit.
 *
 * Data: a planted table W* (rows x dim, N(0, truthStd^2)); a sample is `bag` row indices drawn
 * uniformly; its logit is the sum of the pooled (summed) rows' elements; its label is 1 with
 * probability sigmoid(logit under W*). The model starts from random weights, independent of W*.
 */
import {
  type Backend,
  type BagInput,
  createBackend,
  type RoundingMode,
  registerBackend,
  type StorageName,
} from '@halfstep/backend';
import { jsBackend } from '@halfstep/backend-js';
import { WasmBackend, wasmBackend } from '@halfstep/backend-wasm';
import { WebGpuBackend, webgpuBackend } from '@halfstep/backend-webgpu';
import { createEmbeddingBagCollection } from '@halfstep/embedding';
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

/** The backends the demo offers, in order of preference. */
export const PREFERRED_BACKENDS = ['webgpu', 'wasm', 'js'] as const;
export type DemoBackend = (typeof PREFERRED_BACKENDS)[number];

for (const registration of [jsBackend, wasmBackend, webgpuBackend]) registerBackend(registration);

/** What runs a backend: the WebGPU adapter, the WASM build. */
function describeBackend(backend: Backend): string {
  if (backend instanceof WebGpuBackend) {
    const { vendor, architecture, description } = backend.adapter;
    return [vendor, architecture, description].filter(Boolean).join(' / ') || 'unnamed adapter';
  }
  if (backend instanceof WasmBackend) return `${backend.build} build`;
  return 'JavaScript reference kernels';
}

/** Whether a backend starts here, and what runs it (or why it cannot start). */
export interface BackendStatus {
  readonly name: DemoBackend;
  readonly available: boolean;
  /** The adapter or build when available, else the reason it is not. */
  readonly detail: string;
  /** A WebGPU adapter that runs on the CPU (SwiftShader, llvmpipe/lavapipe, WARP). */
  readonly software: boolean;
}

/**
 * Whether a WebGPU adapter emulates a GPU on the CPU: there the demo's small kernels are slower
 * than WASM (a run takes 10-20 s instead of 1-2 s).
 */
export function isSoftwareAdapter(backend: Backend): boolean {
  if (!(backend instanceof WebGpuBackend)) return false;
  const { vendor, architecture, description } = backend.adapter;
  return /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render|warp/i.test(
    `${vendor} ${architecture} ${description}`,
  );
}

/**
 * The backend a run starts on: the first of {@link PREFERRED_BACKENDS} that starts here, except
 * that WASM goes before a software WebGPU adapter.
 */
export function defaultBackend(statuses: readonly BackendStatus[]): DemoBackend | '' {
  const available = statuses.filter((s) => s.available);
  return (available.find((s) => !s.software) ?? available[0])?.name ?? '';
}

/**
 * Starts (and disposes) each of {@link PREFERRED_BACKENDS}: which can run here, on what, and
 * why not.
 */
export async function probeBackends(): Promise<BackendStatus[]> {
  const statuses: BackendStatus[] = [];
  for (const name of PREFERRED_BACKENDS) {
    try {
      const backend = await createBackend(name);
      const software = isSoftwareAdapter(backend);
      const detail = describeBackend(backend);
      statuses.push({ name, available: true, detail, software });
      backend.dispose();
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      statuses.push({ name, available: false, detail, software: false });
    }
  }
  return statuses;
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
      for (let j = 0; j < dim; j++) logit += truth[row * dim + j]!;
    }
    labels[s] = random.nextFloat() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
  }
  return { input: { indices, offsets }, labels };
}

/** A running demo: await `step()` repeatedly; `losses` grows every `evalEvery` steps. */
export interface DemoRun {
  readonly backend: DemoBackend;
  /** The adapter or build that runs it. */
  readonly detail: string;
  /** The embedding-bag forward and the fused update run on the GPU. */
  readonly onGpu: boolean;
  readonly arms: readonly DemoArm[];
  /** Weight bytes of each arm's table. */
  readonly weightBytes: readonly number[];
  /** The step of each loss measurement. */
  readonly steps: number[];
  /** Held-out log loss of each arm at `steps`. */
  readonly losses: number[][];
  /** Trains every arm one step (one batch); measures the loss every `evalEvery` steps. */
  step(): Promise<void>;
  dispose(): void;
}

/** Starts backend `name`, creates one table per arm and measures the initial loss. */
export async function startDemo(
  name: DemoBackend,
  arms: readonly DemoArm[],
  evalEvery = 10,
  options: DemoOptions = DEMO_OPTIONS,
): Promise<DemoRun> {
  const backend = await createBackend(name);
  const { rows, dim, batch, lr, seed } = options;
  const truthRandom = createEngine('xoshiro128++', seed);
  const truth = new Float32Array(rows * dim).map(() => options.truthStd * gaussian(truthRandom));
  const evalSet = sampleBatch(
    createEngine('xoshiro128++', seed + 1),
    truth,
    options,
    options.evalSamples,
  );
  const collection = await createEmbeddingBagCollection(
    arms.map((arm) => ({
      name: arm.label,
      rows,
      dim,
      storage: arm.storage,
      rounding: arm.rounding,
      pooling: 'sum' as const,
      optimizer: sgd({ lr }),
    })),
    { seed: BigInt(seed), backend },
  );
  const initRandom = createEngine('xoshiro128++', seed + 3);
  const init = new Float32Array(rows * dim).map(() => options.initStd * gaussian(initRandom));
  for (let a = 0; a < arms.length; a++) collection.writeRows(a, init);
  // Every arm sees the same batches.
  const stream = createEngine('xoshiro128++', seed + 2);

  /**
   * Pools `data` in every arm's table (one forward of the collection) and reads the outputs back;
   * writes each arm's logits (the sum of the pooled row) into `logits[a]` and returns the mean
   * log losses and the forward (for its backward, or to release).
   */
  const forward = async (data: Batch, logits: readonly Float32Array[]) => {
    const pass = collection.forward(arms.map(() => data.input));
    const pooled = await pass.read();
    const losses = pooled.map((values, a) => {
      let sum = 0;
      for (let s = 0; s < data.labels.length; s++) {
        let z = 0;
        for (let j = 0; j < dim; j++) z += values[s * dim + j]!;
        logits[a]![s] = z;
        // log(1 + e^-|z|) + max(z, 0) - y z: stable binary cross-entropy.
        sum += Math.log1p(Math.exp(-Math.abs(z))) + Math.max(z, 0) - data.labels[s]! * z;
      }
      return sum / data.labels.length;
    });
    return { pass, losses };
  };
  const evalLogits = arms.map(() => new Float32Array(options.evalSamples));
  const evaluate = async () => {
    const { pass, losses } = await forward(evalSet, evalLogits);
    pass.release();
    return losses;
  };
  const logits = arms.map(() => new Float32Array(batch));
  const gradOutputs = arms.map(() => new Float32Array(batch * dim));

  let step = 0;
  const initial = await evaluate();
  const run: DemoRun = {
    backend: name,
    detail: describeBackend(backend),
    onGpu: backend.name === 'webgpu',
    arms,
    weightBytes: collection.handles.map((t) => t.weightBytes),
    steps: [0],
    losses: initial.map((loss) => [loss]),
    async step() {
      const data = sampleBatch(stream, truth, options, batch);
      const { pass } = await forward(data, logits);
      for (const [a, gradOutput] of gradOutputs.entries()) {
        for (let s = 0; s < batch; s++) {
          const g = (1 / (1 + Math.exp(-logits[a]![s]!)) - data.labels[s]!) / batch;
          gradOutput.fill(g, s * dim, (s + 1) * dim);
        }
      }
      // One call updates every arm (on WebGPU: one submission).
      await collection.backward(pass, gradOutputs);
      step++;
      if (step % evalEvery === 0) {
        const losses = await evaluate();
        run.steps.push(step);
        losses.forEach((loss, a) => {
          run.losses[a]!.push(loss);
        });
      }
    },
    dispose() {
      collection.dispose();
      backend.dispose();
    },
  };
  return run;
}

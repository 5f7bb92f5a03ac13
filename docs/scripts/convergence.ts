/**
 * The convergence experiment behind docs/public/figures/convergence.svg: SGD on a strongly convex
 * least-squares problem over an embedding table whose parameters are stored in float16 or
 * bfloat16, rounded to nearest-even or stochastically, against float32 storage.
 */
import { decode, encode, type FormatName, type RoundingStrategy } from '@halfstep/codecs';
import { createEngine } from '@halfstep/rng';
import { nearestEven, stochastic } from '@halfstep/rounding';

/** One configuration of the experiment: where the parameters live and how they are rounded. */
export interface Arm {
  readonly label: string;
  /** `null`: float32 storage, no rounding. */
  readonly format: FormatName | null;
  readonly rounding: 'nearest-even' | 'stochastic' | null;
}

/** The arms the figure compares. */
export const ARMS: readonly Arm[] = [
  { label: 'float32', format: null, rounding: null },
  { label: 'float16, nearest-even', format: 'float16', rounding: 'nearest-even' },
  { label: 'float16, stochastic', format: 'float16', rounding: 'stochastic' },
  { label: 'bfloat16, nearest-even', format: 'bfloat16', rounding: 'nearest-even' },
  { label: 'bfloat16, stochastic', format: 'bfloat16', rounding: 'stochastic' },
];

/** Problem and schedule sizes; the defaults are what the committed figure uses. */
export interface ConvergenceOptions {
  readonly rows: number;
  readonly dim: number;
  readonly batch: number;
  readonly steps: number;
  /** Constant learning rate. */
  readonly lr: number;
  /** Standard deviation of the label noise. */
  readonly noise: number;
  /** Record the error every this many steps. */
  readonly every: number;
  readonly seed: number;
}

/** The committed figure's settings. */
export const DEFAULT_OPTIONS: ConvergenceOptions = {
  rows: 64,
  dim: 16,
  batch: 32,
  steps: 20_000,
  lr: 0.005,
  noise: 0.01,
  every: 100,
  seed: 2018,
};

/**
 * The floor no storage format can beat: the mean squared distance of the optimum itself to its
 * nearest representable value.
 */
export function gridFloor(
  format: FormatName,
  options: ConvergenceOptions = DEFAULT_OPTIONS,
): number {
  const truth = optimum(options);
  const stored = decode(format, encode(format, truth));
  let sum = 0;
  for (let k = 0; k < truth.length; k++) sum += (stored[k]! - truth[k]!) ** 2;
  return sum / truth.length;
}

/** The optimum w*: rows x dim standard normal values. */
function optimum({ rows, dim, seed }: ConvergenceOptions): Float32Array {
  const gauss = normals(createEngine('xoshiro128++', seed));
  return new Float32Array(rows * dim).map(() => gauss());
}

/** The error curve of one arm: mean squared distance of the parameters to the optimum. */
export interface Curve {
  readonly label: string;
  readonly steps: number[];
  readonly error: number[];
}

/** Standard normal deviates from an engine's uniform floats (Box-Muller). */
function normals(random: { nextFloat(): number }): () => number {
  return () => {
    const u = 1 - random.nextFloat();
    const v = random.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/**
 * Trains every arm on the same data stream: sample (row i, x ~ N(0, I)), label
 * y = w*_i . x + noise. Loss (w_i . x - y)^2 / 2, so the excess risk of row i is
 * |w_i - w*_i|^2 / 2 (strongly convex) and the optimum is known exactly. Each step sums the gradients of a batch
 * per touched row in float32, applies the update in float32 and stores the table back with the
 * arm's rounding (values already on the grid, like untouched rows, are never changed).
 */
export function runConvergence(options: ConvergenceOptions = DEFAULT_OPTIONS): Curve[] {
  const { rows, dim, batch, steps, lr, noise, every, seed } = options;
  const n = rows * dim;
  const truth = optimum(options);
  return ARMS.map((arm) => {
    const data = createEngine('xoshiro128++', seed + 1);
    const gauss = normals(data);
    const strategy: RoundingStrategy | null =
      arm.rounding === 'stochastic'
        ? stochastic({ random: createEngine('xoshiro128++', seed + 2) })
        : arm.rounding === 'nearest-even'
          ? nearestEven
          : null;
    let weights: Float32Array = new Float32Array(n);
    let codes = arm.format ? encode(arm.format, weights) : null;
    const grad = new Float32Array(n);
    const x = new Float32Array(dim);
    const curve: Curve = { label: arm.label, steps: [], error: [] };
    for (let t = 0; t <= steps; t++) {
      if (t % every === 0) {
        let sum = 0;
        for (let k = 0; k < n; k++) sum += (weights[k]! - truth[k]!) ** 2;
        curve.steps.push(t);
        curve.error.push(sum / n);
      }
      if (t === steps) break;
      grad.fill(0);
      for (let b = 0; b < batch; b++) {
        const row = Math.floor(data.nextFloat() * rows) * dim;
        let residual = noise * gauss();
        for (let j = 0; j < dim; j++) {
          x[j] = gauss();
          residual += (weights[row + j]! - truth[row + j]!) * x[j]!;
        }
        for (let j = 0; j < dim; j++) grad[row + j]! += residual * x[j]!;
      }
      for (let k = 0; k < n; k++) weights[k]! -= lr * grad[k]!;
      if (arm.format && codes && strategy) {
        codes = encode(arm.format, weights, { rounding: strategy, out: codes });
        weights = decode(arm.format, codes);
      }
    }
    return curve;
  });
}

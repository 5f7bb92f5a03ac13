import type { Backend } from '@halfstep/backend';
import { type DenseParam, uploadParam } from '../model/mlp.js';
import { hostValuesOf } from '../model/tensors.js';

/** The optimizers the app offers (the embedding tables use `@halfstep/optim`'s sparse form). */
export const OPTIMIZERS = ['sgd', 'rowwise-adagrad', 'adam'] as const;
/** One of {@link OPTIMIZERS}. */
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** Hyper-parameters shared by the dense and sparse optimizers. */
export interface OptimizerSettings {
  readonly name: OptimizerName;
  readonly lr: number;
  /** Adagrad/Adam epsilon (default 1e-8 for Adam, 1e-10 for Adagrad, as PyTorch). */
  readonly eps?: number;
}

/**
 * The optimizer of the dense MLP parameters, in float32 on the host (no backend kernel yet): it
 * reads the gradients from the backend, updates the params' host copies and writes them back.
 * `sgd`:
 * `w -= lr g`. `rowwise-adagrad` (dense layers get element-wise Adagrad, as DLRM uses
 * `torch.optim.Adagrad` for them): `s += g^2; w -= lr g / (sqrt(s) + eps)`. `adam`: PyTorch's Adam
 * (beta 0.9, 0.999): `m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`, t = step + 1.
 */
export class DenseOptimizer {
  /** Per param, the state slots (none for SGD, one for Adagrad, two for Adam), float32. */
  readonly state: Float32Array[][];

  constructor(
    readonly settings: OptimizerSettings,
    params: readonly DenseParam[],
  ) {
    const slots = settings.name === 'sgd' ? 0 : settings.name === 'adam' ? 2 : 1;
    this.state = params.map((p) =>
      Array.from({ length: slots }, () => new Float32Array(p.host.length)),
    );
  }

  /**
   * Applies one update from every param's `grad` (read from `backend`) at optimizer step `step`
   * (0 for the first) to its host values, and uploads them.
   */
  async step(backend: Backend, params: readonly DenseParam[], step: number): Promise<void> {
    const grads = await hostValuesOf(
      backend,
      params.map((p) => p.grad),
    );
    this.apply(params, grads, step);
    for (const p of params) uploadParam(backend, p);
  }

  /** The update itself, on host arrays: `params[k].host -= f(grads[k])`. */
  apply(params: readonly DenseParam[], grads: readonly Float32Array[], step: number): void {
    const { name, lr } = this.settings;
    for (const [k, p] of params.entries()) {
      const w = p.host;
      const g = grads[k]!;
      if (name === 'sgd') {
        for (let i = 0; i < w.length; i++) w[i]! -= lr * g[i]!;
      } else if (name === 'rowwise-adagrad') {
        const eps = this.settings.eps ?? 1e-10;
        const s = this.state[k]![0]!;
        for (let i = 0; i < w.length; i++) {
          s[i]! += g[i]! * g[i]!;
          w[i]! -= (lr * g[i]!) / (Math.sqrt(s[i]!) + eps);
        }
      } else {
        const eps = this.settings.eps ?? 1e-8;
        const state = this.state[k]!;
        const m = state[0]!;
        const v = state[1]!;
        const c1 = 1 - 0.9 ** (step + 1);
        const c2 = 1 - 0.999 ** (step + 1);
        for (let i = 0; i < w.length; i++) {
          m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
          v[i] = 0.999 * v[i]! + 0.001 * g[i]! * g[i]!;
          w[i]! -= (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
        }
      }
    }
  }
}

import type { Backend, Tensor } from '@halfstep/backend';
import type { InitRandom } from './init.js';
import { TensorsByBatch } from './tensors.js';

/**
 * One trainable float32 tensor: its values and gradient on the backend, and the host copy that
 * the dense optimizer (no backend kernel yet), checkpoints and dense averaging work on.
 */
export interface DenseParam {
  /** e.g. `bottom.0.weight`. */
  readonly name: string;
  /** Row-major dimensions. */
  readonly shape: readonly number[];
  /** The values on the backend: what the kernels read. Written from `host` by `uploadParam`. */
  readonly value: Tensor;
  /** d loss / d value of the last backward, on the backend (same size). */
  readonly grad: Tensor;
  /** The values on the host, the master copy: whoever changes it uploads it (`uploadParam`). */
  readonly host: Float32Array;
}

/** Copies a param's host values into its backend tensor. */
export function uploadParam(backend: Backend, param: DenseParam): void {
  backend.write(param.value, param.host);
}

/** A fully connected layer `y = x W + b` with W stored `in x out`, row-major. */
export interface DenseLayer {
  readonly inputs: number;
  readonly outputs: number;
  /** `inputs x outputs`. */
  readonly weight: DenseParam;
  /** `outputs`. */
  readonly bias: DenseParam;
  /** Whether a ReLU follows the layer. */
  readonly relu: boolean;
}

/** The tensors of one batch size: every layer's output, and every layer's input gradient. */
type MlpBuffers = {
  /** `activations[l]`: `batch x sizes[l + 1]`, the output of layer l. */
  readonly activations: readonly Tensor[];
  /** `inputGrads[l]`: `batch x sizes[l]`, d loss / d input of layer l. */
  readonly inputGrads: readonly Tensor[];
};

/**
 * A multilayer perceptron on a backend: `sizes = [in, h1, ..., out]`, a ReLU after every layer
 * whose `relu[l]` is true. Parameters, activations and gradients are backend tensors; forward
 * keeps the activations of the last batch for `backward`. Weights are initialised as DLRM does:
 * W ~ normal(0, sqrt(2 / (in + out))), b ~ normal(0, sqrt(1 / out)).
 */
export class Mlp {
  readonly layers: readonly DenseLayer[];
  readonly #backend: Backend;
  readonly #buffers: TensorsByBatch<MlpBuffers>;
  /** W^T per layer (`outputs x inputs`), made from the host weights for the input gradient. */
  readonly #transposed: Tensor[];
  readonly #transposedHost: Float32Array[];
  #input: Tensor | null = null;
  #batch = 0;

  constructor(
    backend: Backend,
    readonly name: string,
    readonly sizes: readonly number[],
    relu: readonly boolean[],
    random: InitRandom,
  ) {
    if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
      throw new RangeError(
        `${name}: sizes must be >= 2 positive integers, got [${sizes.join(', ')}]`,
      );
    }
    if (relu.length !== sizes.length - 1) {
      throw new RangeError(`${name}: expected ${sizes.length - 1} relu flags, got ${relu.length}`);
    }
    this.#backend = backend;
    const param = (suffix: string, shape: number[], host: Float32Array): DenseParam => ({
      name: `${name}.${suffix}`,
      shape,
      value: backend.tensor(host),
      grad: backend.tensor(host.length),
      host,
    });
    this.layers = relu.map((r, l) => {
      const inputs = sizes[l];
      const outputs = sizes[l + 1];
      // Present: relu.length === sizes.length - 1 (checked above).
      if (inputs === undefined || outputs === undefined)
        throw new RangeError(`${name}: no sizes for layer ${l}`);
      const weight = new Float32Array(inputs * outputs);
      const bias = new Float32Array(outputs);
      random.fillNormal(weight, Math.sqrt(2 / (inputs + outputs)));
      random.fillNormal(bias, Math.sqrt(1 / outputs));
      return {
        inputs,
        outputs,
        relu: r,
        weight: param(`${l}.weight`, [inputs, outputs], weight),
        bias: param(`${l}.bias`, [outputs], bias),
      };
    });
    this.#transposedHost = this.layers.map((l) => new Float32Array(l.inputs * l.outputs));
    this.#transposed = this.#transposedHost.map((t) => backend.tensor(t.length));
    this.#buffers = new TensorsByBatch(backend, (batch) => ({
      activations: sizes.slice(1).map((s) => backend.tensor(batch * s)),
      inputGrads: sizes.slice(0, -1).map((s) => backend.tensor(batch * s)),
    }));
  }

  /** The trainable tensors, weight then bias per layer. */
  params(): DenseParam[] {
    return this.layers.flatMap((layer) => [layer.weight, layer.bias]);
  }

  /**
   * Forward on `batch x sizes[0]` inputs (a tensor of at least that many values): per layer
   * `matmul` (x W), `addBias`, then `relu` where flagged. Returns the `batch x out` output tensor
   * (exactly that size), valid until the next forward of this batch size. `input` is kept (not
   * copied) for `backward`.
   */
  forward(input: Tensor, batch: number): Tensor {
    const backend = this.#backend;
    const { activations } = this.#buffers.get(batch);
    this.#batch = batch;
    this.#input = input;
    let x = input;
    for (let l = 0; l < this.layers.length; l++) {
      const { inputs, outputs, weight, bias, relu } = this.layers[l]!;
      const y = activations[l]!;
      backend.matmul({ m: batch, n: outputs, k: inputs, a: x, b: weight.value, c: y });
      backend.addBias(y, bias.value, batch, outputs);
      if (relu) backend.relu(y, y);
      x = y;
    }
    return x;
  }

  /**
   * Backward of the last forward: `gradOutput` is d loss / d output (exactly `batch x out`
   * values; it is overwritten). Sets every `grad` (bias: `sumRows`, weight: `x^T g` via `matmul`
   * with transA) and returns d loss / d input (`batch x in`, a tensor valid until the next call)
   * when `wantInputGrad`, else null.
   */
  backward(gradOutput: Tensor, wantInputGrad: boolean): Tensor | null {
    const backend = this.#backend;
    const batch = this.#batch;
    const input = this.#input;
    if (input === null) throw new Error(`${this.name}: backward before forward`);
    const { activations, inputGrads } = this.#buffers.get(batch);
    let g = gradOutput;
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const { inputs, outputs, weight, bias, relu } = this.layers[l]!;
      if (relu) backend.reluBackward(g, activations[l]!, g);
      backend.sumRows(g, batch, outputs, bias.grad);
      const x = l === 0 ? input : activations[l - 1]!;
      backend.matmul({
        m: inputs,
        n: outputs,
        k: batch,
        a: x,
        b: g,
        c: weight.grad,
        transA: true,
      });
      if (l === 0 && !wantInputGrad) return null;
      // d input = g W^T: W transposed on the host (its master copy) so that the product streams
      // rows, as a plain product (the same sums as transB, ascending).
      const wt = this.#transposedHost[l]!;
      const w = weight.host;
      for (let i = 0; i < inputs; i++) {
        const ro = i * outputs;
        for (let o = 0; o < outputs; o++) wt[o * inputs + i] = w[ro + o]!;
      }
      const transposed = this.#transposed[l]!;
      backend.write(transposed, wt);
      const gin = inputGrads[l]!;
      backend.matmul({ m: batch, n: inputs, k: outputs, a: g, b: transposed, c: gin });
      g = gin;
    }
    return g;
  }

  /** Copies every param's host values into its backend tensor. */
  upload(): void {
    for (const p of this.params()) uploadParam(this.#backend, p);
  }

  /** Frees the backend tensors. */
  dispose(): void {
    const backend = this.#backend;
    for (const p of this.params()) {
      backend.disposeTensor(p.value);
      backend.disposeTensor(p.grad);
    }
    for (const t of this.#transposed) backend.disposeTensor(t);
    this.#buffers.dispose();
  }
}

import type { Backend } from '@halfstep/backend';
import type { InitRandom } from './init.js';

/** One trainable float32 tensor and its gradient (same length). */
export interface DenseParam {
  /** e.g. `bottom.0.weight`. */
  readonly name: string;
  /** Row-major dimensions. */
  readonly shape: readonly number[];
  readonly value: Float32Array;
  readonly grad: Float32Array;
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

/**
 * A multilayer perceptron on a backend: `sizes = [in, h1, ..., out]`, a ReLU after every layer
 * whose `relu[l]` is true. Forward keeps the activations of the last batch for `backward`.
 * Weights are initialised as DLRM does: W ~ normal(0, sqrt(2 / (in + out))),
 * b ~ normal(0, sqrt(1 / out)).
 */
export class Mlp {
  readonly layers: readonly DenseLayer[];
  /** activations[0] is the input of the last forward; activations[l + 1] the output of layer l. */
  readonly #activations: Float32Array[];
  #batch = 0;
  #capacity = 0;
  #gradBuffers: Float32Array[] = [];
  #transposed: Float32Array[];

  constructor(
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
    this.layers = relu.map((r, l) => {
      const inputs = sizes[l];
      const outputs = sizes[l + 1];
      const weight = new Float32Array(inputs * outputs);
      const bias = new Float32Array(outputs);
      random.fillNormal(weight, Math.sqrt(2 / (inputs + outputs)));
      random.fillNormal(bias, Math.sqrt(1 / outputs));
      return {
        inputs,
        outputs,
        relu: r,
        weight: {
          name: `${name}.${l}.weight`,
          shape: [inputs, outputs],
          value: weight,
          grad: new Float32Array(weight.length),
        },
        bias: {
          name: `${name}.${l}.bias`,
          shape: [outputs],
          value: bias,
          grad: new Float32Array(outputs),
        },
      };
    });
    this.#activations = sizes.map(() => new Float32Array(0));
    this.#transposed = this.layers.map((layer) => new Float32Array(layer.inputs * layer.outputs));
  }

  /** The trainable tensors, weight then bias per layer. */
  params(): DenseParam[] {
    return this.layers.flatMap((layer) => [layer.weight, layer.bias]);
  }

  #reserve(batch: number): void {
    if (batch <= this.#capacity) return;
    for (let l = 1; l < this.sizes.length; l++) {
      this.#activations[l] = new Float32Array(batch * this.sizes[l]);
    }
    this.#gradBuffers = this.sizes.map((s) => new Float32Array(batch * s));
    this.#capacity = batch;
  }

  /**
   * Forward on `batch x sizes[0]` inputs: per layer `matmul` (x W), `addBias`, then `relu` where
   * flagged. Returns a view of the `batch x out` output, valid until the next forward. `input` is
   * kept (not copied) for `backward`.
   */
  forward(backend: Backend, input: Float32Array, batch: number): Float32Array {
    this.#reserve(batch);
    this.#batch = batch;
    this.#activations[0] = input;
    for (let l = 0; l < this.layers.length; l++) {
      const { inputs, outputs, weight, bias, relu } = this.layers[l];
      const x = this.#activations[l];
      const y = this.#activations[l + 1].subarray(0, batch * outputs);
      backend.matmul({ m: batch, n: outputs, k: inputs, a: x, b: weight.value, c: y });
      backend.addBias(y, bias.value, batch, outputs);
      if (relu) backend.relu(y, y);
    }
    const last = this.layers.length;
    return this.#activations[last].subarray(0, batch * this.sizes[last]);
  }

  /**
   * Backward of the last forward: `gradOutput` is d loss / d output (`batch x out`; it is
   * overwritten). Sets every `grad` (bias: `sumRows`, weight: `x^T g` via `matmul` with transA)
   * and returns d loss / d input (`batch x in`, a view valid until the next call) when
   * `wantInputGrad`, else null.
   */
  backward(
    backend: Backend,
    gradOutput: Float32Array,
    wantInputGrad: boolean,
  ): Float32Array | null {
    const batch = this.#batch;
    let g = gradOutput;
    for (let l = this.layers.length - 1; l >= 0; l--) {
      const { inputs, outputs, weight, bias, relu } = this.layers[l];
      const y = this.#activations[l + 1];
      if (relu) backend.reluBackward(g, y, g);
      backend.sumRows(g, batch, outputs, bias.grad);
      const x = this.#activations[l];
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
      // d input = g W^T: transpose W once per step so that the product streams rows.
      const wt = this.#transposed[l];
      const w = weight.value;
      for (let i = 0; i < inputs; i++) {
        const ro = i * outputs;
        for (let o = 0; o < outputs; o++) wt[o * inputs + i] = w[ro + o];
      }
      const gin = this.#gradBuffers[l].subarray(0, batch * inputs);
      backend.matmul({ m: batch, n: inputs, k: outputs, a: g, b: wt, c: gin });
      g = gin;
    }
    return g;
  }
}

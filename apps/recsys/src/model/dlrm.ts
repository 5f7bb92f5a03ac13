import type { Backend, Tensor } from '@halfstep/backend';
import type { SparseOptimizer } from '@halfstep/optim';
import { checkConfig, type DlrmConfig } from './config.js';
import { EmbeddingTables } from './embeddings.js';
import { deriveSeed, InitRandom } from './init.js';
import { interactionBackward, interactionForward, interactionWidth } from './interaction.js';
import { type DenseParam, Mlp } from './mlp.js';
import type { PrecisionSpec } from './precision.js';
import type { DlrmTables } from './tables.js';
import { hostValues, hostValuesOf, TensorsByBatch } from './tensors.js';

/** What the dense part of a {@link Dlrm} needs. */
export interface DlrmDenseOptions {
  readonly backend: Backend;
  readonly config: DlrmConfig;
  /** Seeds every initial dense value. */
  readonly seed: number;
}

export type { DlrmTables } from './tables.js';

/** What {@link Dlrm} needs besides its shape. */
export interface DlrmOptions {
  readonly backend: Backend;
  readonly config: DlrmConfig;
  /** Embedding storage and rounding. */
  readonly precision: PrecisionSpec;
  /** The embedding tables' sparse optimizer. */
  readonly embeddingOptimizer: SparseOptimizer;
  /** Seeds every initial value and the stochastic rounding bits. */
  readonly seed: number;
}

/** The tensors of one batch size outside the MLPs. */
type DlrmBuffers = {
  /** `batch x denseFeatures`: the bottom MLP's input. */
  readonly dense: Tensor;
  /** `batch x interactionWidth`: the top MLP's input. */
  readonly interaction: Tensor;
  /** `batch x dim`: d loss / d bottom output. */
  readonly bottomGrad: Tensor;
};

/**
 * DLRM (Naumov et al. 2019) as in facebookresearch/dlrm's Criteo setting: dense features through
 * the bottom MLP (ReLU after every layer), one pooled embedding per categorical feature, the dot
 * interaction without self terms concatenated after the bottom output, the top MLP (ReLU after
 * every layer but the last) giving one logit per example. The MLPs run on `backend` (parameters,
 * activations and gradients are backend tensors); the dot interaction has no backend kernel yet
 * and runs on the host (`readSync` where the backend has it, else an awaited `read`).
 * `E` is the embedding part: the in-memory {@link EmbeddingTables} by default, or tables in a
 * store; either way their lookups are made by {@link Dlrm.forward}.
 */
export class Dlrm<E extends DlrmTables = EmbeddingTables> {
  readonly backend: Backend;
  readonly config: DlrmConfig;
  readonly bottom: Mlp;
  readonly top: Mlp;
  readonly embeddings: E;
  readonly #buffers: TensorsByBatch<DlrmBuffers>;
  /** The host values of the interaction's inputs in the last forward (bottom output, pooled). */
  #vectors: Float32Array[] = [];
  #interactionHost = new Float32Array(0);
  #vectorGrads: Float32Array[] = [];
  #batch = 0;

  private constructor(options: DlrmDenseOptions, embeddings: E) {
    const { backend, config, seed } = options;
    this.backend = backend;
    this.config = config;
    this.embeddings = embeddings;
    const random = new InitRandom(deriveSeed(seed, 1));
    const bottomSizes = [config.denseFeatures, ...config.bottom];
    this.bottom = new Mlp(
      backend,
      'bottom',
      bottomSizes,
      config.bottom.map(() => true),
      random,
    );
    const width = interactionWidth(config.tableSizes.length + 1, config.embeddingDim);
    const topSizes = [width, ...config.top];
    this.top = new Mlp(
      backend,
      'top',
      topSizes,
      config.top.map((_, l) => l < config.top.length - 1),
      random,
    );
    this.#buffers = new TensorsByBatch(backend, (batch) => ({
      dense: backend.tensor(batch * config.denseFeatures),
      interaction: backend.tensor(batch * width),
      bottomGrad: backend.tensor(batch * config.embeddingDim),
    }));
  }

  /**
   * Builds a DLRM with DLRM's init: dense weights normal(0, sqrt(2 / (in + out))), biases
   * normal(0, sqrt(1 / out)) from a stream seeded by `seed`; tables as {@link EmbeddingTables}.
   * @throws RangeError when the widths do not fit together.
   */
  static async create(options: DlrmOptions): Promise<Dlrm> {
    checkConfig(options.config);
    const { config } = options;
    const embeddings = await EmbeddingTables.create({
      backend: options.backend,
      tableSizes: config.tableSizes,
      dim: config.embeddingDim,
      precision: options.precision,
      optimizer: options.embeddingOptimizer,
      seed: options.seed,
    });
    return new Dlrm(options, embeddings);
  }

  /**
   * A DLRM whose dense part is built exactly as {@link Dlrm.create} builds it (same init for the
   * same seed) around embedding tables made elsewhere (e.g. in a store).
   * @throws RangeError when the widths do not fit together or `embeddings` has another table count.
   */
  static withTables<T extends DlrmTables>(options: DlrmDenseOptions, embeddings: T): Dlrm<T> {
    checkConfig(options.config);
    if (embeddings.count !== options.config.tableSizes.length) {
      throw new RangeError(
        `expected ${options.config.tableSizes.length} embedding tables, got ${embeddings.count}`,
      );
    }
    return new Dlrm(options, embeddings);
  }

  /** Width of the top MLP's input: `dim + (tables + 1) tables / 2` (367 for Criteo). */
  get interactionWidth(): number {
    return this.top.sizes[0]!;
  }

  /** Every dense trainable tensor: the bottom MLP's, then the top MLP's. */
  denseParams(): DenseParam[] {
    return [...this.bottom.params(), ...this.top.params()];
  }

  /** Copies every dense param's host values into its backend tensor (after changing them). */
  uploadDense(): void {
    this.bottom.upload();
    this.top.upload();
  }

  /**
   * Logits of a batch: `dense` is `batch x denseFeatures`, `sparse` is `batch x tables` row
   * indices (looked up in the tables, the lookup kept for their `update`). Resolves to the
   * `batch` logits, a backend tensor valid until the next forward of this batch size; keeps what
   * `backward` needs. After a forward without a backward (evaluation), call
   * `embeddings.release()`.
   */
  async forward(dense: Float32Array, sparse: Int32Array, batch: number): Promise<Tensor> {
    const { backend } = this;
    const buffers = this.#buffers.get(batch);
    backend.write(buffers.dense, dense.subarray(0, batch * this.config.denseFeatures));
    const x = this.bottom.forward(buffers.dense, batch);
    const pooled = await this.embeddings.lookup(sparse, batch);
    // The dot interaction on the host: its inputs come back from the backend.
    const tensors = pooled.filter((p): p is Tensor => !(p instanceof Float32Array));
    const [bottomOut, read] = await Promise.all([
      hostValues(backend, x),
      hostValuesOf(this.embeddings.backend, tensors),
    ]);
    let next = 0;
    this.#vectors = [
      bottomOut,
      ...pooled.map((p) => (p instanceof Float32Array ? p : read[next++]!)),
    ];
    const dim = this.config.embeddingDim;
    const width = this.interactionWidth;
    if (this.#interactionHost.length !== batch * width)
      this.#interactionHost = new Float32Array(batch * width);
    interactionForward(this.#vectors, batch, dim, this.#interactionHost);
    backend.write(buffers.interaction, this.#interactionHost);
    this.#batch = batch;
    return this.top.forward(buffers.interaction, batch);
  }

  /**
   * Backward of the last forward from d loss / d logits (a `batch` tensor, overwritten): sets the
   * dense params' `grad`, and resolves to d loss / d pooled embedding per table (`batch x dim`
   * host arrays, valid until the next call). Nothing is updated.
   */
  async backward(gradLogits: Tensor): Promise<Float32Array[]> {
    const { backend } = this;
    const batch = this.#batch;
    const dim = this.config.embeddingDim;
    const gz = this.top.backward(gradLogits, true) as Tensor;
    const gradOut = await hostValues(backend, gz);
    const count = this.#vectors.length;
    if (this.#vectorGrads.length !== count || this.#vectorGrads[0]!.length < batch * dim) {
      this.#vectorGrads = Array.from({ length: count }, () => new Float32Array(batch * dim));
    }
    const grads = this.#vectorGrads.map((g) => g.subarray(0, batch * dim));
    interactionBackward(this.#vectors, gradOut, batch, dim, grads);
    const { bottomGrad } = this.#buffers.get(batch);
    backend.write(bottomGrad, grads[0]!);
    this.bottom.backward(bottomGrad, false);
    return grads.slice(1);
  }

  /** Frees the embedding tables and the dense part's tensors. */
  dispose(): void {
    this.embeddings.dispose();
    this.bottom.dispose();
    this.top.dispose();
    this.#buffers.dispose();
  }
}

import type { Backend } from '@halfstep/backend';
import type { SparseOptimizer } from '@halfstep/optim';
import { checkConfig, type DlrmConfig } from './config.js';
import { EmbeddingTables } from './embeddings.js';
import { deriveSeed, InitRandom } from './init.js';
import { interactionBackward, interactionForward, interactionWidth } from './interaction.js';
import { type DenseParam, Mlp } from './mlp.js';
import type { PrecisionSpec } from './precision.js';

/** What the dense part of a {@link Dlrm} needs. */
export interface DlrmDenseOptions {
  readonly backend: Backend;
  readonly config: DlrmConfig;
  /** Seeds every initial dense value. */
  readonly seed: number;
}

/** What a {@link Dlrm}'s embedding part must offer the model (its lookups are made by the caller or by `forward`). */
export interface DlrmTables {
  /** Number of tables (one pooled vector per table per example). */
  readonly count: number;
  /** Frees the tables' memory (a remote store closes its connections elsewhere). */
  dispose(): void;
}

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

/**
 * DLRM (Naumov et al. 2019) as in facebookresearch/dlrm's Criteo setting: dense features through
 * the bottom MLP (ReLU after every layer), one pooled embedding per categorical feature, the dot
 * interaction without self terms concatenated after the bottom output, the top MLP (ReLU after
 * every layer but the last) giving one logit per example. Dense math runs on `backend`.
 * `E` is the embedding part: the in-memory {@link EmbeddingTables} by default, or tables in a
 * store, whose pooled lookups the caller makes and hands to {@link Dlrm.forwardPooled}.
 */
export class Dlrm<E extends DlrmTables = EmbeddingTables> {
  readonly backend: Backend;
  readonly config: DlrmConfig;
  readonly bottom: Mlp;
  readonly top: Mlp;
  readonly embeddings: E;
  #vectors: Float32Array[] = [];
  #interaction = new Float32Array(0);
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
      'bottom',
      bottomSizes,
      config.bottom.map(() => true),
      random,
    );
    const width = interactionWidth(config.tableSizes.length + 1, config.embeddingDim);
    const topSizes = [width, ...config.top];
    this.top = new Mlp(
      'top',
      topSizes,
      config.top.map((_, l) => l < config.top.length - 1),
      random,
    );
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
    return this.top.sizes[0];
  }

  /** Every dense trainable tensor: the bottom MLP's, then the top MLP's. */
  denseParams(): DenseParam[] {
    return [...this.bottom.params(), ...this.top.params()];
  }

  /**
   * Logits of a batch: `dense` is `batch x denseFeatures`, `sparse` is `batch x tables` row
   * indices. Returns a `batch` view valid until the next forward; keeps what `backward` needs.
   */
  forward(
    this: Dlrm<EmbeddingTables>,
    dense: Float32Array,
    sparse: Int32Array,
    batch: number,
  ): Float32Array {
    const x = this.bottom.forward(this.backend, dense, batch);
    return this.#finishForward(x, this.embeddings.forward(sparse, batch), batch);
  }

  /**
   * Logits of a batch from its dense features (`batch x denseFeatures`) and its pooled embedding
   * lookups (one `batch x dim` array per table); as {@link Dlrm.forward} otherwise.
   */
  forwardPooled(dense: Float32Array, pooled: readonly Float32Array[], batch: number): Float32Array {
    const x = this.bottom.forward(this.backend, dense, batch);
    return this.#finishForward(x, pooled, batch);
  }

  /** The interaction and the top MLP, from the bottom output `x` and the pooled lookups. */
  #finishForward(x: Float32Array, pooled: readonly Float32Array[], batch: number): Float32Array {
    const dim = this.config.embeddingDim;
    this.#vectors = [x, ...pooled];
    const width = this.interactionWidth;
    if (this.#interaction.length < batch * width)
      this.#interaction = new Float32Array(batch * width);
    const z = this.#interaction.subarray(0, batch * width);
    interactionForward(this.#vectors, batch, dim, z);
    this.#batch = batch;
    return this.top.forward(this.backend, z, batch);
  }

  /**
   * Backward of the last forward from d loss / d logits (`batch`, overwritten): sets the dense
   * params' `grad`, and returns d loss / d pooled embedding per table (`batch x dim` each, valid
   * until the next call). Nothing is updated.
   */
  backward(gradLogits: Float32Array): Float32Array[] {
    const batch = this.#batch;
    const dim = this.config.embeddingDim;
    const gz = this.top.backward(this.backend, gradLogits, true) as Float32Array;
    const count = this.#vectors.length;
    if (this.#vectorGrads.length !== count || this.#vectorGrads[0].length < batch * dim) {
      this.#vectorGrads = Array.from({ length: count }, () => new Float32Array(batch * dim));
    }
    const grads = this.#vectorGrads.map((g) => g.subarray(0, batch * dim));
    interactionBackward(this.#vectors, gz, batch, dim, grads);
    this.bottom.backward(this.backend, grads[0], false);
    return grads.slice(1);
  }

  /** Frees the embedding tables. */
  dispose(): void {
    this.embeddings.dispose();
  }
}

import type { Backend, BagInput, Tensor } from '@halfstep/backend';

/** A forward of any collection, whatever the tuple of its outputs (for code that keeps several). */
// biome-ignore lint/suspicious/noExplicitAny: any forward, whatever its outputs' tuple
export type AnyForward = EmbeddingForward<any>;

/** Where a forward stands: waiting for its backward, used by one, or released unused. */
type ForwardState = 'open' | 'used' | 'released';

/**
 * What one `forward` of an embedding collection produced: the pooled outputs (one bags x dim
 * tensor per table, on the collection's backend) and what its `backward` needs (the checked
 * batches and the step the tables were at). Each forward allows one backward; `release()` gives
 * the outputs back without one (e.g. after evaluation). The outputs are valid until then.
 *
 * @example
 * ```ts
 * const forward = collection.forward([{ indices: [0, 2, 1], offsets: [0, 2] }]);
 * const [pooled] = await forward.read(); // 2 bags x dim
 * await collection.backward(forward, [gradient]);
 * ```
 */
export class EmbeddingForward<Pooled extends readonly unknown[] = Float32Array[]> {
  /**
   * The pooled outputs: `outputs[t]` holds bags x dim values of table t, row-major (a tuple
   * when the number of tables is known: one for a bag, one per batch of a literal list).
   */
  readonly outputs: { readonly [K in keyof Pooled]: Tensor };
  /** The collection's step when the forward ran (a backward must follow at that step). */
  readonly step: number;
  /** @internal The collection's count of loaded checkpoints when the forward ran. */
  readonly loads: number;
  /** @internal The checked batches, one per table. */
  readonly inputs: readonly BagInput[];
  /** @internal The collection that made it. */
  readonly owner: object;
  readonly #backend: Backend;
  readonly #giveBack: (outputs: readonly Tensor[], forward: AnyForward) => void;
  #state: ForwardState = 'open';

  /** @internal Made by `EmbeddingBagCollection.forward`. */
  constructor(
    owner: object,
    backend: Backend,
    at: { readonly step: number; readonly loads: number },
    inputs: readonly BagInput[],
    outputs: readonly Tensor[],
    giveBack: (outputs: readonly Tensor[], forward: AnyForward) => void,
  ) {
    this.owner = owner;
    this.#giveBack = giveBack;
    this.#backend = backend;
    this.step = at.step;
    this.loads = at.loads;
    this.inputs = inputs;
    this.outputs = outputs as unknown as { readonly [K in keyof Pooled]: Tensor };
  }

  /** Whether `backward` or `release` already consumed it. */
  get consumed(): boolean {
    return this.#state !== 'open';
  }

  /** @internal @throws Error naming `what` when the forward was consumed. */
  checkOpen(what: string): void {
    if (this.#state !== 'open') {
      throw new Error(
        `${what}: this forward was ${this.#state === 'used' ? 'already used by a backward' : 'released'}; its outputs are gone`,
      );
    }
  }

  /** The pooled outputs as host arrays, once the backend has computed them (a download). */
  async read(): Promise<Pooled> {
    this.checkOpen('read');
    const tensors: readonly Tensor[] = this.outputs;
    return (await Promise.all(tensors.map((t) => this.#backend.read(t)))) as unknown as Pooled;
  }

  /**
   * The same, synchronously, on backends whose memory the host can see (js, wasm).
   * @throws Error on a backend without `readSync` (WebGPU): use `read`.
   */
  readSync(): Pooled {
    this.checkOpen('readSync');
    const backend = this.#backend;
    if (backend.readSync === undefined) {
      throw new Error(`readSync: backend "${backend.name}" reads asynchronously; use read()`);
    }
    const tensors: readonly Tensor[] = this.outputs;
    return tensors.map((t) => backend.readSync?.(t) as Float32Array) as unknown as Pooled;
  }

  /** Gives the outputs back without a backward (after evaluation); the forward is spent. */
  release(): void {
    this.#giveBack(this.consume('released', 'release'), this);
  }

  /**
   * @internal Marks the forward consumed (`'used'` by a backward, `'released'` otherwise) and
   * returns its outputs, which the caller gives back once its work is enqueued.
   * @throws Error when it was consumed before.
   */
  consume(how: 'used' | 'released', what: string): readonly Tensor[] {
    this.checkOpen(what);
    this.#state = how;
    const tensors: readonly Tensor[] = this.outputs;
    return tensors;
  }
}

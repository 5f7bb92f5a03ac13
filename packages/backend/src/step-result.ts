/**
 * The outcome of an enqueued step (a fused backward), delivered lazily: nothing is computed or
 * read back until someone awaits it (calls `then`), so a training loop that never looks at a
 * step's result costs no download. An error nobody awaited is not lost: the backend keeps it in
 * its `UnobservedErrors` and `flush()` reports it.
 */
export class StepResult<T> implements PromiseLike<T> {
  #load: (() => Promise<T>) | null;
  #promise: Promise<T> | null = null;
  #observed = false;
  #succeeded = false;

  /** @param load - computes the outcome (e.g. reads a status word back); called at most once. */
  constructor(load: () => Promise<T>) {
    this.#load = load;
  }

  /** A result that is already known: a value, or the error it rejects with. */
  static of<T>(outcome: { readonly value: T } | { readonly error: unknown }): StepResult<T> {
    return new StepResult(() =>
      'error' in outcome ? Promise.reject(outcome.error) : Promise.resolve(outcome.value),
    );
  }

  /** Whether someone awaited it (then its error, if any, was delivered there). */
  get observed(): boolean {
    return this.#observed;
  }

  /** Whether the outcome is known and is not an error (nothing left to report). */
  get succeeded(): boolean {
    return this.#succeeded;
  }

  #outcome(): Promise<T> {
    if (this.#promise === null) {
      const load = this.#load as () => Promise<T>;
      this.#load = null; // what the load needed (e.g. a step's row ids) can go now
      this.#promise = load();
      this.#promise.then(
        () => {
          this.#succeeded = true;
        },
        () => undefined,
      );
    }
    return this.#promise;
  }

  // biome-ignore lint/suspicious/noThenProperty: a lazy thenable is the point: awaiting it starts the read.
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.#observed = true;
    return this.#outcome().then(onfulfilled, onrejected);
  }

  /** `then(undefined, onrejected)`, as on a promise. */
  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onrejected);
  }

  /** Runs `onfinally` once the outcome is known, as on a promise. */
  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.then(
      (value) => {
        onfinally?.();
        return value;
      },
      (reason: unknown) => {
        onfinally?.();
        throw reason;
      },
    );
  }

  /** The error of the outcome, or null, without marking it observed. */
  errorOf(): Promise<unknown> {
    return this.#outcome().then(
      () => null,
      (error: unknown) => error ?? new Error('a step failed without a reason'),
    );
  }
}

/**
 * The step results of a backend that may hold an error nobody has seen yet; `flush()` reports
 * the first such error once. A host backend adds only results it knows failed; a device backend
 * adds every result it has not read back.
 */
export class UnobservedErrors {
  #results = new Set<StepResult<unknown>>();

  /**
   * Remembers a result until it is awaited, known to have succeeded, or reported; forgets those
   * that already are, so that a loop which awaits its steps (or whose steps succeed) keeps none.
   */
  add(result: StepResult<unknown>): void {
    for (const r of this.#results) if (r.observed || r.succeeded) this.#results.delete(r);
    this.#results.add(result);
  }

  /** How many results are remembered (for tests of the pruning). */
  get size(): number {
    return this.#results.size;
  }

  /**
   * Resolves when every remembered result is known; rejects with the first error that nobody
   * awaited (once: the list is cleared either way).
   */
  async report(): Promise<void> {
    const results = this.#results;
    this.#results = new Set();
    for (const result of results) {
      if (result.observed) continue;
      const error = await result.errorOf();
      if (error !== null) throw error;
    }
  }

  /** Forgets every result. */
  clear(): void {
    this.#results = new Set();
  }
}

/**
 * The outcome of an enqueued step (a fused backward), delivered lazily: nothing is computed or
 * read back until someone awaits it (calls `then`), so a training loop that never looks at a
 * step's result costs no download. An error nobody awaited is not lost: the backend keeps it in
 * its `UnobservedErrors` and `flush()` reports it.
 */
export class StepResult<T> implements PromiseLike<T> {
  readonly #load: () => Promise<T>;
  #promise: Promise<T> | null = null;
  #observed = false;

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

  #outcome(): Promise<T> {
    this.#promise ??= this.#load();
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
  #results: StepResult<unknown>[] = [];

  /** Remembers a result until it is awaited or reported. */
  add(result: StepResult<unknown>): void {
    this.#results.push(result);
  }

  /**
   * Resolves when every remembered result is known; rejects with the first error that nobody
   * awaited (once: the list is cleared either way).
   */
  async report(): Promise<void> {
    const results = this.#results;
    this.#results = [];
    for (const result of results) {
      if (result.observed) continue;
      const error = await result.errorOf();
      if (error !== null) throw error;
    }
  }

  /** Forgets every result. */
  clear(): void {
    this.#results = [];
  }
}

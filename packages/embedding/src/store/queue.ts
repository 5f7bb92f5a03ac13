/**
 * Work run strictly in call order, like a device queue: each operation starts when everything
 * queued before it has finished. An operation queued with `enqueue` that fails fails the queue:
 * every later operation rejects with that error (nothing runs on a state nobody can vouch for).
 * An operation queued with `ask` delivers its own failure to its caller only.
 */
export class OrderedQueue {
  #tail: Promise<void> = Promise.resolve();
  #failure: unknown = null;

  #chain<T>(op: () => T | Promise<T>, sticky: boolean): Promise<T> {
    const run = this.#tail.then(() => {
      if (this.#failure !== null) throw this.#failure;
      return op();
    });
    this.#tail = run.then(
      () => undefined,
      (error: unknown) => {
        if (sticky) this.#failure ??= error;
      },
    );
    return run;
  }

  /** Queues work whose failure fails the queue (reported by the next `ask` or `settled`). */
  enqueue(op: () => unknown): void {
    this.#chain(op, true).catch(() => undefined);
  }

  /** Queues work and returns its result; its failure is its caller's alone. */
  ask<T>(op: () => T | Promise<T>): Promise<T> {
    return this.#chain(op, false);
  }

  /** Fails the queue with `error` (the first failure wins) and returns the failure. */
  fail(error: unknown): unknown {
    this.#failure ??= error;
    return this.#failure;
  }

  /** Resolves when everything queued so far has run; rejects when the queue failed. */
  async settled(): Promise<void> {
    await this.#tail;
    if (this.#failure !== null) throw this.#failure;
  }
}

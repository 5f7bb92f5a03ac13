/**
 * How the workers of one data-parallel run meet: barriers, dense averaging and small results.
 * {@link WorkerGroup} does it through Redis; {@link SoloCoordinator} is the one-worker case.
 */
export interface Coordinator {
  /** This worker's number, 0 .. workers - 1. */
  readonly rank: number;
  /** Workers in the run. */
  readonly workers: number;
  /** Coordination commands sent again after the cluster could not serve them (failovers). */
  readonly retries: number;
  /** Waits until every worker has passed as many barriers as this one; `what` names it in errors. */
  barrier(what: string): Promise<void>;
  /**
   * Replaces `params` (the dense params' host values) by the mean of every worker's copy;
   * `generation` counts averagings from 0.
   */
  averageDense(params: readonly Float32Array[], generation: number): Promise<void>;
  /** Stores this worker's JSON-serialisable `value` under `name`. */
  publish(name: string, value: unknown): Promise<void>;
  /** Every worker's value under `name`, in rank order. */
  collect<T>(name: string): Promise<T[]>;
  /** Says this worker no longer reads the run's keys. */
  leave(): Promise<void>;
  /** Waits for every worker to leave, then deletes the run's keys (`names`: those published). */
  removeKeys(names: readonly string[]): Promise<void>;
  /** Closes the connection. */
  close(): Promise<void>;
}

/** The coordinator of a run with one worker: barriers pass at once, the mean is the identity. */
export class SoloCoordinator implements Coordinator {
  /** Always 0. */
  readonly rank = 0;
  /** Always 1. */
  readonly workers = 1;
  /** Always 0. */
  readonly retries = 0;
  readonly #values = new Map<string, unknown>();

  /** Passes at once. */
  async barrier(_what: string): Promise<void> {}

  /** Leaves `params` as they are (the mean of one copy). */
  async averageDense(_params: readonly Float32Array[], _generation: number): Promise<void> {}

  /** Keeps a JSON copy of `value`. */
  async publish(name: string, value: unknown): Promise<void> {
    this.#values.set(name, JSON.parse(JSON.stringify(value)));
  }

  /** The published value, as a one-element list. @throws Error when none was published. */
  async collect<T>(name: string): Promise<T[]> {
    if (!this.#values.has(name)) throw new Error(`nothing published under "${name}"`);
    return [this.#values.get(name) as T];
  }

  /** Nothing to do. */
  async leave(): Promise<void> {}

  /** Forgets the published values. */
  async removeKeys(_names: readonly string[]): Promise<void> {
    this.#values.clear();
  }

  /** Nothing to do. */
  async close(): Promise<void> {}
}

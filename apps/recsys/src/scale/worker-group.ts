import { Cluster } from 'ioredis';
import type { Coordinator } from './coordinator.js';
import type { RedisNode } from './store-url.js';

/** What {@link WorkerGroup.connect} needs. */
export interface WorkerGroupOptions {
  /** Seed nodes of the Redis Cluster. */
  readonly nodes: readonly RedisNode[];
  /** Names this run: every coordination key carries it. */
  readonly runId: string;
  /** This worker's number, 0 .. workers - 1. */
  readonly rank: number;
  /** Workers in the run. */
  readonly workers: number;
  /** How long a barrier waits for the slowest worker before it fails (default 10 minutes). */
  readonly timeoutMs?: number;
}

/** A barrier or a read of another worker's data that did not complete. */
export class WorkerGroupError extends Error {
  override readonly name = 'WorkerGroupError';
}

/** Coordination keys live this long at most, should a run die before it cleans up. */
const KEY_TTL_MS = 24 * 3600 * 1000;

/** A run id: letters, digits, `-` and `_`, 1 to 64 of them. */
export const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The workers of one data-parallel run, coordinated through Redis only (so they may run on any
 * machines that reach the cluster). Every key of the run shares the hash tag `{hs-run:<id>}`, so
 * they sit in one hash slot of one node: small keys (a counter, a few JSON results, one dense
 * copy per worker and parity).
 *
 * - Barriers use one counter: each worker increments it once per barrier, and barrier `b` (the
 *   b-th barrier this worker passes, from 0) is complete when the counter reaches
 *   `workers * (b + 1)`. Every worker passes the same sequence of barriers.
 * - Dense averaging (`averageDense`): each worker writes its dense parameters (float32 bytes) to
 *   `dense:<generation % 2>:<rank>`, passes a barrier, reads every worker's copy and replaces its
 *   parameters by their mean, summed in float64 in rank order and rounded once to float32, so
 *   every worker holds the same bits. Two buffers are enough: a worker writes generation g + 2
 *   only after the barrier of generation g + 1, which every worker reaches after reading g.
 */
export class WorkerGroup implements Coordinator {
  #barriers = 0;
  #buffer = new Float32Array(0);

  /** The connection to the cluster (its own, apart from the table store's). */
  readonly client: Cluster;
  /** The run's id. */
  readonly runId: string;
  /** This worker's number. */
  readonly rank: number;
  /** Workers in the run. */
  readonly workers: number;
  /** How long a barrier waits, in ms. */
  readonly timeoutMs: number;

  private constructor(
    client: Cluster,
    runId: string,
    rank: number,
    workers: number,
    timeoutMs: number,
  ) {
    this.client = client;
    this.runId = runId;
    this.rank = rank;
    this.workers = workers;
    this.timeoutMs = timeoutMs;
  }

  /**
   * Connects to the cluster and checks the arguments.
   * @throws RangeError for a bad rank, worker count or run id; WorkerGroupError when the cluster
   * cannot be reached.
   */
  static async connect(options: WorkerGroupOptions): Promise<WorkerGroup> {
    const { rank, workers, runId } = options;
    if (!Number.isInteger(workers) || workers < 1)
      throw new RangeError(`workers must be an integer >= 1, got ${workers}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= workers)
      throw new RangeError(`rank must be an integer in 0..${workers - 1}, got ${rank}`);
    if (!RUN_ID.test(runId)) throw new RangeError(`run id must match ${RUN_ID}, got "${runId}"`);
    const client = new Cluster(
      options.nodes.map((n) => ({ host: n.host, port: n.port })),
      {
        clusterRetryStrategy: (times) => (times > 5 ? null : 200 * times),
        // An increment whose connection dropped is not re-sent: counted twice, it would open a
        // barrier early. The worker fails instead, naming the barrier.
        redisOptions: { autoResendUnfulfilledCommands: false },
      },
    );
    // Errors reach the callers through their commands; without a listener ioredis logs them.
    client.on('error', () => {});
    try {
      await client.ping();
    } catch (error) {
      client.disconnect();
      const where = options.nodes.map((n) => `${n.host}:${n.port}`).join(',');
      throw new WorkerGroupError(
        `cannot reach the Redis Cluster at ${where}: ${(error as Error).message}`,
      );
    }
    return new WorkerGroup(client, runId, rank, workers, options.timeoutMs ?? 600_000);
  }

  /** The key `name` of this run. */
  key(name: string): string {
    return `halfstep:{hs-run:${this.runId}}:${name}`;
  }

  /**
   * Waits until every worker has called `barrier` as many times as this one (`what` names it in
   * the timeout error).
   * @throws WorkerGroupError when the others do not arrive within the timeout.
   */
  async barrier(what: string): Promise<void> {
    const target = this.workers * (this.#barriers + 1);
    this.#barriers++;
    const key = this.key('arrivals');
    let arrived: number;
    try {
      arrived = await this.client.incr(key);
    } catch (error) {
      throw new WorkerGroupError(
        `barrier "${what}" (worker ${this.rank} of ${this.workers}, run ${this.runId}): the arrival could not be recorded: ${(error as Error).message}`,
      );
    }
    if (arrived === 1) await this.client.pexpire(key, KEY_TTL_MS);
    const start = Date.now();
    let count = arrived;
    let wait = 0.5;
    while (count < target) {
      if (Date.now() - start > this.timeoutMs) {
        const here = count - (target - this.workers);
        throw new WorkerGroupError(
          `barrier "${what}" (worker ${this.rank} of ${this.workers}, run ${this.runId}): only ${here} of ${this.workers} workers arrived within ${this.timeoutMs / 1000} s`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(wait * 2, 20);
      // A read may fail while a master fails over; it is retried until the timeout.
      count = Number((await this.client.get(key).catch(() => String(count))) ?? 0);
    }
  }

  /**
   * Replaces `params` (every worker's in the same order and shapes) by the mean over the workers
   * (see the class comment); `generation` counts the averagings from 0.
   * @throws WorkerGroupError when a worker's copy is missing or of another size.
   */
  async averageDense(params: readonly Float32Array[], generation: number): Promise<void> {
    if (this.workers === 1) return;
    const total = params.reduce((sum, p) => sum + p.length, 0);
    if (this.#buffer.length !== total) this.#buffer = new Float32Array(total);
    const mine = this.#buffer;
    let offset = 0;
    for (const p of params) {
      mine.set(p, offset);
      offset += p.length;
    }
    const slot = generation % 2;
    const own = this.key(`dense:${slot}:${this.rank}`);
    await this.client.set(
      own,
      Buffer.from(mine.buffer, mine.byteOffset, mine.byteLength),
      'PX',
      KEY_TTL_MS,
    );
    await this.barrier(`dense average ${generation}`);
    const keys = Array.from({ length: this.workers }, (_, r) => this.key(`dense:${slot}:${r}`));
    const copies = await this.client.mgetBuffer(...keys);
    const sum = new Float64Array(total);
    for (const [r, copy] of copies.entries()) {
      if (copy === null || copy.byteLength !== total * 4) {
        throw new WorkerGroupError(
          `dense average ${generation}: worker ${r}'s copy ${copy === null ? 'is missing' : `has ${copy.byteLength} bytes, expected ${total * 4}`} (key ${keys[r]})`,
        );
      }
      const values = new Float32Array(
        copy.buffer.slice(copy.byteOffset, copy.byteOffset + total * 4),
      );
      for (let i = 0; i < total; i++) sum[i]! += values[i]!;
    }
    offset = 0;
    for (const w of params) {
      for (let i = 0; i < w.length; i++) w[i] = sum[offset + i]! / this.workers;
      offset += w.length;
    }
  }

  /** Stores this worker's JSON-serialisable `value` under `name`. */
  async publish(name: string, value: unknown): Promise<void> {
    await this.client.set(
      this.key(`${name}:${this.rank}`),
      JSON.stringify(value),
      'PX',
      KEY_TTL_MS,
    );
  }

  /**
   * Every worker's value under `name`, in rank order.
   * @throws WorkerGroupError when a worker has not published one.
   */
  async collect<T>(name: string): Promise<T[]> {
    const keys = Array.from({ length: this.workers }, (_, r) => this.key(`${name}:${r}`));
    const values = await this.client.mget(...keys);
    return values.map((v, r) => {
      if (v === null)
        throw new WorkerGroupError(`worker ${r} has not published "${name}" (key ${keys[r]})`);
      return JSON.parse(v) as T;
    });
  }

  /** Tells the others this worker is done with the run's keys (after its last barrier). */
  async leave(): Promise<void> {
    const key = this.key('left');
    if ((await this.client.incr(key)) === 1) await this.client.pexpire(key, KEY_TTL_MS);
  }

  /**
   * Waits until every worker has called `leave`, then deletes every coordination key of the run
   * (`names`: the names given to `publish`).
   * @throws WorkerGroupError when a worker does not leave within the timeout.
   */
  async removeKeys(names: readonly string[]): Promise<void> {
    const left = this.key('left');
    const start = Date.now();
    for (;;) {
      const count = Number((await this.client.get(left)) ?? 0);
      if (count >= this.workers) break;
      if (Date.now() - start > this.timeoutMs)
        throw new WorkerGroupError(
          `run ${this.runId}: only ${count} of ${this.workers} workers finished within ${this.timeoutMs / 1000} s`,
        );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const keys = [this.key('arrivals'), left];
    for (let r = 0; r < this.workers; r++) {
      keys.push(this.key(`dense:0:${r}`), this.key(`dense:1:${r}`));
      for (const name of names) keys.push(this.key(`${name}:${r}`));
    }
    await this.client.del(...keys);
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

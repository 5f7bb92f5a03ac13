import { connectRedisCluster, isUnreachable, keySlot } from '@halfstep/store-redis';
import type { Cluster } from 'ioredis';
import type { Coordinator } from './coordinator.js';
import type { RedisNode } from './store-url.js';

/** What {@link WorkerGroup.connect} needs. */
export interface WorkerGroupOptions {
  /** Seed nodes of the Redis Cluster. */
  readonly nodes: readonly RedisNode[];
  /** ACL user (default: Redis's default user). */
  readonly username?: string | undefined;
  /** Its password. */
  readonly password?: string | undefined;
  /** TLS to every node (`rediss://`). */
  readonly tls?: boolean | undefined;
  /** Names this run: every coordination key carries it. */
  readonly runId: string;
  /** This worker's number, 0 .. workers - 1. */
  readonly rank: number;
  /** Workers in the run. */
  readonly workers: number;
  /** How long a barrier waits for the slowest worker before it fails (default 10 minutes). */
  readonly timeoutMs?: number;
  /**
   * How long one coordination command is retried while the cluster cannot serve it (a master
   * failing over: MOVED, CLUSTERDOWN, connection refused), in ms. Default 60000: longer than the
   * failover of a cluster with Redis's default `cluster-node-timeout` of 15 s (detection takes
   * about one node timeout, the election a second or two more).
   */
  readonly retryMs?: number;
}

/** A barrier or a read of another worker's data that did not complete. */
export class WorkerGroupError extends Error {
  override readonly name = 'WorkerGroupError';
}

/** Coordination keys live this long at most, should a run die before it cleans up. */
const KEY_TTL_MS = 24 * 3600 * 1000;

/** How long a coordination write waits for a replica to acknowledge it (`WAIT`). */
const WAIT_MS = 1000;

/** A run id: letters, digits, `-` and `_`, 1 to 64 of them. */
export const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Whether a failed coordination command may be sent again: the cluster could not serve it (a
 * connection dropped or refused, a failover under way, slots moving). Every command the group
 * retries is idempotent (a SET of this worker's own value, reads, deletes).
 */
export function isRetryable(error: unknown): boolean {
  if (isUnreachable(error)) return true;
  const message = error instanceof Error ? error.message : String(error);
  return /^(MOVED|ASK|TRYAGAIN|LOADING|READONLY|MASTERDOWN|CLUSTERDOWN)\b|Connection is closed|connect E|Cluster isn't ready/.test(
    message,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The workers of one data-parallel run, coordinated through Redis only (so they may run on any
 * machines that reach the cluster). Every key of the run shares the hash tag `{hs-run:<id>}`, so
 * they sit in one hash slot of one node: small keys (a counter per worker, a few JSON results,
 * one dense copy per worker and parity).
 *
 * - Barriers: each worker keeps the number of barriers it has reached in its own key
 *   `arrivals:<rank>` (a SET, so sending it again changes nothing), and barrier `b` (the b-th
 *   this worker reaches, from 1) is complete when every worker's count is at least `b`. Every
 *   worker passes the same sequence of barriers.
 * - Dense averaging (`averageDense`): each worker writes its dense parameters (float32 bytes) to
 *   `dense:<generation % 2>:<rank>`, passes a barrier, reads every worker's copy and replaces its
 *   parameters by their mean, summed in float64 in rank order and rounded once to float32, so
 *   every worker holds the same bits. Two buffers are enough: a worker writes generation g + 2
 *   only after the barrier of generation g + 1, which every worker reaches after reading g.
 *
 * Through a failover of the master holding the run's slot: every command is retried (see
 * {@link isRetryable}) until `retryMs` has passed, and every write waits until a replica has it
 * (`WAIT 1`, when the slot's master has a replica), so that the replica promoted in its place
 * has what the others were told; a worker that finds its own arrival missing writes it again.
 */
export class WorkerGroup implements Coordinator {
  #barriers = 0;
  #retries = 0;
  #buffer = new Float32Array(0);
  readonly #slot: number;

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
  /** How long one command is retried through a failover, in ms. */
  readonly retryMs: number;

  private constructor(
    client: Cluster,
    options: WorkerGroupOptions & { readonly timeoutMs: number; readonly retryMs: number },
  ) {
    this.client = client;
    this.runId = options.runId;
    this.rank = options.rank;
    this.workers = options.workers;
    this.timeoutMs = options.timeoutMs;
    this.retryMs = options.retryMs;
    this.#slot = keySlot(this.key('arrivals'));
  }

  /**
   * Connects to the cluster (see `connectRedisCluster` of `@halfstep/store-redis`) and checks the
   * arguments.
   * @throws RangeError for a bad rank, worker count or run id; WorkerGroupError when the cluster
   * cannot be used, saying why (wrong password, nothing listening, ...).
   */
  static async connect(options: WorkerGroupOptions): Promise<WorkerGroup> {
    const { rank, workers, runId } = options;
    if (!Number.isInteger(workers) || workers < 1)
      throw new RangeError(`workers must be an integer >= 1, got ${workers}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= workers)
      throw new RangeError(`rank must be an integer in 0..${workers - 1}, got ${rank}`);
    if (!RUN_ID.test(runId)) throw new RangeError(`run id must match ${RUN_ID}, got "${runId}"`);
    let client: Cluster;
    try {
      client = await connectRedisCluster({
        nodes: options.nodes,
        username: options.username,
        password: options.password,
        tls: options.tls,
        clusterOptions: {
          // Keep reconnecting through a failover; each command's retries are bounded by retryMs.
          clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
          retryDelayOnFailover: 200,
          retryDelayOnClusterDown: 200,
          retryDelayOnTryAgain: 100,
          slotsRefreshTimeout: 2000,
          redisOptions: {
            // ioredis does not send a command again on a new connection by itself: the group
            // decides what may be sent again.
            autoResendUnfulfilledCommands: false,
            maxRetriesPerRequest: 2,
            commandTimeout: 10_000,
          },
        },
      });
    } catch (error) {
      throw new WorkerGroupError(
        `the run's coordination cannot use the Redis Cluster: ${(error as Error).message}`,
      );
    }
    return new WorkerGroup(client, {
      ...options,
      timeoutMs: options.timeoutMs ?? 600_000,
      retryMs: options.retryMs ?? 60_000,
    });
  }

  /** The key `name` of this run. */
  key(name: string): string {
    return `halfstep:{hs-run:${this.runId}}:${name}`;
  }

  /** Commands sent again after the cluster could not serve them (failovers), so far. */
  get retries(): number {
    return this.#retries;
  }

  /**
   * Runs `command` until it succeeds, retrying while the cluster cannot serve it, for at most
   * `retryMs`; `what` names it in the error.
   */
  async #retrying<T>(what: string, command: () => Promise<T>): Promise<T> {
    const start = Date.now();
    let wait = 50;
    for (let attempt = 1; ; attempt++) {
      try {
        return await command();
      } catch (error) {
        const elapsed = Date.now() - start;
        if (!isRetryable(error) || elapsed + wait > this.retryMs) {
          throw new WorkerGroupError(
            `${what} (worker ${this.rank} of ${this.workers}, run ${this.runId}): ${(error as Error).message}${attempt > 1 ? ` (${attempt} attempts in ${(elapsed / 1000).toFixed(1)} s)` : ''}`,
          );
        }
        this.#retries++;
        // A failover moved the slot: ask the cluster where it is now before the next attempt.
        this.client.refreshSlotsCache();
        await sleep(wait);
        wait = Math.min(wait * 2, 1000);
      }
    }
  }

  /**
   * Sets `key` to `value` (with the keys' TTL), then waits until a replica of its master has it
   * when the master has one, retrying through a failover.
   */
  async #write(what: string, key: string, value: string | Buffer): Promise<void> {
    await this.#retrying(what, async () => {
      // A single command: ioredis follows a MOVED (and updates its slot map) by itself.
      await this.client.set(key, value, 'PX', KEY_TTL_MS);
      // WAIT on the connection that carried the SET: the pooled one of the slot's master.
      const [owner, ...replicas] = this.client.slots[this.#slot] ?? [];
      if (replicas.length === 0) return;
      const master = this.client
        .nodes('master')
        .find((node) => `${node.options.host}:${node.options.port}` === owner);
      if (master !== undefined) await master.wait(1, WAIT_MS);
    });
  }

  /**
   * Waits until every worker has called `barrier` as many times as this one (`what` names it in
   * the timeout error).
   * @throws WorkerGroupError when the others do not arrive within the timeout, or the cluster
   * cannot serve the run's slot for `retryMs`.
   */
  async barrier(what: string): Promise<void> {
    const count = ++this.#barriers;
    const label = `barrier "${what}"`;
    const own = this.key(`arrivals:${this.rank}`);
    await this.#write(label, own, String(count));
    const keys = Array.from({ length: this.workers }, (_, r) => this.key(`arrivals:${r}`));
    const start = Date.now();
    let wait = 0.5;
    for (;;) {
      const counts = (await this.#retrying(label, () => this.client.mget(...keys))).map((v) =>
        Number(v ?? 0),
      );
      // A failover may have lost this worker's arrival: the promoted replica lacked it.
      if (counts[this.rank]! < count) await this.#write(label, own, String(count));
      const here = counts.filter((c, r) => c >= count || r === this.rank).length;
      if (here >= this.workers) return;
      if (Date.now() - start > this.timeoutMs) {
        throw new WorkerGroupError(
          `${label} (worker ${this.rank} of ${this.workers}, run ${this.runId}): only ${here} of ${this.workers} workers arrived within ${this.timeoutMs / 1000} s`,
        );
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 20);
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
    const label = `dense average ${generation}`;
    await this.#write(
      label,
      this.key(`dense:${slot}:${this.rank}`),
      Buffer.from(mine.buffer, mine.byteOffset, mine.byteLength),
    );
    await this.barrier(label);
    const keys = Array.from({ length: this.workers }, (_, r) => this.key(`dense:${slot}:${r}`));
    const copies = await this.#retrying(label, () => this.client.mgetBuffer(...keys));
    const sum = new Float64Array(total);
    for (const [r, copy] of copies.entries()) {
      if (copy === null || copy.byteLength !== total * 4) {
        throw new WorkerGroupError(
          `${label}: worker ${r}'s copy ${copy === null ? 'is missing' : `has ${copy.byteLength} bytes, expected ${total * 4}`} (key ${keys[r]})`,
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
    await this.#write(
      `publishing "${name}"`,
      this.key(`${name}:${this.rank}`),
      JSON.stringify(value),
    );
  }

  /**
   * Every worker's value under `name`, in rank order.
   * @throws WorkerGroupError when a worker has not published one.
   */
  async collect<T>(name: string): Promise<T[]> {
    const keys = Array.from({ length: this.workers }, (_, r) => this.key(`${name}:${r}`));
    const values = await this.#retrying(`collecting "${name}"`, () => this.client.mget(...keys));
    return values.map((v, r) => {
      if (v === null)
        throw new WorkerGroupError(`worker ${r} has not published "${name}" (key ${keys[r]})`);
      return JSON.parse(v) as T;
    });
  }

  /** Tells the others this worker is done with the run's keys (after its last barrier). */
  async leave(): Promise<void> {
    await this.#write('leaving', this.key(`left:${this.rank}`), '1');
  }

  /**
   * Waits until every worker has called `leave`, then deletes every coordination key of the run
   * (`names`: the names given to `publish`).
   * @throws WorkerGroupError when a worker does not leave within the timeout.
   */
  async removeKeys(names: readonly string[]): Promise<void> {
    const left = Array.from({ length: this.workers }, (_, r) => this.key(`left:${r}`));
    const start = Date.now();
    for (;;) {
      const values = await this.#retrying('waiting for the workers to leave', () =>
        this.client.mget(...left),
      );
      const count = values.filter((v) => v !== null).length;
      if (count >= this.workers) break;
      if (Date.now() - start > this.timeoutMs)
        throw new WorkerGroupError(
          `run ${this.runId}: only ${count} of ${this.workers} workers finished within ${this.timeoutMs / 1000} s`,
        );
      await sleep(10);
    }
    const keys = [...left];
    for (let r = 0; r < this.workers; r++) {
      keys.push(this.key(`arrivals:${r}`), this.key(`dense:0:${r}`), this.key(`dense:1:${r}`));
      for (const name of names) keys.push(this.key(`${name}:${r}`));
    }
    await this.#retrying('removing the run keys', () => this.client.unlink(...keys));
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

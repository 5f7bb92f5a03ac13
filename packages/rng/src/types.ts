/** Names of the stream engines: generators with a mutable state stepped once per output. */
export type StreamEngineName = 'xorshift32' | 'xorshift128' | 'xorshift128+' | 'xoshiro128++';

/** Names of the stream engines that can jump 2^64 outputs ahead in constant time. */
export type JumpableEngineName = Exclude<StreamEngineName, 'xorshift32'>;

/**
 * Names of the counter-based engines: output word `w` is a pure function of (key, w).
 * `philox4x32-7` is Philox4x32 with 7 rounds instead of 10 (see {@link createPhilox}).
 */
export type CounterEngineName = 'philox4x32-10' | 'philox4x32-7' | 'pcg-hash';

/** Every engine name accepted by `createEngine` and stored in snapshots. */
export type EngineName = StreamEngineName | CounterEngineName;

/**
 * The complete state of an engine as plain JSON-serialisable data: the engine name and a list of
 * unsigned 32-bit words (layout per engine, documented in the package README). Restoring it
 * yields an engine that produces exactly the words the snapshotted engine would have produced next.
 */
export interface EngineSnapshot {
  readonly name: EngineName;
  readonly words: readonly number[];
}

/** What every engine offers: 32-bit words one at a time or in bulk, floats, snapshots. */
export interface RandomEngine {
  readonly name: EngineName;
  /** `'stream'` for stateful generators, `'counter'` for counter-based ones. */
  readonly kind: 'stream' | 'counter';
  /** The next word of the stream, an integer in [0, 2^32). */
  nextUint32(): number;
  /** Fills `out` with the next `out.length` words of the stream (same words as repeated `nextUint32`) and returns it. */
  fillUint32(out: Uint32Array): Uint32Array;
  /** `(nextUint32() >>> 8) * 2^-24`: a float in [0, 1) carrying the top 24 bits of one word (exact in float32). */
  nextFloat(): number;
  /** The current state as plain data; see {@link EngineSnapshot}. */
  snapshot(): EngineSnapshot;
  /** Replaces the current state by a snapshot of an engine with the same name. */
  restore(snapshot: EngineSnapshot): void;
  /** An independent copy in the same state: both produce the same words from here on. */
  clone(): RandomEngine;
}

/** A stateful generator. */
export interface StreamEngine extends RandomEngine {
  readonly name: StreamEngineName;
  readonly kind: 'stream';
  clone(): StreamEngine;
  /**
   * Draws two words from this engine and returns a new engine of the same kind seeded (through
   * splitmix64) with them. Independence is statistical, not guaranteed: for a guarantee of
   * non-overlapping streams use `jump()` on a jumpable engine.
   */
  split(): StreamEngine;
}

/** A stream engine with a jump function (xorshift128, xorshift128+, xoshiro128++). */
export interface JumpableEngine extends StreamEngine {
  readonly name: JumpableEngineName;
  clone(): JumpableEngine;
  split(): JumpableEngine;
  /**
   * Advances the state by exactly 2^64 outputs (the jump polynomial x^(2^64) mod the
   * characteristic polynomial, applied in 128 steps). Calling `clone()` then `jump()` repeatedly
   * gives streams that do not overlap for their first 2^64 outputs each.
   */
  jump(): void;
}

/** A counter-based generator: word `w` of its stream is a pure function of (key, w). */
export interface CounterEngine extends RandomEngine {
  readonly name: CounterEngineName;
  readonly kind: 'counter';
  /** The key words derived from the seed (two words: low and high 32 bits of the 64-bit seed). */
  readonly key: readonly [number, number];
  clone(): CounterEngine;
  /**
   * Fills `out` with words `start, start + 1, ...` of the keyed stream and returns it. `out[i]`
   * depends only on (key, start + i); the engine's own position is neither read nor changed.
   */
  fillAt(start: number | bigint, out: Uint32Array): Uint32Array;
  /** Moves the position read by `nextUint32`/`fillUint32` to word `word`. */
  seek(word: number | bigint): void;
  /** The word index the next `nextUint32` returns. */
  readonly position: bigint;
}

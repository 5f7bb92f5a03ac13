import type { CounterEngine, RandomEngine } from '@halfstep/rng';
import type { Kernels } from './kernels.js';
import { Scratch } from './scratch.js';

/** Words per kernel call: bounds the scratch memory. */
const CHUNK = 65536;

/** Engines whose bulk fill runs in WASM. */
export type WasmEngineName = 'xorshift128+' | 'xoshiro128++' | 'philox4x32-10' | 'philox4x32-7';

/**
 * Bulk random words in WASM, bit-identical to `@halfstep/rng`'s engines: `fill` continues a
 * stream engine (its state is read from and written back to the engine through `snapshot` /
 * `restore`), `fillAt` evaluates a Philox engine at word indices.
 */
export class WasmRandom {
  private readonly k: Kernels;
  private readonly scratch: Scratch;
  private readonly schedules = new Map<string, number>();

  constructor(kernels: Kernels, scratch?: Scratch) {
    this.k = kernels;
    this.scratch = scratch ?? new Scratch(kernels);
  }

  /**
   * Fills `out` with the next `out.length` words of `engine` (xorshift128+ or xoshiro128++, or a
   * Philox engine at its position) and advances it, exactly as `engine.fillUint32(out)` would.
   * @throws TypeError for an engine this class cannot run (see {@link WasmEngineName}).
   */
  fill(engine: RandomEngine, out: Uint32Array): Uint32Array {
    if (engine.name === 'philox4x32-10' || engine.name === 'philox4x32-7') {
      const counter = engine as CounterEngine;
      const position = counter.position;
      this.fillAt(counter, position, out);
      counter.seek(position + BigInt(out.length));
      return out;
    }
    if (engine.name !== 'xorshift128+' && engine.name !== 'xoshiro128++') {
      throw new TypeError(`WasmRandom: engine "${engine.name}" has no WASM fill (${wasmEngines})`);
    }
    const k = this.k;
    const snapshot = engine.snapshot();
    const state = this.scratch.get(0, 16);
    const words = this.scratch.get(1, Math.min(out.length, CHUNK) * 4);
    k.u32().set(snapshot.words, state >>> 2);
    const run =
      engine.name === 'xorshift128+'
        ? k.exports.xorshift128PlusFill
        : k.exports.xoshiro128PlusPlusFill;
    for (let start = 0; start < out.length; start += CHUNK) {
      const count = Math.min(CHUNK, out.length - start);
      run(state, words, count);
      out.set(k.u32().subarray(words >>> 2, (words >>> 2) + count), start);
    }
    const u32 = k.u32();
    engine.restore({
      name: engine.name,
      words: Array.from(u32.subarray(state >>> 2, (state >>> 2) + 4)),
    });
    return out;
  }

  /**
   * Fills `out` with words `start, start + 1, ...` of the Philox engine's keyed stream, exactly as
   * `engine.fillAt(start, out)` (the engine's position is neither read nor changed).
   * @throws TypeError for an engine that is not Philox; RangeError for a bad start.
   */
  fillAt(engine: CounterEngine, start: number | bigint, out: Uint32Array): Uint32Array {
    if (engine.name !== 'philox4x32-10' && engine.name !== 'philox4x32-7') {
      throw new TypeError(
        `WasmRandom: engine "${engine.name}" has no WASM fillAt (philox4x32-10, philox4x32-7)`,
      );
    }
    const word = toWord(start);
    const schedule = this.schedule(engine);
    const rounds = engine.name === 'philox4x32-10' ? 10 : 7;
    const words = this.scratch.get(1, Math.min(out.length, CHUNK) * 4);
    const k = this.k;
    for (let offset = 0; offset < out.length; offset += CHUNK) {
      const count = Math.min(CHUNK, out.length - offset);
      const w = (word + BigInt(offset)) & ((1n << 130n) - 1n);
      const block = w >> 2n;
      k.exports.philoxFill(
        schedule,
        rounds,
        Number(block & 0xffffffffn),
        Number((block >> 32n) & 0xffffffffn),
        Number((block >> 64n) & 0xffffffffn),
        Number(block >> 96n),
        Number(w & 3n),
        words,
        count,
      );
      out.set(k.u32().subarray(words >>> 2, (words >>> 2) + count), offset);
    }
    return out;
  }

  /** The module-resident key schedule of a Philox engine (10 rounds' worth; 7 uses a prefix). */
  private schedule(engine: CounterEngine): number {
    const [k0, k1] = engine.key;
    const id = `${k0}:${k1}`;
    let address = this.schedules.get(id);
    if (address === undefined) {
      address = this.k.allocator.alloc(80, 'philox key schedule');
      this.k.exports.philoxSchedule(k0, k1, 10, address);
      this.schedules.set(id, address);
    }
    return address;
  }
}

const wasmEngines = 'xorshift128+, xoshiro128++, philox4x32-10, philox4x32-7';

/** rng's toWordIndex (same messages): a non-negative integer number or bigint below 2^130. */
function toWord(start: number | bigint): bigint {
  let value: bigint;
  if (typeof start === 'number') {
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new RangeError(`start must be a non-negative safe integer, got ${start}`);
    }
    value = BigInt(start);
  } else if (typeof start === 'bigint') {
    value = start;
  } else {
    throw new TypeError(`start must be a number or a bigint, got ${typeof start}`);
  }
  if (value < 0n || value >= 1n << 130n) {
    throw new RangeError(`start must lie in [0, 2^130), got ${value}`);
  }
  return value;
}

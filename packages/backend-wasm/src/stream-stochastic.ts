import type { FloatFormat, RoundingStrategy } from '@halfstep/codecs';
import type { Kernels } from './kernels.js';

/** Stream engines the fused WASM stochastic encode draws from. */
export type WasmStreamEngineName = 'xorshift128+' | 'xoshiro128++';

/** A stream engine as far as this strategy needs it: its name and state (`@halfstep/rng`). */
export interface StreamEngineLike {
  readonly name: string;
  snapshot(): { readonly name: string; readonly words: readonly number[] };
}

/** Options of {@link WasmStreamStochastic}. */
export interface WasmStreamStochasticOptions {
  /**
   * The engine to draw from: an `@halfstep/rng` xorshift128+ or xoshiro128++ engine. Its state
   * is copied (the engine itself is not advanced); the strategy then draws the same words the
   * engine would.
   */
  readonly engine: StreamEngineLike;
  /** Random bits per element, as `@halfstep/rounding`'s `stochastic` (default 23 - mantissaBits). */
  readonly bits?: number | undefined;
}

/**
 * Stochastic rounding whose random words come from a stream engine running inside the WASM
 * module, so that `WasmCodec.encode` fuses drawing, thresholds and rounding in one kernel.
 *
 * Exactly equivalent to `stochastic({ random: engine, bits })` of `@halfstep/rounding` started
 * from the same engine state: the same words, the same slot layout (slot 0 = a word's top `bits`
 * bits, a word's unused slots serve the next call's first elements, a change of `bits` discards
 * them), hence the same codes, call for call. `fillThresholds` also works with any encoder.
 */
export class WasmStreamStochastic implements RoundingStrategy {
  readonly rule = 'stochastic' as const;
  /** The `bits` option as given, or undefined for "the default of each format". */
  readonly bits: number | undefined;
  /** 0: xorshift128+, 1: xoshiro128++. */
  readonly engineCode: number;
  readonly kernels: Kernels;
  /** Address of the engine state (4 words), then 2048-word scratch for words and thresholds. */
  readonly state: number;
  readonly words: number;
  readonly thresholds: number;
  private currentBits = 0;
  private pendingWord = 0;
  private pendingSlot = 0;
  private pendingLeft = 0;

  /**
   * @throws TypeError for an engine other than xorshift128+ / xoshiro128++; RangeError for
   *   `bits` not an integer in 1..21.
   */
  constructor(kernels: Kernels, options: WasmStreamStochasticOptions) {
    const { engine, bits } = options;
    if (engine?.name !== 'xorshift128+' && engine?.name !== 'xoshiro128++') {
      throw new TypeError(
        'engine: expected an xorshift128+ or xoshiro128++ engine of @halfstep/rng',
      );
    }
    if (bits !== undefined && !(Number.isInteger(bits) && bits >= 1 && bits <= 21)) {
      throw new RangeError(`bits: expected an integer in 1..21, got ${String(bits)}`);
    }
    this.bits = bits;
    this.kernels = kernels;
    this.engineCode = engine.name === 'xorshift128+' ? 0 : 1;
    this.state = kernels.allocator.alloc(16 + 2 * 2048 * 4, 'stochastic stream');
    this.words = this.state + 16;
    this.thresholds = this.words + 2048 * 4;
    kernels.u32().set(engine.snapshot().words, this.state >>> 2);
  }

  /** Random bits per element for `format` (@halfstep/rounding's bitsFor). */
  bitsFor(format: FloatFormat): number {
    const max = 23 - format.mantissaBits;
    const bits = this.bits ?? max;
    if (bits > max) {
      throw new RangeError(
        `bits: ${bits} random bits per element is more than ${format.name} drops (at most ${max})`,
      );
    }
    return bits;
  }

  /**
   * Starts a call for `format`: fills the thresholds of the first elements from the pending word
   * into `out` (at most `n`), and returns how many it filled.
   */
  takePending(format: FloatFormat, out: Uint32Array, n: number): number {
    const bits = this.bitsFor(format);
    if (bits !== this.currentBits) {
      this.currentBits = bits;
      this.pendingLeft = 0;
    }
    const low = 0xffffffff >>> bits;
    let i = 0;
    for (; this.pendingLeft > 0 && i < n; this.pendingLeft--, this.pendingSlot++) {
      out[i++] = ((this.pendingWord << (this.pendingSlot * bits)) | low) >>> 0;
    }
    return i;
  }

  /** Records the pending slots after `count` elements drawn from fresh words, the last being `last`. */
  finish(count: number, last: number): void {
    if (count === 0) return;
    const perWord = this.currentBits <= 16 ? Math.floor(32 / this.currentBits) : 1;
    const used = count - (Math.ceil(count / perWord) - 1) * perWord;
    this.pendingWord = last;
    this.pendingSlot = used;
    this.pendingLeft = perWord - used;
  }

  fillThresholds(out: Uint32Array, format: FloatFormat): void {
    const k = this.kernels;
    let i = this.takePending(format, out, out.length);
    const bits = this.currentBits;
    const perWord = bits <= 16 ? Math.floor(32 / bits) : 1;
    // Whole words per chunk, so that only the last one can leave unused slots.
    const chunk = 2048 - (2048 % perWord);
    while (i < out.length) {
      const count = Math.min(chunk, out.length - i);
      const wordCount = Math.ceil(count / perWord);
      const fill =
        this.engineCode === 0 ? k.exports.xorshift128PlusFill : k.exports.xoshiro128PlusPlusFill;
      fill(this.state, this.words, wordCount);
      k.exports.thresholdsFromWords(this.words, bits, this.thresholds, count);
      out.set(k.u32().subarray(this.thresholds >>> 2, (this.thresholds >>> 2) + count), i);
      this.finish(count, k.u32()[(this.words >>> 2) + wordCount - 1]!);
      i += count;
    }
  }

  /** The engine state words now (as `engine.snapshot().words` of the equivalent JS engine). */
  stateWords(): number[] {
    const base = this.state >>> 2;
    return Array.from(this.kernels.u32().subarray(base, base + 4));
  }
}

import {
  argumentError,
  checkInstance,
  checkOptions,
  type FloatFormat,
  optionKeys,
  type RoundingStrategy,
  resolveFormat,
} from '@halfstep/codecs';
import {
  type CheckedSource,
  type CounterSource,
  checkCounter,
  checkRandomSource,
  type RandomSource,
  type StreamSource,
} from './random-source.js';
import { elementsPerWord, fillFromWords, maxRandomBits } from './thresholds.js';

const STOCHASTIC_KEYS = optionKeys<StochasticOptions>({ random: true, bits: true });

/** The largest `bits` any format accepts (float8e5m2 drops 21 mantissa bits). */
const MAX_BITS = 21;

/** Options of {@link stochastic}. */
export interface StochasticOptions<Random extends RandomSource = RandomSource> {
  /**
   * The random bits: an `@halfstep/rng` engine (its stream: `fillUint32`), or
   * `{ engine, counter }` with a counter-based engine (`fillAt`) for bits that are a pure function
   * of (key, counter).
   */
  readonly random: Random;
  /**
   * Random bits per element, an integer in 1..(23 - mantissaBits of the target). Default: 23 -
   * mantissaBits (13 for float16, 16 for bfloat16, 20 for float8e4m3, 21 for float8e5m2), which
   * makes the round-up probability exact for normal results. With bits <= 16 one 32-bit word
   * serves floor(32 / bits) elements.
   */
  readonly bits?: number | undefined;
}

/**
 * Stochastic rounding: an element at fraction p of the gap between its neighbour nearer to zero
 * and the next one rounds away from zero with probability p (up to the bias of a short `bits`,
 * see `fillThresholds`), so that E[result] = input.
 */
export interface StochasticRounding extends RoundingStrategy {
  readonly rule: 'stochastic';
  /** The `bits` option as given, or undefined for "the default of each format". */
  readonly bits: number | undefined;
  /**
   * The random bits per element this strategy uses for `format`.
   * @throws RangeError naming `bits` and the format when the `bits` option exceeds 23 -
   *   format.mantissaBits; TypeError for a format `@halfstep/codecs` does not know.
   */
  bitsFor(format: FloatFormat): number;
  /**
   * Fills `out` with one threshold per element, in element order (what `encode` calls). With
   * k = `bitsFor(format)` and r the element's k random bits, the threshold is
   * r * 2^(32-k) + 2^(32-k) - 1; the element rounds away from zero iff its 32-bit gap fraction f
   * exceeds it, which has probability floor(f / 2^(32-k)) / 2^k. That is f / 2^32 exactly when
   * f's low 32 - k bits are zero (every normal result at the default k), and otherwise lower by
   * (f mod 2^(32-k)) / 2^32 < 2^-k of the gap.
   *
   * Bit layout: elements are drawn in order across calls; one word serves P = floor(32/k)
   * elements when k <= 16 (else 1), slot 0 taking the word's top k bits, slot s the k bits below
   * slot s-1's. A word's unused slots at the end of a call serve the next call's first elements,
   * so the result does not depend on how the data is split into calls. When k changes (another
   * format with the default `bits`), the rest of the current word is discarded.
   */
  fillThresholds(out: Uint32Array, format: FloatFormat): void;
}

/**
 * A stochastic strategy with counter-based bits. Element e (counting every element this strategy
 * has filled since its creation or the last `seek`, all at the same k) uses slot e mod P of word
 * counter + floor(e / P), where counter is the starting counter and P = floor(32/k) for
 * k <= 16, else 1. So the same (key, counter) give the same thresholds on every run and platform.
 */
export interface CounterStochasticRounding extends StochasticRounding {
  /**
   * Restarts at word `counter`: the next element drawn uses slot 0 of word `counter`.
   * @throws RangeError/TypeError naming `counter` unless it is a non-negative integer (number or bigint).
   */
  seek(counter: number | bigint): void;
  /**
   * The first word not yet read. After a call whose element count is not a multiple of P, the
   * word before it still has unused slots, which the next elements take first.
   */
  readonly position: bigint;
}

class StochasticStrategy implements CounterStochasticRounding {
  readonly rule = 'stochastic' as const;
  readonly bits: number | undefined;
  readonly #source: CheckedSource;
  #position: number | bigint;
  #lastFormat: FloatFormat | undefined = undefined;
  #lastBits = 0;
  /** The k of the current word; a change discards its unused slots. */
  #currentBits = 0;
  #pendingWord = 0;
  /** Next unused slot of `#pendingWord`, and how many slots it has left. */
  #pendingSlot = 0;
  #pendingLeft = 0;
  #words = new Uint32Array(0);
  #view = new Uint32Array(0);

  constructor(source: CheckedSource, bits: number | undefined) {
    this.#source = source;
    this.bits = bits;
    this.#position = source.kind === 'counter' ? source.start : 0;
  }

  get position(): bigint {
    return BigInt(this.#position);
  }

  seek(counter: number | bigint): void {
    if (this.#source.kind !== 'counter') {
      throw new TypeError(
        'seek: only a strategy with a counter-based source ({ engine, counter }) can seek',
      );
    }
    this.#position = checkCounter(counter, 'counter');
    this.#pendingLeft = 0;
  }

  bitsFor(format: FloatFormat): number {
    if (format === this.#lastFormat) return this.#lastBits;
    const fmt = resolveFormat(format, 'bitsFor: format');
    const max = maxRandomBits(fmt);
    const bits = this.bits ?? max;
    if (bits > max) {
      throw new RangeError(
        `bits: ${bits} random bits per element is more than ${fmt.name} drops (at most ${max})`,
      );
    }
    this.#lastFormat = fmt;
    this.#lastBits = bits;
    return bits;
  }

  fillThresholds(out: Uint32Array, format: FloatFormat): void {
    checkInstance(out, Uint32Array, 'fillThresholds: out');
    const bits = this.bitsFor(format);
    if (bits !== this.#currentBits) {
      this.#currentBits = bits;
      this.#pendingLeft = 0;
    }
    const n = out.length;
    let i = 0;
    if (this.#pendingLeft > 0) {
      const low = 0xffffffff >>> bits;
      const word = this.#pendingWord;
      let slot = this.#pendingSlot;
      let left = this.#pendingLeft;
      for (; left > 0 && i < n; left--, slot++) out[i++] = (word << (slot * bits)) | low;
      this.#pendingSlot = slot;
      this.#pendingLeft = left;
    }
    if (i === n) return;
    const perWord = elementsPerWord(bits);
    const count = n - i;
    const wordCount = Math.ceil(count / perWord);
    const words = this.#draw(wordCount);
    fillFromWords(words, bits, out, i, count);
    const used = count - (wordCount - 1) * perWord; // slots of the last word used
    this.#pendingWord = words[wordCount - 1]!;
    this.#pendingSlot = used;
    this.#pendingLeft = perWord - used;
  }

  /** The next `count` words of the source, in a reused buffer. */
  #draw(count: number): Uint32Array {
    if (this.#view.length !== count) {
      if (this.#words.length < count) this.#words = new Uint32Array(Math.max(count, 1024));
      this.#view = this.#words.subarray(0, count);
    }
    const view = this.#view;
    const source = this.#source;
    if (source.kind === 'stream') {
      source.stream.fillUint32(view);
    } else {
      const position = this.#position;
      source.counter.fillAt(position, view);
      if (typeof position === 'number' && position + count <= Number.MAX_SAFE_INTEGER) {
        this.#position = position + count;
      } else {
        this.#position = BigInt(position) + BigInt(count);
      }
    }
    return view;
  }
}

/**
 * Creates a stochastic rounding strategy for `encode(format, src, { rounding })` or
 * `roundToFormat`: each element rounds away from zero with probability equal to its distance
 * from the neighbour nearer to zero, in units of the gap between its two neighbours on the
 * target grid (the subnormal step for subnormal results). See
 * {@link StochasticRounding.fillThresholds} for the exact probability with `bits` random bits.
 *
 * With `random: engine` the bits come from the engine's stream; with
 * `random: { engine, counter }` they are a pure function of (key, word index), see
 * {@link CounterStochasticRounding}.
 *
 * @throws TypeError for options that are not an object or have an unknown key, naming `random`
 *   when it is neither an engine with `fillUint32` nor `{ engine, counter }` with an engine that
 *   has `fillAt`, naming `bits` when it is not a number; RangeError naming `bits` unless it is
 *   an integer in 1..21 (and, when a format is first seen, in 1..(23 - its mantissaBits)).
 * @example
 * ```ts
 * import { encode } from '@halfstep/codecs';
 * import { createEngine } from '@halfstep/rng';
 * const rounding = stochastic({ random: createEngine('xoshiro128++', 1) });
 * const halves = encode('bfloat16', new Float32Array([0.1, 0.2]), { rounding });
 * ```
 */
export function stochastic(options: StochasticOptions<CounterSource>): CounterStochasticRounding;
export function stochastic(options: StochasticOptions<StreamSource>): StochasticRounding;
export function stochastic(options: StochasticOptions): StochasticRounding;
export function stochastic(options: StochasticOptions): StochasticRounding {
  checkOptions('stochastic', options, STOCHASTIC_KEYS, {
    optional: false,
    hints: { engine: 'random', rng: 'random', randomBits: 'bits' },
  });
  const source = checkRandomSource(options.random);
  const bits = options.bits;
  if (bits !== undefined) {
    if (typeof bits !== 'number') throw argumentError('stochastic: bits', 'an integer', bits);
    if (!Number.isInteger(bits) || bits < 1 || bits > MAX_BITS) {
      throw new RangeError(
        `stochastic: bits: expected an integer in 1..${MAX_BITS} (at most 23 - mantissaBits of the target: 13 float16, 16 bfloat16, 20 float8e4m3, 21 float8e5m2), got ${String(bits)}`,
      );
    }
  }
  return new StochasticStrategy(source, bits);
}

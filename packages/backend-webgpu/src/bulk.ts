import {
  checkCodeArray,
  checkEncodeArguments,
  checkFloat32Array,
  checkLength,
  encode,
  type FormatName,
  type Overflow,
  type RoundingStrategy,
  RULE_CODES,
  resolveFormat,
} from '@halfstep/codecs';
import { type CounterEngine, pcgHash } from '@halfstep/rng';
import {
  type CounterSource,
  elementsPerWord,
  type StochasticOptions,
  stochastic,
} from '@halfstep/rounding';
import type { GpuRunner } from './gpu.js';
import { DECODE_LAYOUT, ENCODE_LAYOUT, formatValues, NO_COUNTER } from './layouts.js';
import { DECODE_WGSL, ENCODE_WGSL } from './shaders/kernels.js';

/** Thresholds per `fillThresholds` call, as `@halfstep/codecs` asks for them. */
const CHUNK = 4096;

/** The pcg-hash engine's salt of counter high word `high`: `@halfstep/rng`'s `pcgSalt`. */
function pcgSaltOf(k0: number, k1: number, high: number): number {
  return pcgHash(pcgHash(pcgHash(high) ^ k1) ^ k0);
}

/** Runs the encode kernel with `params` and copies its codes into `out`. */
async function runEncode(
  runner: GpuRunner,
  params: Uint32Array,
  src: Float32Array,
  thresholds: Uint32Array,
  out: Uint16Array | Uint8Array,
  bits: number,
): Promise<void> {
  const words = Math.ceil(src.length / (32 / bits));
  const dst = runner.output(words * 4);
  runner.dispatch(
    'encode',
    () => ENCODE_WGSL,
    [runner.input(params), runner.input(src), runner.input(thresholds), dst],
    words,
  );
  const bytes = await runner.download(dst, out.byteLength);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(new Uint8Array(bytes));
}

/**
 * Bulk encode on the GPU: the codes of `src` in `format` with `rounding` (any rule; a stochastic
 * strategy's thresholds are drawn on the host in chunks of 4096, exactly as `@halfstep/codecs`
 * draws them, then uploaded) and `overflow`, written into `out`. Bit-identical to
 * `@halfstep/codecs`' `encode`, with its errors for bad arguments.
 */
export async function encodeOnGpu(
  runner: GpuRunner,
  format: FormatName,
  src: Float32Array,
  out: Uint16Array | Uint8Array,
  rounding: RoundingStrategy,
  overflow: Overflow = 'infinity',
): Promise<void> {
  const call = checkEncodeArguments(format, src, { out, rounding, overflow });
  const fmt = call.format;
  const strategy = call.rounding;
  const n = src.length;
  if (n === 0) return;
  const isStochastic = strategy.rule === 'stochastic';
  const thresholds = new Uint32Array(isStochastic ? n : 1);
  if (isStochastic) {
    for (let start = 0; start < n; start += CHUNK) {
      strategy.fillThresholds!(thresholds.subarray(start, Math.min(n, start + CHUNK)), fmt);
    }
  }
  const params = ENCODE_LAYOUT.block({
    ...NO_COUNTER,
    ...formatValues(fmt, overflow === 'saturate'),
    count: n,
    rule: RULE_CODES[strategy.rule],
    source: isStochastic ? 1 : 0,
  });
  await runEncode(runner, params, src, thresholds, out, fmt.bits);
}

/**
 * Stochastic encode on the GPU with counter-based random bits computed in WGSL, bit-identical
 * to `@halfstep/codecs`' `encode(format, src, { out, rounding: stochastic(options), overflow })`
 * with a new strategy (`@halfstep/rounding`'s counter mapping: element i uses slot i mod P of
 * word `counter + floor(i / P)`, P = `elementsPerWord(bits)`). Philox4x32-10, Philox4x32-7 and
 * pcg-hash run on the GPU; another engine with `fillAt` has its thresholds drawn on the host,
 * and words beyond the engine's range are left to the reference (`@halfstep/codecs` on the host).
 * @throws the errors of `stochastic(options)`, of `encode` for bad arguments, and of the
 *   engine's `fillAt` for a counter beyond its range, before anything is dispatched.
 */
export async function encodeCounterStochasticOnGpu(
  runner: GpuRunner,
  format: FormatName,
  src: Float32Array,
  out: Uint16Array | Uint8Array,
  options: StochasticOptions<CounterSource>,
  overflow: Overflow = 'infinity',
): Promise<void> {
  const strategy = stochastic(options);
  const call = checkEncodeArguments(format, src, { out, rounding: strategy, overflow });
  const fmt = call.format;
  const bits = strategy.bitsFor(fmt);
  const n = src.length;
  const random = options.random as Partial<CounterSource>;
  if (random.engine === undefined) {
    // A stream engine (not what the type allows): its words are drawn on the host.
    return encodeOnGpu(runner, format, src, out, strategy, overflow);
  }
  const engine = random.engine as Partial<CounterEngine> & Pick<CounterEngine, 'fillAt'>;
  const per = elementsPerWord(bits);
  const counter = BigInt(options.random.counter ?? 0);
  if (n > 0) {
    try {
      engine.fillAt(counter + BigInt(Math.ceil(n / per) - 1), new Uint32Array(1));
    } catch {
      // Words beyond the engine's range: the reference decides (it may wrap, or throw its own
      // error), on the host.
      const codes = out.slice();
      encode(format, src, { out: codes, rounding: stochastic(options), overflow });
      out.set(codes);
      return;
    }
  }
  const name = engine.name;
  const key = engine.key;
  if (
    key === undefined ||
    (name !== 'philox4x32-10' && name !== 'philox4x32-7' && name !== 'pcg-hash')
  ) {
    return encodeOnGpu(runner, format, src, out, strategy, overflow);
  }
  if (n === 0) return;
  const common = {
    ...NO_COUNTER,
    ...formatValues(fmt, overflow === 'saturate'),
    count: n,
    rule: RULE_CODES.stochastic,
    randomBits: bits,
    perWord: per,
    key0: key[0] >>> 0,
    key1: key[1] >>> 0,
  };
  let params: Uint32Array;
  if (name === 'pcg-hash') {
    const high = Number((counter >> 32n) & 0xffffffffn);
    params = ENCODE_LAYOUT.block({
      ...common,
      source: 3,
      counter0: Number(counter & 0xffffffffn),
      counter1: pcgSaltOf(key[0], key[1], high),
      counter2: pcgSaltOf(key[0], key[1], (high + 1) >>> 0),
    });
  } else {
    const block = counter >> 2n;
    const word = (w: number) => Number((block >> BigInt(32 * w)) & 0xffffffffn);
    params = ENCODE_LAYOUT.block({
      ...common,
      source: 2,
      rounds: name === 'philox4x32-10' ? 10 : 7,
      counter0: word(0),
      counter1: word(1),
      counter2: word(2),
      counter3: word(3),
      lane: Number(counter & 3n),
    });
  }
  await runEncode(runner, params, src, new Uint32Array(1), out, fmt.bits);
}

/** Bulk decode on the GPU (integer arithmetic only): bit-identical to `@halfstep/codecs`' `decode`. */
export async function decodeOnGpu(
  runner: GpuRunner,
  format: FormatName,
  codes: Uint16Array | Uint8Array,
  out: Float32Array,
): Promise<void> {
  const fmt = resolveFormat(format);
  checkCodeArray(codes, fmt, 'src');
  checkFloat32Array(out, 'out');
  checkLength(out, codes.length, 'out');
  const n = codes.length;
  if (n === 0) return;
  const params = DECODE_LAYOUT.block({ ...formatValues(fmt, false), count: n });
  const dst = runner.output(n * 4);
  runner.dispatch('decode', () => DECODE_WGSL, [runner.input(params), runner.input(codes), dst], n);
  const bytes = await runner.download(dst, n * 4);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(new Uint8Array(bytes));
}

import {
  checkCodeArray,
  checkEncodeArguments,
  checkFloat32Array,
  checkLength,
  decode as decodeJs,
  type EncodeOptions,
  type FloatFormat,
  type Format8Like,
  type Format16Like,
  type FormatLike,
  type RoundingStrategy,
  RULE_CODES,
  resolveFormat,
} from '@halfstep/codecs';
import type { Kernels } from './kernels.js';
import { encoderValues } from './layouts.js';
import { Scratch } from './scratch.js';
import { WasmStreamStochastic } from './stream-stochastic.js';

/** Elements per `fillThresholds` call, as in codecs' encode (the strategy sees the same calls). */
const THRESHOLD_CHUNK = 4096;
/** Elements per kernel call of the deterministic rules: bounds the scratch memory. */
const CHUNK = 16384;

/** Loads the encoder constants of `format` (codecs' encoderFor, `encoderValues`) into the module. */
export function setEncoder(k: Kernels, format: FloatFormat, saturate: boolean): void {
  const e = encoderValues(format, saturate);
  k.exports.setEncoder(
    e.normalShift,
    e.rebias,
    e.minNormalBits,
    e.subnormalShiftBase,
    e.maxFiniteCode,
    e.overflowCode,
    e.signShift,
    e.signMask,
    e.nanCode,
    e.keepsPayload,
  );
}

/**
 * Bulk float32 <-> narrow-format conversion in WASM linear memory, with the exact semantics and
 * errors of `@halfstep/codecs`' `encode` and `decode` (bit-identical results; see the README).
 * Inputs are copied into the module's memory in chunks and the results copied back.
 */
export class WasmCodec {
  private readonly k: Kernels;
  private readonly scratch: Scratch;
  private readonly tables = new Map<string, number>();

  constructor(kernels: Kernels, scratch?: Scratch) {
    this.k = kernels;
    this.scratch = scratch ?? new Scratch(kernels);
  }

  /**
   * As codecs' `encode`: rounds every float32 of `src` into `format` with `options.rounding`
   * (nearest-even by default) and `options.overflow` ('infinity' by default). A stochastic
   * strategy's `fillThresholds` is called exactly as codecs calls it (chunks of 4096, in order).
   * @throws the errors of codecs' `encode`.
   */
  encode(
    format: Format16Like,
    src: Float32Array,
    options?: EncodeOptions<Uint16Array>,
  ): Uint16Array;
  encode(format: Format8Like, src: Float32Array, options?: EncodeOptions<Uint8Array>): Uint8Array;
  encode(format: FormatLike, src: Float32Array, options?: EncodeOptions): Uint16Array | Uint8Array;
  encode(
    format: FormatLike,
    src: Float32Array,
    options: EncodeOptions = {},
  ): Uint16Array | Uint8Array {
    const call = checkEncodeArguments(format, src, options);
    this.encodeTrusted(call.format, src, call.out, call.rounding, call.saturate);
    return call.out;
  }

  /** `encode` without the argument checks (the backend checks first). */
  encodeTrusted(
    fmt: FloatFormat,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    saturate: boolean,
  ): void {
    if (rounding instanceof WasmStreamStochastic && rounding.kernels === this.k) {
      this.encodeStream(fmt, src, out, rounding, saturate);
      return;
    }
    const k = this.k;
    const rule = RULE_CODES[rounding.rule];
    const stochastic = rule === RULE_CODES.stochastic;
    const n = src.length;
    const chunk = stochastic ? THRESHOLD_CHUNK : CHUNK;
    const wide = fmt.bits === 16;
    const size = Math.min(n, chunk);
    const srcPtr = this.scratch.get(0, size * 4);
    const dstPtr = this.scratch.get(1, size * 2);
    const thrPtr = stochastic ? this.scratch.get(2, size * 4) : 0;
    setEncoder(k, fmt, saturate);
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      k.f32().set(src.subarray(start, start + count), srcPtr >>> 2);
      if (stochastic) {
        rounding.fillThresholds!(k.u32().subarray(thrPtr >>> 2, (thrPtr >>> 2) + count), fmt);
      }
      k.exports.encode(srcPtr, dstPtr, count, wide ? 1 : 0, rule, thrPtr);
      if (wide) out.set(k.u16().subarray(dstPtr >>> 1, (dstPtr >>> 1) + count), start);
      else out.set(k.u8().subarray(dstPtr, dstPtr + count), start);
    }
  }

  /** The fused path of a {@link WasmStreamStochastic} strategy of this module. */
  private encodeStream(
    fmt: FloatFormat,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    strategy: WasmStreamStochastic,
    saturate: boolean,
  ): void {
    const k = this.k;
    const n = src.length;
    const wide = fmt.bits === 16;
    const size = Math.min(n, CHUNK);
    const srcPtr = this.scratch.get(0, size * 4);
    const dstPtr = this.scratch.get(1, size * 2);
    setEncoder(k, fmt, saturate);
    // The first elements take the previous call's unused slots.
    const pending = strategy.takePending(fmt, k.u32().subarray(strategy.thresholds >>> 2), n);
    let start = 0;
    if (pending > 0) {
      k.f32().set(src.subarray(0, pending), srcPtr >>> 2);
      k.exports.encode(
        srcPtr,
        dstPtr,
        pending,
        wide ? 1 : 0,
        RULE_CODES.stochastic,
        strategy.thresholds,
      );
      this.copyOut(out, dstPtr, 0, pending, wide);
      start = pending;
    }
    const bits = strategy.bitsFor(fmt);
    // Whole words per chunk, so that only the last one can leave unused slots.
    const perWord = bits <= 16 ? Math.floor(32 / bits) : 1;
    const chunk = CHUNK - (CHUNK % perWord);
    for (; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      k.f32().set(src.subarray(start, start + count), srcPtr >>> 2);
      const last = k.exports.encodeStochasticStream(
        srcPtr,
        dstPtr,
        count,
        wide ? 1 : 0,
        strategy.engineCode,
        strategy.state,
        bits,
        strategy.words,
        strategy.thresholds,
      );
      strategy.finish(count, last >>> 0);
      this.copyOut(out, dstPtr, start, count, wide);
    }
  }

  private copyOut(
    out: Uint16Array | Uint8Array,
    dstPtr: number,
    start: number,
    count: number,
    wide: boolean,
  ) {
    if (wide) out.set(this.k.u16().subarray(dstPtr >>> 1, (dstPtr >>> 1) + count), start);
    else out.set(this.k.u8().subarray(dstPtr, dstPtr + count), start);
  }

  /**
   * As codecs' `decode`: the exact float32 value of every code (NaN payload rule included).
   * @throws the errors of codecs' `decode`.
   */
  decode(format: FormatLike, src: Uint16Array | Uint8Array, out?: Float32Array): Float32Array {
    const fmt = resolveFormat(format);
    checkCodeArray(src, fmt, 'src');
    if (out === undefined) out = new Float32Array(src.length);
    else checkFloat32Array(out, 'out');
    checkLength(out, src.length, 'out');
    this.decodeTrusted(fmt, src, out);
    return out;
  }

  /** `decode` without the argument checks. */
  decodeTrusted(fmt: FloatFormat, src: Uint16Array | Uint8Array, out: Float32Array): void {
    const k = this.k;
    const n = src.length;
    const size = Math.min(n, CHUNK);
    const srcPtr = this.scratch.get(1, size * 2);
    const dstPtr = this.scratch.get(0, size * 4);
    const table = fmt.name === 'bfloat16' ? 0 : this.decodeTable(fmt);
    for (let start = 0; start < n; start += CHUNK) {
      const count = Math.min(CHUNK, n - start);
      if (fmt.bits === 16) {
        k.u16().set(src.subarray(start, start + count), srcPtr >>> 1);
        if (fmt.name === 'bfloat16') k.exports.decodeBfloat16(srcPtr, dstPtr, count);
        else k.exports.decodeFloat16(srcPtr, dstPtr, count, table);
      } else {
        k.u8().set(src.subarray(start, start + count), srcPtr);
        k.exports.decodeTable(srcPtr, dstPtr, count, 0, table);
      }
      out.set(k.f32().subarray(dstPtr >>> 2, (dstPtr >>> 2) + count), start);
    }
  }

  /** The address of the module-resident table of float32 bits of every code of `fmt`. */
  decodeTable(fmt: FloatFormat): number {
    let address = this.tables.get(fmt.name);
    if (address === undefined) {
      const size = 2 ** fmt.bits;
      const codes = fmt.bits === 16 ? new Uint16Array(size) : new Uint8Array(size);
      for (let i = 0; i < size; i++) codes[i] = i;
      const values = decodeJs(fmt, codes);
      address = this.k.allocator.alloc(size * 4, `${fmt.name} decode table`);
      this.k.f32().set(values, address >>> 2);
      this.tables.set(fmt.name, address);
    }
    return address;
  }
}

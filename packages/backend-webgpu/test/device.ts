import type { FloatFormat, RoundingStrategy } from '@halfstep/codecs';
import { createWebGpuBackend, type HalfConversionMode, type WebGpuBackend } from '../src/index.js';

/** The backend every GPU test shares (one device per process), or why there is none. */
export interface Device {
  readonly backend: WebGpuBackend | undefined;
  readonly reason: string | undefined;
  /** CI must have WebGPU: there a missing adapter fails the suite instead of skipping it. */
  readonly required: boolean;
}

/**
 * The float16 conversions of the shared backend: `HALFSTEP_HALF_CONVERSION` when set (the
 * lavapipe test project asks for 'hardware', so that every GPU test runs the shader-f16 kernels),
 * else the default 'auto'.
 */
export const halfConversion = (process.env.HALFSTEP_HALF_CONVERSION ??
  'auto') as HalfConversionMode;

/** Opens the shared backend once; prints why the GPU tests skip when it cannot. */
export async function openDevice(): Promise<Device> {
  const required = process.env.CI === 'true';
  try {
    const backend = await createWebGpuBackend({ halfConversion });
    return { backend, reason: undefined, required };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (!required) console.warn(`@halfstep/backend-webgpu: GPU tests skipped: ${reason}`);
    return { backend: undefined, reason, required };
  }
}

/** A deterministic LCG for test data. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The bit patterns of float32 values, for exact comparisons (NaN payloads included). */
export function bitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

/** Random float32 bit patterns: every class (NaN, infinities, subnormals, near overflow). */
export function randomBits(n: number, seed: number): Float32Array {
  const next = lcg(seed);
  const out = new Uint32Array(n);
  const specials = [
    0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffa00001, 0x00000001,
    0x477fe000, 0x477ff000, 0x477fefff, 0x38800000, 0x387fffff, 0x33000000, 0x7f7fffff, 0x43e00000,
    0x43f00000, 0x47600000,
  ];
  for (let i = 0; i < n; i++) {
    const kind = i % 4;
    const r = Math.floor(next() * 2 ** 32) >>> 0;
    if (i < specials.length) out[i] = specials[i]!;
    else if (kind === 0) out[i] = r;
    // Magnitudes around the 16- and 8-bit formats' ranges.
    else out[i] = (r & 0x807fffff) | ((100 + Math.floor(next() * 60)) << 23);
  }
  return new Float32Array(out.buffer);
}

/** A random batch: `bags` bags of 0..maxBag lookups, with duplicates. */
export function batch(rows: number, bags: number, maxBag: number, seed: number, weights: boolean) {
  const next = lcg(seed);
  const offsets = new Int32Array(bags);
  const list: number[] = [];
  for (let b = 0; b < bags; b++) {
    offsets[b] = list.length;
    const size = Math.floor(next() * (maxBag + 1));
    for (let i = 0; i < size; i++) list.push(Math.floor(next() * rows));
  }
  const indices = Int32Array.from(list);
  const perSampleWeights = weights ? Float32Array.from(list, () => next() * 4 - 2) : undefined;
  return { indices, offsets, perSampleWeights };
}

/** `n` values uniform in (-scale, scale), from `lcg(seed)`. */
export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const next = lcg(seed);
  return Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale);
}

/** Stochastic thresholds from `lcg(seed)`: the same sequence for two instances with the same seed. */
export class ListedThresholds implements RoundingStrategy {
  readonly rule = 'stochastic' as const;
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = lcg(seed);
  }
  fillThresholds(out: Uint32Array, _format: FloatFormat): void {
    for (let i = 0; i < out.length; i++) out[i] = Math.floor(this.next() * 2 ** 32);
  }
}

/** The 16- and 8-bit storage formats the GPU codecs cover. */
export const FORMATS = ['float16', 'bfloat16', 'float8e4m3', 'float8e5m2'] as const;

/** Every deterministic rounding rule of `@halfstep/codecs`. */
export const RULES = [
  'nearest-even',
  'nearest-away',
  'toward-zero',
  'toward-positive',
  'toward-negative',
  'to-odd',
] as const;

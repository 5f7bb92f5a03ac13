import { createEngine } from '@halfstep/rng';
import { type Kernels, loadKernels, type WasmBuild } from '../src/index.js';

/** Both builds: every test runs on each (the SIMD one only where the platform validates it). */
export const BUILDS: readonly WasmBuild[] = ['simd', 'scalar'];

const cache = new Map<WasmBuild, Promise<Kernels>>();

/** A kernel instance of `build`, shared by the tests of a file. */
export function kernels(build: WasmBuild): Promise<Kernels> {
  let k = cache.get(build);
  if (!k) {
    k = loadKernels({ build });
    cache.set(build, k);
  }
  return k;
}

/** `n` uniformly random 32-bit patterns (seeded), as float32 values. */
export function randomBits(n: number, seed: number): Float32Array {
  const words = createEngine('xoshiro128++', seed).fillUint32(new Uint32Array(n));
  return new Float32Array(words.buffer);
}

/** `n` normal-ish float32 values (sum of uniforms) with standard deviation about `scale`. */
export function normalish(n: number, scale: number, seed: number): Float32Array {
  const engine = createEngine('xoshiro128++', seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = (engine.nextFloat() + engine.nextFloat() + engine.nextFloat() - 1.5) * 2 * scale;
  }
  return out;
}

/** The index of the first difference of two arrays' bit patterns, or -1 (length included). */
export function firstDifference(a: ArrayBufferView, b: ArrayBufferView): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Lengths around the SIMD widths and chunk sizes, empty included. */
export const LENGTHS = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 4095, 4096, 4097, 65535, 65537];

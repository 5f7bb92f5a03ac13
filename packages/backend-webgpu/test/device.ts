import { createWebGpuBackend, type WebGpuBackend } from '../src/index.js';

/** The backend every GPU test shares (one device per process), or why there is none. */
export interface Device {
  readonly backend: WebGpuBackend | undefined;
  readonly reason: string | undefined;
  /** CI must have WebGPU: there a missing adapter fails the suite instead of skipping it. */
  readonly required: boolean;
}

/** Opens the shared backend once; prints why the GPU tests skip when it cannot. */
export async function openDevice(): Promise<Device> {
  const required = process.env.CI === 'true';
  try {
    return { backend: await createWebGpuBackend(), reason: undefined, required };
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

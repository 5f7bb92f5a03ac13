// The kernels of @halfstep/backend-wasm. Memory is imported (env.memory) and managed by the JS
// side: kernels take byte addresses and never allocate.
export * from './codec';
export * from './rng';
export * from './embedding';
export * from './dense';
export * from './aggregate';
export * from './stochastic-stream';

/** The first free byte address after the module's static data. */
export function heapBase(): usize {
  return __heap_base;
}

/** Whether this is the SIMD build. */
export function simd(): bool {
  return ASC_FEATURE_SIMD;
}

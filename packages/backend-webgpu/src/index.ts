/// <reference types="@webgpu/types" preserve="true" />
/**
 * The halfstep backend in WGSL compute shaders: browsers (`navigator.gpu`) and Node (the
 * `webgpu` package), device-resident (Backend contract v2), with kernels bit-identical to
 * `@halfstep/backend-js`.
 *
 * @packageDocumentation
 */
export { createWebGpuBackend, WebGpuBackend, webgpuBackend } from './backend.js';
export { BufferPool } from './buffers.js';
export type {
  HalfConversionMode,
  HalfConversionReport,
  HalfProbeResult,
  HalfRaceResult,
  HardwareHalfFlavor,
} from './conversion.js';
export { PipelineCache } from './pipelines.js';
export {
  type AdapterReport,
  type GpuContext,
  openGpu,
  SWIFTSHADER_ICD,
  type WebGpuOptions,
} from './runtime.js';
export type { HalfConversionFlavor } from './shaders/halves.js';
export type { GpuTensor } from './tensors.js';

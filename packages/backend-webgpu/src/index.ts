/// <reference types="@webgpu/types" />
/**
 * The halfstep backend in WGSL compute shaders: browsers (`navigator.gpu`) and Node (the
 * `webgpu` package), with kernels bit-identical to `@halfstep/backend-js`.
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
  ALL_ON_GPU,
  type CpuThresholds,
  cpuThresholdsOf,
  measureSmallWork,
  SMALL_WORK_KERNELS,
  SMALL_WORK_MAX,
  SMALL_WORK_START,
  type SmallWorkKernel,
  type SmallWorkMeasureOptions,
  type SmallWorkReport,
  type SmallWorkSample,
} from './placement.js';
export {
  type AdapterReport,
  type GpuContext,
  openGpu,
  SWIFTSHADER_ICD,
  type WebGpuOptions,
} from './runtime.js';
export type { HalfConversionFlavor } from './shaders/halves.js';

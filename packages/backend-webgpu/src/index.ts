/// <reference types="@webgpu/types" />
/**
 * The halfstep backend in WGSL compute shaders: browsers (`navigator.gpu`) and Node (the
 * `webgpu` package), with kernels bit-identical to `@halfstep/backend-js`.
 *
 * @packageDocumentation
 */
export { createWebGpuBackend, WebGpuBackend, webgpuBackend } from './backend.js';
export { BufferPool } from './buffers.js';
export { PipelineCache } from './pipelines.js';
export {
  type AdapterReport,
  type GpuContext,
  openGpu,
  SWIFTSHADER_ICD,
  type WebGpuOptions,
} from './runtime.js';

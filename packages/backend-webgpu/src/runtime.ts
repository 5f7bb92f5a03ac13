import { argumentError, checkOneOf, checkOptions, optionKeys } from '@halfstep/codecs';
import type { HalfConversionMode } from './conversion.js';

/** What the backend reports about the adapter it got. */
export interface AdapterReport {
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
  /** Where the GPU came from: the browser's `navigator.gpu`, or the `webgpu` package in Node. */
  readonly source: 'navigator.gpu' | 'webgpu (Node)';
}

/** Options of `createWebGpuBackend`. */
export interface WebGpuOptions {
  /** Passed to `requestAdapter`. */
  readonly powerPreference?: 'low-power' | 'high-performance';
  /** Dawn toggles passed to the Node `webgpu` package's `create` (ignored in browsers). */
  readonly dawnOptions?: readonly string[];
  /**
   * How kernels convert float16 normal numbers (decode, nearest-even encode): 'integer' (exact
   * integer arithmetic, every adapter), 'hardware' (the GPU's conversion instructions: through
   * the f16 type when the device has `shader-f16`, else `pack2x16float`/`unpack2x16float`;
   * rejected unless they match `@halfstep/codecs` on a probe of every float16 code and every
   * rounding boundary) or 'auto' (the default: hardware when the probe passes and a race of the
   * bulk kernels shows it at least 1/0.9 times as fast on this device, else integer). Subnormals,
   * infinities, NaN and overflow stay on the integer path, where WGSL lets devices differ.
   * Results are bit-identical either way; `WebGpuBackend.halfConversion` reports the choice.
   */
  readonly halfConversion?: HalfConversionMode;
}

const KEYS = optionKeys<WebGpuOptions>({
  powerPreference: true,
  dawnOptions: true,
  halfConversion: true,
});

/**
 * Checks the options of `createWebGpuBackend` / `openGpu`: an object with known keys only, a
 * `powerPreference` of 'low-power' or 'high-performance', `dawnOptions` an array of strings, a
 * `halfConversion` of 'auto', 'integer' or 'hardware'. Runs before any device is opened.
 * @throws TypeError for options that are not an object, an unknown key or a value of the wrong
 *   type; RangeError for an unknown `powerPreference` or `halfConversion`.
 */
export function checkWebGpuOptions(options: WebGpuOptions | undefined, fn: string): WebGpuOptions {
  const checked = checkOptions(fn, options, KEYS, {
    hints: {
      halfConversions: 'halfConversion',
      conversion: 'halfConversion',
      power: 'powerPreference',
      toggles: 'dawnOptions',
    },
  });
  if (checked.powerPreference !== undefined)
    checkOneOf(
      checked.powerPreference,
      ['low-power', 'high-performance'],
      `${fn}: powerPreference`,
    );
  if (checked.halfConversion !== undefined)
    checkOneOf(checked.halfConversion, ['auto', 'integer', 'hardware'], `${fn}: halfConversion`);
  const dawn = checked.dawnOptions;
  if (dawn !== undefined && (!Array.isArray(dawn) || dawn.some((o) => typeof o !== 'string')))
    throw argumentError(`${fn}: dawnOptions`, 'an array of strings', dawn);
  return checked;
}

/** An open device and what the adapter said about itself. */
export interface GpuContext {
  readonly device: GPUDevice;
  readonly adapter: AdapterReport;
}

/** Debian's chromium ships SwiftShader's Vulkan driver here; Dawn finds it through this ICD file. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Where Vulkan drivers install their ICD files; when one of NVIDIA's (`nvidia*.json`) is there,
 * SwiftShader is not forced.
 */
const ICD_DIRECTORIES = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];

interface NodeProcessLike {
  env: Record<string, string | undefined>;
}

let nodeGpu: Promise<GPU> | undefined;

/** The Node GPU object, created once per process (Dawn misbehaves when it is created twice). */
async function gpuFromNode(options: WebGpuOptions): Promise<GPU> {
  nodeGpu ??= (async () => {
    const proc = (globalThis as { process?: NodeProcessLike }).process;
    if (proc?.env && proc.env.VK_ICD_FILENAMES === undefined) {
      const fsName = 'node:fs';
      const fs = (await import(/* @vite-ignore */ fsName)) as {
        existsSync(path: string): boolean;
        readdirSync(path: string): string[];
      };
      // A machine with NVIDIA's Vulkan driver has a GPU: leave the loader to find it.
      const nvidia = ICD_DIRECTORIES.some((dir) => {
        try {
          return fs.readdirSync(dir).some((name) => /^nvidia.*\.json$/.test(name));
        } catch {
          return false;
        }
      });
      if (!nvidia && fs.existsSync(SWIFTSHADER_ICD)) proc.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    }
    // A variable specifier keeps bundlers from pulling the Node-only package into browser code.
    const name = 'webgpu';
    let mod: { create(options: string[]): GPU; globals: object };
    try {
      mod = (await import(/* @vite-ignore */ name)) as typeof mod;
    } catch (error) {
      throw new Error(
        `WebGPU is not available: no navigator.gpu, and the optional peer package "webgpu" could not be loaded (${error instanceof Error ? error.message : String(error)}); install it with "pnpm add webgpu"`,
      );
    }
    Object.assign(globalThis, mod.globals);
    return mod.create([...(options.dawnOptions ?? [])]);
  })();
  try {
    return await nodeGpu;
  } catch (error) {
    nodeGpu = undefined;
    throw error;
  }
}

/**
 * Opens a WebGPU device: `navigator.gpu` when the platform has it (browsers, Deno), else the
 * `webgpu` package (Dawn) in Node, imported only now. In Node, when `VK_ICD_FILENAMES` is unset,
 * `SWIFTSHADER_ICD` exists and NVIDIA's Vulkan ICD file does not, it is set to that file so that
 * Dawn finds a (software) Vulkan adapter on machines without a GPU. The device gets the
 * `shader-f16` feature when the adapter has it.
 * @throws TypeError/RangeError for bad options (see `checkWebGpuOptions`), before anything is
 *   opened; Error saying why: no WebGPU at all, no adapter, or the device request failed.
 */
export async function openGpu(options: WebGpuOptions = {}): Promise<GpuContext> {
  checkWebGpuOptions(options, 'createWebGpuBackend');
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  const fromNavigator = nav?.gpu !== undefined;
  const gpu = fromNavigator ? (nav?.gpu as GPU) : await gpuFromNode(options);
  const request: GPURequestAdapterOptions = {};
  if (options.powerPreference) request.powerPreference = options.powerPreference;
  const adapter = await gpu.requestAdapter(request);
  if (!adapter) {
    throw new Error(
      fromNavigator
        ? 'WebGPU: navigator.gpu.requestAdapter() returned no adapter (WebGPU disabled, or no supported GPU)'
        : `WebGPU: the "webgpu" package found no adapter (no Vulkan/Metal/D3D12 driver; on Linux without a GPU install chromium and libvulkan1 and set VK_ICD_FILENAMES=${SWIFTSHADER_ICD})`,
    );
  }
  const info = adapter.info;
  const report: AdapterReport = Object.freeze({
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    description: info?.description ?? '',
    source: fromNavigator ? 'navigator.gpu' : 'webgpu (Node)',
  });
  const limits = adapter.limits;
  // shader-f16 lets the kernels convert float16 through the f16 type (`halfPrelude`).
  const features: GPUFeatureName[] = adapter.features.has('shader-f16') ? ['shader-f16'] : [];
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
    },
  });
  return { device, adapter: report };
}

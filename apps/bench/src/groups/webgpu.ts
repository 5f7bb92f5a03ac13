import type { Backend, TableHandle } from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import { createWasmBackend } from '@halfstep/backend-wasm';
import { createWebGpuBackend, type WebGpuBackend } from '@halfstep/backend-webgpu';
import { roundNearestEven } from '@halfstep/codecs';
import { adam, sgd } from '@halfstep/optim';
import { createPhilox } from '@halfstep/rng';
import { stochastic } from '@halfstep/rounding';
import { normalFloat32 } from '../data.js';
import type { BenchGroup, BenchRow, Measured } from '../harness.js';

const N = 1 << 20;
const ROWS = 100_000;
const DIM = 64;
const BAGS = 1024;
const LOOKUPS_PER_BAG = 26;

/** Median items/s of 3 rounds of about `ms` each, awaiting `run` back to back (after a warm-up). */
async function timeAsync(run: () => Promise<unknown>, items: number, ms = 1000): Promise<Measured> {
  await run();
  const rates: number[] = [];
  for (let round = 0; round < 3; round++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      await run();
      calls++;
      elapsed = performance.now() - start;
    } while (elapsed < ms / 3);
    rates.push((calls * items) / (elapsed / 1000));
  }
  const [, median = Number.NaN] = rates.sort((a, b) => a - b);
  return { itemsPerSecond: median };
}

function batch() {
  let state = 7;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const input = {
    indices: Int32Array.from({ length: BAGS * LOOKUPS_PER_BAG }, () =>
      Math.floor(uniform() * ROWS),
    ),
    offsets: Int32Array.from({ length: BAGS }, (_, b) => b * LOOKUPS_PER_BAG),
  };
  const grad = Float32Array.from({ length: BAGS * DIM }, () => (uniform() - 0.5) * 0.02);
  return { input, grad };
}

function table(backend: Backend, optimizer = sgd({ lr: 0.01 })): TableHandle {
  return backend.createTable({
    name: 'bench',
    index: 0,
    rows: ROWS,
    dim: DIM,
    storage: 'float16',
    rounding: 'stochastic',
    optimizer,
    seed: 1n,
  });
}

/**
 * The WebGPU backend beside the WASM and JS ones on the same data: float16 encode (nearest-even,
 * and stochastic with Philox bits: drawn on the CPU by js and wasm, computed in WGSL by webgpu)
 * and an embedding training step with SGD and with Adam (float16 state). GPU rows time the
 * backend's async kernels, readback included (js and wasm: their synchronous twins,
 * `encodeSync`/`decodeSync`). On SwiftShader (CPU Vulkan) the figures only show that it works.
 * First prints the device's float16 conversion choice; the encode and decode tables time both
 * conversion flavors.
 */
export const webgpuGroup: BenchGroup = {
  name: 'webgpu',
  async tables() {
    const js = new JsBackend();
    const wasm = await createWasmBackend();
    let gpu: WebGpuBackend | undefined;
    let why = '';
    try {
      gpu = await createWebGpuBackend();
    } catch (error) {
      why = `unavailable: ${(error as Error).message}`;
    }
    const adapter = gpu ? `${gpu.adapter.vendor} ${gpu.adapter.architecture}` : 'no adapter';
    if (gpu) console.log(`float16 conversions on ${adapter}: ${gpu.halfConversion.reason}\n`);
    const values = normalFloat32(N, 0.05);
    const codes = new Uint16Array(N);
    const decoded = new Float32Array(N);
    js.encodeSync('float16', values, codes, roundNearestEven);
    const { input, grad } = batch();
    let step = 0;
    /**
     * One training step on `backend`: the host gradient copied in (as the v1 backward took a
     * host array), forward into a tensor, fused backward + update. The GPU row awaits the
     * step's outcome (one readback), the js and wasm rows know it on return.
     */
    const stepOn = (backend: Backend, optimizer: ReturnType<typeof sgd>) => {
      const t = table(backend, optimizer);
      const out = backend.tensor(BAGS * DIM);
      const gradOutput = backend.tensor(BAGS * DIM);
      return () => {
        backend.write(gradOutput, grad);
        backend.embeddingBagForward(t, input, 'sum', out);
        return backend.embeddingBagBackward([
          { table: t, input, pooling: 'sum', gradOutput, step: step++ },
        ]);
      };
    };
    const stepRow = (name: string, backend: Backend, optimizer = sgd({ lr: 0.01 })): BenchRow => ({
      name,
      items: input.indices.length,
      run: stepOn(backend, optimizer),
    });
    const gpuRow = (
      name: string,
      run: (backend: WebGpuBackend) => () => Promise<unknown>,
      items: number,
    ): BenchRow => ({
      name,
      measure: async () => (gpu ? timeAsync(run(gpu), items) : { unavailable: why }),
    });
    /** A GPU row timed with the kernels' float16 conversions in `mode`, then back as they were. */
    const flavorRow = (
      name: string,
      mode: 'integer' | 'hardware',
      run: (backend: WebGpuBackend) => () => Promise<unknown>,
      items: number,
    ): BenchRow => ({
      name,
      measure: async () => {
        if (!gpu) return { unavailable: why };
        const chosen = gpu.halfConversion.flavor === 'integer' ? 'integer' : 'hardware';
        try {
          await gpu.chooseHalfConversion(mode);
          return await timeAsync(run(gpu), items);
        } catch (error) {
          return { unavailable: (error as Error).message };
        } finally {
          await gpu.chooseHalfConversion(chosen);
        }
      },
    });
    const philox = () => ({ random: { engine: createPhilox(3n), counter: 0 } });
    const gpuStep = (name: string, optimizer = sgd({ lr: 0.01 })) =>
      gpuRow(
        name,
        (g) => {
          const run = stepOn(g, optimizer);
          return async () => run();
        },
        input.indices.length,
      );
    const adamF16 = () => adam({ lr: 0.001, stateStorage: 'float16' });
    return [
      {
        title: `float16 encode, nearest-even, 1 Mi values (GPU: ${adapter})`,
        unit: 'values',
        baseline: 'js',
        rows: [
          {
            name: 'js',
            items: N,
            run: () => js.encodeSync('float16', values, codes, roundNearestEven),
          },
          {
            name: 'wasm',
            items: N,
            run: () => wasm.encodeSync('float16', values, codes, roundNearestEven),
          },
          flavorRow(
            'webgpu (integer conversions)',
            'integer',
            (g) => () => g.encode('float16', values, codes, roundNearestEven),
            N,
          ),
          flavorRow(
            'webgpu (hardware conversions)',
            'hardware',
            (g) => () => g.encode('float16', values, codes, roundNearestEven),
            N,
          ),
        ],
      },
      {
        title: `float16 decode, 1 Mi values (GPU: ${adapter})`,
        unit: 'values',
        baseline: 'js',
        rows: [
          { name: 'js', items: N, run: () => js.decodeSync('float16', codes, decoded) },
          { name: 'wasm', items: N, run: () => wasm.decodeSync('float16', codes, decoded) },
          flavorRow(
            'webgpu (integer conversions)',
            'integer',
            (g) => () => g.decode('float16', codes, decoded),
            N,
          ),
          flavorRow(
            'webgpu (hardware conversions)',
            'hardware',
            (g) => () => g.decode('float16', codes, decoded),
            N,
          ),
        ],
      },
      {
        title: `float16 encode, stochastic with Philox4x32-10 bits, 1 Mi values (GPU: ${adapter})`,
        unit: 'values',
        baseline: 'js',
        rows: [
          {
            name: 'js',
            items: N,
            run: () => js.encodeSync('float16', values, codes, stochastic(philox())),
          },
          {
            name: 'wasm',
            items: N,
            run: () => wasm.encodeSync('float16', values, codes, stochastic(philox())),
          },
          gpuRow(
            'webgpu (bits in WGSL)',
            (g) => () => g.encodeCounterStochastic('float16', values, codes, philox()),
            N,
          ),
        ],
      },
      {
        title: `training step, ${ROWS / 1000}k x ${DIM} float16 table, stochastic rounding, ${BAGS} bags x ${LOOKUPS_PER_BAG} lookups, SGD (GPU: ${adapter})`,
        unit: 'row updates',
        baseline: 'js',
        rows: [stepRow('js', js), stepRow('wasm', wasm), gpuStep('webgpu')],
      },
      {
        title: `training step, ${ROWS / 1000}k x ${DIM} float16 table, stochastic rounding, ${BAGS} bags x ${LOOKUPS_PER_BAG} lookups, Adam with float16 state (GPU: ${adapter})`,
        unit: 'row updates',
        baseline: 'js',
        rows: [
          stepRow('js', js, adamF16()),
          stepRow('wasm', wasm, adamF16()),
          gpuStep('webgpu', adamF16()),
        ],
      },
    ];
  },
};

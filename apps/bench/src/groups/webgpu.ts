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
  return { itemsPerSecond: rates.sort((a, b) => a - b)[1] };
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
 * backend's async kernels, readback included. On SwiftShader (CPU Vulkan) the figures only show
 * that it works.
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
    const values = normalFloat32(N, 0.05);
    const codes = new Uint16Array(N);
    const { input, grad } = batch();
    let step = 0;
    const stepRow = (name: string, backend: Backend, optimizer = sgd({ lr: 0.01 })): BenchRow => {
      const t = table(backend, optimizer);
      return {
        name,
        items: input.indices.length,
        run: () => {
          backend.embeddingBagForward(t, input, 'sum');
          return backend.embeddingBagBackward([
            { table: t, input, pooling: 'sum', gradOutput: grad, step: step++ },
          ]);
        },
      };
    };
    const gpuRow = (
      name: string,
      run: (backend: WebGpuBackend) => () => Promise<unknown>,
      items: number,
    ): BenchRow => ({
      name,
      measure: async () => (gpu ? timeAsync(run(gpu), items) : { unavailable: why }),
    });
    const philox = () => ({ random: { engine: createPhilox(3n), counter: 0 } });
    const gpuStep = (name: string, optimizer = sgd({ lr: 0.01 })) =>
      gpuRow(
        name,
        (g) => {
          const t = table(g, optimizer);
          return async () => {
            await g.embeddingBagForwardAsync(t, input, 'sum');
            return g.embeddingBagBackwardAsync([
              { table: t, input, pooling: 'sum', gradOutput: grad, step: step++ },
            ]);
          };
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
            run: () => js.encode('float16', values, codes, roundNearestEven),
          },
          {
            name: 'wasm',
            items: N,
            run: () => wasm.encode('float16', values, codes, roundNearestEven),
          },
          gpuRow(
            'webgpu',
            (g) => () => g.encodeAsync('float16', values, codes, roundNearestEven),
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
            run: () => js.encode('float16', values, codes, stochastic(philox())),
          },
          {
            name: 'wasm',
            items: N,
            run: () => wasm.encode('float16', values, codes, stochastic(philox())),
          },
          gpuRow(
            'webgpu (bits in WGSL)',
            (g) => () => g.encodeCounterStochasticAsync('float16', values, codes, philox()),
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

/**
 * The exhaustive check of the WebGPU backend's hardware float16 conversions: on a WebGPU adapter,
 * every float32 input the kernels hand to the hardware (each bit pattern whose magnitude lies in
 * [2^-14, 65520), both signs: 2 x 250,671,104 values) is encoded nearest-even both by the
 * hardware (`shader-f16` when the device has that feature, else `pack2x16float`) and by the
 * integer `encode_one` of the kernels, and every float16 normal code is decoded both ways, in one
 * kernel that counts the differences on the GPU. The integer path is itself checked against
 * `@halfstep/codecs` by the test suite (and `@halfstep/codecs` against the CPU's F16C instructions
 * over all 2^32 inputs by `pnpm check:exhaustive`).
 *
 * Usage: `pnpm check:exhaustive:webgpu` runs it once on each adapter it can open: Mesa's
 * lavapipe (shader-f16; `scripts/lavapipe.sh` writes its ICD file) and SwiftShader
 * (pack2x16float), each in a child process (the Vulkan driver is chosen per process by
 * `VK_ICD_FILENAMES`). With `--here` it checks the adapter this process gets (a real GPU, say).
 * Exits 1 on any difference; a missing adapter is an error under CI=true, else reported and
 * skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveFormat } from '@halfstep/codecs';
import { hardwareFlavorOf } from '../src/conversion.js';
import { GpuRunner } from '../src/gpu.js';
import { openGpu, SWIFTSHADER_ICD } from '../src/index.js';
import { formatParams } from '../src/params.js';
import { FORMAT_WGSL, INDEX_WGSL } from '../src/shaders/format.js';
import { halfPrelude } from '../src/shaders/halves.js';

const ci = process.env.CI === 'true';
const here = fileURLToPath(import.meta.url);
const LAVAPIPE_ICD = resolve(here, '../../../../.cache/lavapipe/lvp_icd.json');

/** The first and one-past-last float32 magnitudes (bit patterns) the kernels convert in hardware. */
const LOW = 0x38800000;
const HIGH = 0x477ff000;
/** Inputs per dispatch. */
const CHUNK = 1 << 24;

/** The check's kernel: hardware vs integer for inputs P[16] + i (both signs) and for code i. */
function kernel(hardware: 'shader-f16' | 'pack2x16float'): string {
  // The hardware functions, with the kernels' own encode_one and decode_one kept integer (were
  // they not, the check would compare the hardware with itself).
  const on = 'const HALF_HARDWARE = true;';
  const hardwarePrelude = halfPrelude(hardware);
  if (!hardwarePrelude.includes(on)) throw new Error(`the ${hardware} prelude lacks "${on}"`);
  const prelude = hardwarePrelude.replace(on, 'const HALF_HARDWARE = false;');
  return /* wgsl */ `${prelude}
@group(0) @binding(0) var<storage, read> P: array<u32>;
@group(0) @binding(1) var<storage, read_write> result: array<atomic<u32>, 2>;
${FORMAT_WGSL}
${INDEX_WGSL}
fn differs(x: u32) {
  atomicAdd(&result[0], 1u);
  atomicMin(&result[1], x);
}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(gid, groups);
  if (i >= P[17u]) { return; }
  let a = P[16u] + i;
  if (hw_encode_half(a) != encode_one(a, 0u, 0u)) { differs(a); }
  let n = a | 0x80000000u;
  if (hw_encode_half(n) != encode_one(n, 0u, 0u)) { differs(n); }
  if (P[18u] != 0u && i < 65536u) {
    let exponent = (i >> 10u) & 31u;
    if (exponent != 0u && exponent != 31u && hw_decode_half(i) != decode_one(i)) { differs(i); }
  }
}
`;
}

/** Runs the check on this process's adapter; returns the number of differences. */
async function checkHere(): Promise<number> {
  const { device, adapter } = await openGpu();
  const hardware = hardwareFlavorOf(device);
  const runner = new GpuRunner(device);
  const pipeline = runner.pipelines.get(`exhaustive-${hardware}`, () => kernel(hardware));
  const result = device.createBuffer({ size: 8, usage: 0x80 | 0x4 | 0x8 });
  device.queue.writeBuffer(result, 0, Uint32Array.of(0, 0xffffffff));
  const started = performance.now();
  const params: GPUBuffer[] = [];
  const encoder = device.createCommandEncoder();
  for (let first = LOW; first < HIGH; first += CHUNK) {
    const count = Math.min(CHUNK, HIGH - first);
    const p = formatParams(resolveFormat('float16'), false);
    p.set([first, count, first === LOW ? 1 : 0], 16);
    const buffer = runner.persistentWith(p);
    params.push(buffer);
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(
      0,
      device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer } },
          { binding: 1, resource: { buffer: result } },
        ],
      }),
    );
    const groups = Math.ceil(count / 64);
    const x = Math.min(groups, 65535);
    pass.dispatchWorkgroups(x, Math.ceil(groups / x));
    pass.end();
  }
  const staging = device.createBuffer({ size: 8, usage: 0x1 | 0x8 });
  encoder.copyBufferToBuffer(result, 0, staging, 0, 8);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(0x1);
  const [mismatches = 0, first = 0] = new Uint32Array(staging.getMappedRange().slice(0));
  const seconds = (performance.now() - started) / 1000;
  const inputs = 2 * (HIGH - LOW);
  console.log(
    `${adapter.description || adapter.vendor} (${hardware}): ${inputs} encodes + 30720 decodes, ` +
      `${mismatches} differences${mismatches > 0 ? ` (smallest input 0x${first.toString(16)})` : ''}, ` +
      `${seconds.toFixed(1)} s (${(inputs / seconds / 1e6).toFixed(0)} M values/s)`,
  );
  for (const buffer of [...params, result, staging]) buffer.destroy();
  device.destroy();
  return mismatches;
}

if (process.argv.includes('--here')) {
  process.exitCode = (await checkHere()) === 0 ? 0 : 1;
} else {
  let failed = false;
  for (const [name, icd] of [
    ['lavapipe', LAVAPIPE_ICD],
    ['SwiftShader', SWIFTSHADER_ICD],
  ] as const) {
    if (!existsSync(icd)) {
      const why = `${name}: no Vulkan ICD file at ${icd}${name === 'lavapipe' ? ' (run scripts/lavapipe.sh)' : ' (install chromium)'}`;
      console.log(`exhaustive WebGPU float16 check: ${why}${ci ? '' : ': skipped'}`);
      failed ||= ci;
      continue;
    }
    const child = spawnSync(process.execPath, [...process.execArgv, here, '--here'], {
      env: { ...process.env, VK_ICD_FILENAMES: icd },
      stdio: 'inherit',
    });
    failed ||= child.status !== 0;
  }
  process.exitCode = failed ? 1 : 0;
}

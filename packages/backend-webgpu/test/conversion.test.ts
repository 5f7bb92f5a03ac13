import type { Backend, BagUpdate, TableHandle, TableSpec } from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import { decode, encode, roundNearestEven } from '@halfstep/codecs';
import { adam, type SparseOptimizer, sgd } from '@halfstep/optim';
import { afterAll, describe, expect, it } from 'vitest';
import {
  compileFailure,
  decideHalfConversion,
  HARDWARE_MARGIN,
  type HalfProbeResult,
  probeValues,
} from '../src/conversion.js';
import { GpuRunner } from '../src/gpu.js';
import { createWebGpuBackend, type WebGpuBackend } from '../src/index.js';
import { batch, bitsOf, randomBits, randomValues } from './device.js';

const T = { timeout: 60_000 };
const CI = process.env.CI === 'true';
/** The lavapipe test project sets this: its adapter must offer shader-f16. */
const expectShaderF16 = process.env.HALFSTEP_EXPECT_SHADER_F16 === '1';

const passed: HalfProbeResult = { checked: 10, mismatches: 0, first: null };
const failed: HalfProbeResult = { checked: 10, mismatches: 2, first: 'decode(0x7c01) gave x' };

describe('the choice of float16 conversions', () => {
  it('keeps integer kernels when asked to, or when the probe fails in auto', () => {
    expect(decideHalfConversion('integer', 'shader-f16', null, null).flavor).toBe('integer');
    const auto = decideHalfConversion('auto', 'pack2x16float', failed, null);
    expect(auto.flavor).toBe('integer');
    expect(auto.reason).toContain('2 of 10 probe values (first: decode(0x7c01) gave x)');
  });

  it("rejects 'hardware' when the probe fails, naming the first difference", () => {
    expect(() => decideHalfConversion('hardware', 'shader-f16', failed, null)).toThrow(
      "halfConversion 'hardware': the device's shader-f16 conversions differ from @halfstep/codecs on 2 of 10 probe values (first: decode(0x7c01) gave x)",
    );
    expect(decideHalfConversion('hardware', 'shader-f16', passed, null).flavor).toBe('shader-f16');
  });

  it(`takes the hardware in auto only when it is at least ${HARDWARE_MARGIN}x the integer time`, () => {
    const race = (hardwareMs: number) => ({ elements: 1 << 20, integerMs: 10, hardwareMs });
    expect(decideHalfConversion('auto', 'shader-f16', passed, race(5)).flavor).toBe('shader-f16');
    expect(decideHalfConversion('auto', 'shader-f16', passed, race(8.9)).flavor).toBe('shader-f16');
    expect(decideHalfConversion('auto', 'shader-f16', passed, race(9.5)).flavor).toBe('integer');
    expect(decideHalfConversion('auto', 'shader-f16', passed, race(20)).reason).toContain('2.00x');
  });

  it('probes every rounding boundary of float16: each value, midpoint and its neighbours', () => {
    const values = probeValues();
    expect(values.length).toBe(8 * 0x7bff + 6);
    const floats = new Float32Array(values.buffer);
    const codes = encode('float16', floats);
    // Each positive midpoint is a tie: nearest-even goes to the even neighbour, its float32
    // neighbours go down and up (negative values mirror them); 65520 rounds to infinity.
    const want = new Uint16Array(codes.length);
    for (let c = 0; c < 0x7bff; c++) {
      const up = [c, c, c % 2 === 0 ? c : c + 1, c + 1];
      for (let j = 0; j < 4; j++) {
        want[8 * c + 2 * j] = up[j]!;
        want[8 * c + 2 * j + 1] = up[j]! | 0x8000;
      }
    }
    want.set([0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7c00, 0xfc00], want.length - 6);
    const wrong = codes.findIndex((code, i) => code !== want[i]);
    expect(wrong).toBe(-1);
  });

  it('rejects an unknown halfConversion before opening a device', async () => {
    await expect(createWebGpuBackend({ halfConversion: 'fast' as never })).rejects.toThrow(
      'createWebGpuBackend: halfConversion: expected one of "auto", "integer", "hardware", got string "fast"',
    );
  });
});

/** A backend with hardware conversions, or why there is none (no adapter, or a failed probe). */
async function openHardware(): Promise<{ backend?: WebGpuBackend; reason?: string }> {
  try {
    return { backend: await createWebGpuBackend({ halfConversion: 'hardware' }) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (!CI) console.warn(`hardware float16 conversion tests skipped: ${reason}`);
    return { reason };
  }
}

const { backend: hw, reason } = await openHardware();
afterAll(() => hw?.dispose());

it.skipIf(!hw && !CI)('opens a backend with hardware float16 conversions in CI', () => {
  if (!hw) throw new Error(`no hardware float16 conversions in CI: ${reason}`);
  const report = hw.halfConversion;
  expect(report.flavor).toBe(report.hardware);
  expect(report.probe?.mismatches).toBe(0);
  expect(report.hardware).toBe(
    hw.device.features.has('shader-f16') ? 'shader-f16' : 'pack2x16float',
  );
  if (expectShaderF16) expect(report.flavor).toBe('shader-f16');
  console.info(`hardware float16 conversions: ${JSON.stringify(report)}`);
});

function tableSpec(
  name: string,
  index: number,
  optimizer: SparseOptimizer,
  rounding: 'stochastic' | 'nearest-even',
): TableSpec {
  return { name, index, rows: 40, dim: 12, storage: 'float16', rounding, optimizer, seed: 0x5eedn };
}

describe.skipIf(!hw)('kernels with hardware float16 conversions', () => {
  it('decode every float16 code and encode with every rule like @halfstep/codecs', T, async () => {
    const codes = new Uint16Array(65536);
    for (let c = 0; c < codes.length; c++) codes[c] = c;
    const decoded = new Float32Array(codes.length);
    await hw!.decode('float16', codes, decoded);
    expect(bitsOf(decoded)).toEqual(bitsOf(decode('float16', codes)));
    const src = randomBits(40_000, 7);
    for (const rule of ['nearest-even', 'toward-zero', 'to-odd'] as const) {
      const rounding = { rule };
      for (const overflow of ['infinity', 'saturate'] as const) {
        const out = new Uint16Array(src.length);
        await hw!.encode('float16', src, out, rounding, overflow);
        expect(out).toEqual(encode('float16', src, { rounding, overflow }));
      }
    }
    // The probe's own values, through the public kernel.
    const probe = new Float32Array(probeValues().buffer);
    const out = new Uint16Array(probe.length);
    await hw!.encode('float16', probe, out, roundNearestEven);
    expect(out).toEqual(encode('float16', probe));
  });

  it(
    'train float16 tables (SGD nearest-even and stochastic, Adam with float16 state) like the JS backend',
    T,
    async () => {
      const js = new JsBackend();
      const specs = [
        tableSpec('sgd-nearest', 0, sgd({ lr: 0.3 }), 'nearest-even'),
        tableSpec('sgd-stochastic', 1, sgd({ lr: 0.3 }), 'stochastic'),
        tableSpec('adam-f16', 2, adam({ lr: 0.01, stateStorage: 'float16' }), 'nearest-even'),
      ];
      const a = specs.map((s) => hw!.createTable(s));
      const b = specs.map((s) => js.createTable(s));
      for (let k = 0; k < specs.length; k++) {
        const values = randomValues(40 * 12, 50 + k, 3);
        hw!.writeRows(a[k]!, values);
        js.writeRows(b[k]!, values);
      }
      let seed = 900;
      for (let step = 0; step < 4; step++) {
        const inputs = specs.map(() => batch(40, 16, 6, seed++, step === 3));
        const grads = inputs.map((input) => randomValues(input.offsets.length * 12, seed++, 0.5));
        const make = (backend: Backend, tables: TableHandle[]): BagUpdate[] =>
          tables.map((table, k) => ({
            table,
            input: inputs[k]!,
            pooling: step === 2 ? 'mean' : 'sum',
            gradOutput: backend.tensor(grads[k]!),
            step,
          }));
        expect(await hw!.embeddingBagBackward(make(hw!, a))).toEqual(
          await js.embeddingBagBackward(make(js, b)),
        );
        for (let k = 0; k < specs.length; k++) {
          const forward = [hw!, js].map((backend) => backend.tensor(16 * 12));
          hw!.embeddingBagForward(a[k]!, inputs[k]!, 'sum', forward[0]!);
          js.embeddingBagForward(b[k]!, inputs[k]!, 'sum', forward[1]!);
          expect(bitsOf(await hw!.read(forward[0]!))).toEqual(bitsOf(await js.read(forward[1]!)));
        }
      }
      for (let k = 0; k < specs.length; k++) {
        expect(await hw!.exportTable(a[k]!)).toEqual(await js.exportTable(b[k]!));
        hw!.disposeTable(a[k]!);
      }
      js.dispose();
    },
  );

  it(
    'compiles every kernel with the hardware flavor, and reports a flavor the device lacks',
    T,
    async () => {
      const runner = new GpuRunner(hw!.device);
      expect(await compileFailure(runner, hw!.halfConversion.hardware)).toBeNull();
      if (!hw!.device.features.has('shader-f16')) {
        expect(await compileFailure(runner, 'shader-f16')).toMatch(
          /^the encode kernel does not compile with shader-f16: /,
        );
      }
      runner.destroy();
    },
  );

  it('switches flavor at run time with the same results', T, async () => {
    const src = randomValues(10_000, 3, 100);
    const results: Uint16Array[] = [];
    for (const mode of ['integer', 'hardware'] as const) {
      const report = await hw!.chooseHalfConversion(mode);
      expect(report.flavor === 'integer').toBe(mode === 'integer');
      const out = new Uint16Array(src.length);
      await hw!.encode('float16', src, out, roundNearestEven);
      results.push(out);
    }
    expect(results[0]).toEqual(results[1]);
    expect(results[1]).toEqual(encode('float16', src));
  });
});

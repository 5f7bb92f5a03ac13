import { decode, encode, RULE_CODES, resolveFormat } from '@halfstep/codecs';
import type { GpuRunner } from './gpu.js';
import { DECODE_LAYOUT, ENCODE_LAYOUT, formatValues, NO_COUNTER } from './layouts.js';
import { AGGREGATE_WGSL } from './shaders/aggregate.js';
import { ADD_BIAS_WGSL, MATMUL_WGSL, RELU_WGSL, SUM_ROWS_WGSL } from './shaders/dense.js';
import { type HalfConversionFlavor, halfPrelude } from './shaders/halves.js';
import { DECODE_WGSL, ENCODE_WGSL, FORWARD_WGSL, GATHER_WGSL } from './shaders/kernels.js';
import { storeSource, updateSource } from './shaders/update.js';
import { GPU_OPTIMIZERS, storeKey } from './update.js';

/** What `WebGpuOptions.halfConversion` asks for. */
export type HalfConversionMode = 'auto' | 'integer' | 'hardware';

/** The hardware flavors: `shader-f16` on a device with that feature, else `pack2x16float`. */
export type HardwareHalfFlavor = Exclude<HalfConversionFlavor, 'integer'>;

/** The hardware flavor `device` offers: `shader-f16` when it has that feature, else `pack2x16float`. */
export function hardwareFlavorOf(device: GPUDevice): HardwareHalfFlavor {
  return device.features.has('shader-f16') ? 'shader-f16' : 'pack2x16float';
}

/** The probe of a device's hardware float16 conversions against `@halfstep/codecs`. */
export interface HalfProbeResult {
  /** Codes decoded plus values encoded. */
  readonly checked: number;
  /** How many of them differed from `@halfstep/codecs`. */
  readonly mismatches: number;
  /** The first difference, in words (null when there is none). */
  readonly first: string | null;
}

/** The race of the integer and hardware flavors of the bulk decode + encode kernels. */
export interface HalfRaceResult {
  /** Elements decoded and encoded per run (summed over the run's repeated dispatches). */
  readonly elements: number;
  /** The fastest of three runs of the integer kernels, in milliseconds. */
  readonly integerMs: number;
  /** The fastest of three runs of the hardware kernels, in milliseconds. */
  readonly hardwareMs: number;
}

/** What the backend chose for float16 conversions, and why. */
export interface HalfConversionReport {
  /** The flavor every kernel is compiled with. */
  readonly flavor: HalfConversionFlavor;
  /** The hardware flavor this device offers. */
  readonly hardware: HardwareHalfFlavor;
  /** The probe of the hardware flavor (null when 'integer' was asked for: not run). */
  readonly probe: HalfProbeResult | null;
  /** The race ('auto' after a passing probe; else null). */
  readonly race: HalfRaceResult | null;
  /** Why this flavor, in words. */
  readonly reason: string;
}

/** The hardware flavor must beat the integer one by this factor in 'auto' (timing noise). */
export const HARDWARE_MARGIN = 0.9;

/**
 * The values the probe encodes (float32 bits): for every pair of adjacent finite float16 values
 * (both signs), the lower one, their midpoint (a tie) and the float32 values just below and just
 * above the midpoint, plus the overflow boundary 65520 and its neighbours. A conversion that is
 * monotonic and right on all of them rounds every float32 to nearest-even: between two adjacent
 * probe points it cannot change its answer.
 */
export function probeValues(): Uint32Array {
  const codes = new Uint16Array(0x7c00);
  for (let c = 0; c < codes.length; c++) codes[c] = c;
  const halves = decode('float16', codes);
  const out = new Uint32Array(8 * (codes.length - 1) + 6);
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  let n = 0;
  for (let c = 0; c + 1 < codes.length; c++) {
    f[0] = halves[c]!;
    const low = bits[0]!;
    // The midpoint of two adjacent float16 values has 12 significant bits: exact in float32.
    f[0] = (halves[c]! + halves[c + 1]!) / 2;
    const mid = bits[0]!;
    for (const x of [low, mid - 1, mid, mid + 1]) {
      out[n++] = x;
      out[n++] = (x | 0x80000000) >>> 0;
    }
  }
  for (const x of [0x477fefff, 0x477ff000, 0x477ff001]) {
    out[n++] = x;
    out[n++] = (x | 0x80000000) >>> 0;
  }
  return out;
}

/**
 * Runs the backend's own bulk decode (all 65,536 float16 codes) and nearest-even encode
 * (`probeValues`) kernels compiled with `flavor` and compares them with `@halfstep/codecs`.
 * @throws Error for a GPU error.
 */
export async function probeHalfConversion(
  runner: GpuRunner,
  flavor: HardwareHalfFlavor,
): Promise<HalfProbeResult> {
  const codes = new Uint16Array(65536);
  for (let c = 0; c < codes.length; c++) codes[c] = c;
  const values = probeValues();
  const [decoded, encoded] = await withFlavor(runner, flavor, async () => {
    const d = recordDecode(runner, runner.input(codes), codes.length);
    const e = recordEncode(runner, runner.input(values), values.length);
    const dStaging = runner.copyOut(d, codes.length * 4);
    const eStaging = runner.copyOut(e, values.length * 2);
    await runner.submit();
    return [
      new Uint32Array(await runner.read(dStaging, codes.length * 4)),
      new Uint16Array(await runner.read(eStaging, values.length * 2)),
    ] as const;
  });
  const wantDecoded = new Uint32Array(decode('float16', codes).buffer);
  const wantEncoded = encode('float16', new Float32Array(values.buffer));
  let mismatches = 0;
  let first: string | null = null;
  const hex = (x: number, digits: number) => `0x${x.toString(16).padStart(digits, '0')}`;
  for (let c = 0; c < codes.length; c++) {
    if (decoded[c] === wantDecoded[c]) continue;
    mismatches++;
    first ??= `decode(${hex(c, 4)}) gave ${hex(decoded[c]!, 8)}, expected ${hex(wantDecoded[c]!, 8)}`;
  }
  for (let i = 0; i < values.length; i++) {
    if (encoded[i] === wantEncoded[i]) continue;
    mismatches++;
    first ??= `encode(${hex(values[i]!, 8)}) gave ${hex(encoded[i]!, 4)}, expected ${hex(wantEncoded[i]!, 4)}`;
  }
  return { checked: codes.length + values.length, mismatches, first };
}

/**
 * Times the bulk decode + nearest-even encode kernels of both flavors on the same data (float16
 * normal numbers, the hardware's case) already on the GPU. The work grows until the integer
 * kernels take 20 ms: the element count by 4 from 2^14 to 2^22, then the number of times both
 * kernels run in one submission, by 2 up to 64. Then the fastest of three alternating runs of
 * each flavor; wall time from submit to `onSubmittedWorkDone`.
 * @throws Error for a GPU error.
 */
export async function raceHalfConversion(
  runner: GpuRunner,
  flavor: HardwareHalfFlavor,
): Promise<HalfRaceResult> {
  const device = runner.device;
  let elements = 1 << 14;
  let repeats = 1;
  for (;;) {
    const codes = new Uint16Array(elements);
    let s = 12345;
    for (let i = 0; i < elements; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      // Exponents 1..30 (normal numbers), any sign and mantissa.
      codes[i] = (s & 0x83ff) | ((1 + ((s >>> 16) % 30)) << 10);
    }
    const src = runner.persistentWith(codes);
    const floats = runner.persistentWith(decode('float16', codes));
    try {
      const time = (which: HalfConversionFlavor) =>
        withFlavor(runner, which, async () => {
          const start = performance.now();
          for (let r = 0; r < repeats; r++) {
            recordDecode(runner, src, elements);
            recordEncode(runner, floats, elements);
          }
          await runner.submit();
          await device.queue.onSubmittedWorkDone();
          return performance.now() - start;
        });
      await time('integer');
      await time(flavor);
      let integerMs = await time('integer');
      while (integerMs < 20 && elements === 1 << 22 && repeats < 64) {
        repeats *= 2;
        integerMs = await time('integer');
      }
      if (integerMs < 20 && elements < 1 << 22) {
        elements *= 4;
        continue;
      }
      let hardwareMs = Number.POSITIVE_INFINITY;
      for (let run = 0; run < 3; run++) {
        hardwareMs = Math.min(hardwareMs, await time(flavor));
        if (run < 2) integerMs = Math.min(integerMs, await time('integer'));
      }
      return { elements: elements * repeats, integerMs, hardwareMs };
    } finally {
      src.destroy();
      floats.destroy();
    }
  }
}

/**
 * Compiles every kernel of the backend with `flavor`'s prelude (the bulk codecs, forward, gather,
 * the aggregation, the fused update's passes of every optimizer and the dense ops) and returns the first
 * failure in words, or null: the probe runs only the codecs, and a driver could still reject
 * another kernel once it declares `enable f16`.
 */
export async function compileFailure(
  runner: GpuRunner,
  flavor: HardwareHalfFlavor,
): Promise<string | null> {
  const kernels: [string, string][] = [
    ['encode', ENCODE_WGSL],
    ['decode', DECODE_WGSL],
    ['forward', FORWARD_WGSL],
    ['gather', GATHER_WGSL],
    ['aggregate', AGGREGATE_WGSL],
    ...[...GPU_OPTIMIZERS].map((kind): [string, string] => [`update-${kind}`, updateSource(kind)]),
    ...[false, true].map((stateful): [string, string] => [
      storeKey(stateful),
      storeSource(stateful),
    ]),
    ['matmul', MATMUL_WGSL],
    ['addBias', ADD_BIAS_WGSL],
    ['relu', RELU_WGSL],
    ['sumRows', SUM_ROWS_WGSL],
  ];
  const device = runner.device;
  for (const [name, source] of kernels) {
    let message: string | null = null;
    device.pushErrorScope('validation');
    try {
      const module = device.createShaderModule({ code: halfPrelude(flavor) + source });
      await device.createComputePipelineAsync({
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
    } catch (error) {
      message = error instanceof Error ? error.message : String(error);
    }
    const scoped = await device.popErrorScope();
    message ??= scoped?.message ?? null;
    if (message !== null) return `the ${name} kernel does not compile with ${flavor}: ${message}`;
  }
  return null;
}

/**
 * The flavor, probe and race outcome as a report: 'integer' asked for, or 'auto' with a failed
 * probe or a hardware flavor that is not at least `HARDWARE_MARGIN` faster, give 'integer';
 * 'hardware' with a failed probe is an error.
 * @throws Error when 'hardware' was asked for and the probe found a difference.
 */
export function decideHalfConversion(
  mode: HalfConversionMode,
  hardware: HardwareHalfFlavor,
  probe: HalfProbeResult | null,
  race: HalfRaceResult | null,
): HalfConversionReport {
  const report = (flavor: HalfConversionFlavor, reason: string): HalfConversionReport =>
    Object.freeze({ flavor, hardware, probe, race, reason });
  if (mode === 'integer' || probe === null) return report('integer', "'integer' was asked for");
  if (probe.mismatches > 0) {
    const why = `the device's ${hardware} conversions differ from @halfstep/codecs on ${probe.mismatches} of ${probe.checked} probe values (first: ${probe.first})`;
    if (mode === 'hardware') throw new Error(`halfConversion 'hardware': ${why}`);
    return report('integer', why);
  }
  if (mode === 'hardware') return report(hardware, `'hardware' was asked for; the probe passed`);
  if (race === null) return report('integer', 'not timed');
  const ratio = race.hardwareMs / race.integerMs;
  const timing = `${race.elements} elements: ${hardware} ${race.hardwareMs.toFixed(2)} ms, integer ${race.integerMs.toFixed(2)} ms (${ratio.toFixed(2)}x)`;
  return ratio < HARDWARE_MARGIN
    ? report(hardware, `exact on the probe and faster: ${timing}`)
    : report('integer', `exact on the probe but not ${HARDWARE_MARGIN}x faster: ${timing}`);
}

/** Probe, race and compile results per adapter and flavor, measured once per process. */
const measured = new Map<string, Promise<HalfProbeResult | HalfRaceResult | string | null>>();

/** `measure()`, run once per key in this process (a failure is not kept). */
function once<T extends HalfProbeResult | HalfRaceResult | string | null>(
  key: string,
  measure: () => Promise<T>,
): Promise<T> {
  let result = measured.get(key);
  if (result === undefined) {
    result = measure();
    measured.set(key, result);
    result.catch(() => measured.delete(key));
  }
  return result as Promise<T>;
}

/**
 * Chooses the flavor of a backend's kernels on its device (`WebGpuOptions.halfConversion`):
 * probes the hardware flavor unless 'integer' was asked for, races it in 'auto', compiles every
 * kernel with it before choosing it (`compileFailure`), and sets `runner.conversion`. The probe,
 * the race and the compilation run once per process for each `adapter` (a key naming the
 * adapter: devices of one adapter share their results).
 * @throws Error when 'hardware' was asked for and the probe found a difference or a kernel does
 *   not compile with the hardware flavor, or a GPU error.
 */
export async function chooseHalfConversion(
  runner: GpuRunner,
  mode: HalfConversionMode,
  adapter: string,
): Promise<HalfConversionReport> {
  const hardware = hardwareFlavorOf(runner.device);
  const key = `${adapter}\n${hardware}`;
  const probe =
    mode === 'integer'
      ? null
      : await once(`probe\n${key}`, () => probeHalfConversion(runner, hardware));
  const race =
    mode === 'auto' && probe !== null && probe.mismatches === 0
      ? await once(`race\n${key}`, () => raceHalfConversion(runner, hardware))
      : null;
  let report = decideHalfConversion(mode, hardware, probe, race);
  if (report.flavor !== 'integer') {
    const failure = await once(`compile\n${key}`, () => compileFailure(runner, hardware));
    if (failure !== null) {
      if (mode === 'hardware') throw new Error(`halfConversion 'hardware': ${failure}`);
      report = Object.freeze({ ...report, flavor: 'integer', reason: failure });
    }
  }
  runner.conversion = report.flavor;
  return report;
}

/** The modes `WebGpuOptions.halfConversion` takes. @throws RangeError for another value. */
export function halfConversionModeOf(value: unknown): HalfConversionMode {
  const mode = value ?? 'auto';
  if (mode === 'auto' || mode === 'integer' || mode === 'hardware') return mode;
  throw new RangeError(
    `halfConversion: expected 'auto', 'integer' or 'hardware', got ${JSON.stringify(value)}`,
  );
}

/** Runs `body` with the runner's kernels compiled in `flavor`, then restores the flavor. */
async function withFlavor<T>(
  runner: GpuRunner,
  flavor: HalfConversionFlavor,
  body: () => Promise<T>,
): Promise<T> {
  const previous = runner.conversion;
  runner.conversion = flavor;
  try {
    return await body();
  } finally {
    runner.conversion = previous;
  }
}

const FLOAT16 = resolveFormat('float16');

/** Records the bulk decode of `count` float16 codes in `src`; returns the float32 output buffer. */
function recordDecode(runner: GpuRunner, src: GPUBuffer, count: number): GPUBuffer {
  const params = DECODE_LAYOUT.block({ ...formatValues(FLOAT16, false), count });
  const dst = runner.output(count * 4);
  runner.dispatch('decode', () => DECODE_WGSL, [runner.input(params), src, dst], count);
  return dst;
}

/** Records the bulk nearest-even encode of `count` float32 values in `src`; returns the codes. */
function recordEncode(runner: GpuRunner, src: GPUBuffer, count: number): GPUBuffer {
  const params = ENCODE_LAYOUT.block({
    ...NO_COUNTER,
    ...formatValues(FLOAT16, false),
    count,
    rule: RULE_CODES['nearest-even'],
    source: 0,
  });
  const words = Math.ceil(count / 2);
  const dst = runner.output(words * 4);
  runner.dispatch(
    'encode',
    () => ENCODE_WGSL,
    [runner.input(params), src, runner.input(new Uint32Array(1)), dst],
    words,
  );
  return dst;
}

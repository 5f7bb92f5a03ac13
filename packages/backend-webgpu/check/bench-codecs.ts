import type { JsBackend } from '@halfstep/backend-js';
import { RULE_CODES, resolveFormat, roundNearestEven } from '@halfstep/codecs';
import { createPhilox } from '@halfstep/rng';
import { GpuRunner } from '../src/gpu.js';
import type { WebGpuBackend } from '../src/index.js';
import { DECODE_LAYOUT, ENCODE_LAYOUT, formatValues, NO_COUNTER } from '../src/layouts.js';
import { DECODE_WGSL, ENCODE_WGSL } from '../src/shaders/kernels.js';
import { randomValues } from '../test/device.js';
import { report } from './results.js';
import { kernelSeconds, timeSteps } from './timing.js';

/**
 * Throughput of the bulk float16 codecs on `n` values: the encode and decode kernels alone on
 * GPU-resident buffers (a runner of the check's own, compiled in the backend's float16 flavor),
 * then end to end through the backend (upload, kernel, download; with the traffic of each call),
 * then on `@halfstep/backend-js` (`js`, unless null).
 */
export async function benchCodecs(
  gpu: WebGpuBackend,
  js: JsBackend | null,
  n: number,
  ms: number,
): Promise<void> {
  const values = randomValues(n, 99, 0.05);
  const codes = new Uint16Array(n);
  const back = new Float32Array(n);
  const gb = (bytes: number, s: number) => bytes / s / 1e9;
  const gv = (s: number) => `${(n / s / 1e9).toFixed(3)} Gvalues/s`;
  // Kernels alone: inputs resident on the GPU, one submission per run of many dispatches.
  const f16 = formatValues(resolveFormat('float16'), false);
  const encodeParams = ENCODE_LAYOUT.block({
    ...NO_COUNTER,
    ...f16,
    count: n,
    rule: RULE_CODES['nearest-even'],
  });
  // Philox4x32-10 in WGSL, 13 random bits per value, 2 values per word, counter 0.
  const philoxParams = ENCODE_LAYOUT.block({
    ...NO_COUNTER,
    ...f16,
    count: n,
    rule: RULE_CODES.stochastic,
    source: 2,
    randomBits: 13,
    perWord: 2,
    key0: 0x89abcdef,
    key1: 0x01234567,
    rounds: 10,
  });
  const decodeParams = DECODE_LAYOUT.block({ ...f16, count: n });
  const runner = new GpuRunner(gpu.device);
  runner.conversion = gpu.halfConversion.flavor;
  const srcBuffer = runner.persistentWith(values);
  const codeBuffer = runner.persistent(2 * n);
  const valueBuffer = runner.persistent(4 * n);
  const dummy = runner.persistentWith(new Uint32Array(1));
  const kernels: [string, string, Uint32Array, GPUBuffer[], number][] = [
    [
      'encode float16 nearest-even',
      ENCODE_WGSL,
      encodeParams,
      [srcBuffer, dummy, codeBuffer],
      n / 2,
    ],
    [
      'encode float16 stochastic, Philox4x32-10 bits in WGSL',
      ENCODE_WGSL,
      philoxParams,
      [srcBuffer, dummy, codeBuffer],
      n / 2,
    ],
    ['decode float16', DECODE_WGSL, decodeParams, [codeBuffer, valueBuffer], n],
  ];
  try {
    for (const [name, source, params, buffers, invocations] of kernels) {
      const p = runner.persistentWith(params);
      const key = source === DECODE_WGSL ? 'decode' : 'encode';
      const t = await kernelSeconds(runner, key, () => source, [p, ...buffers], invocations, ms);
      report({
        name: `${name}, ${n} values, kernel alone`,
        value: gb(6 * n, t),
        unit: 'GB/s',
        note: gv(t),
        msPerStep: t * 1e3,
      });
      p.destroy();
    }
  } finally {
    for (const b of [srcBuffer, codeBuffer, valueBuffer, dummy]) b.destroy();
    runner.destroy();
  }
  const endToEnd = async (name: string, run: () => Promise<void>, note = '') => {
    const t = await timeSteps(run, ms, { source: gpu });
    report({
      name,
      value: gb(6 * n, t.seconds),
      unit: 'GB/s',
      note: `${gv(t.seconds)}${note}`,
      msPerStep: t.seconds * 1e3,
      traffic: t.traffic,
    });
  };
  await endToEnd(
    `encode float16 nearest-even, ${n} values, end to end`,
    () => gpu.encode('float16', values, codes, roundNearestEven),
    ', upload + download included',
  );
  const philox = { random: { engine: createPhilox(1n), counter: 0 } };
  await endToEnd(`encode float16 stochastic (Philox in WGSL), end to end`, () =>
    gpu.encodeCounterStochastic('float16', values, codes, philox),
  );
  await endToEnd(`decode float16, ${n} values, end to end`, () =>
    gpu.decode('float16', codes, back),
  );
  if (js === null) return;
  const encJs = await timeSteps(
    async () => js.encodeSync('float16', values, codes, roundNearestEven),
    ms,
  );
  report({
    name: 'encode float16 nearest-even on backend-js',
    value: gb(6 * n, encJs.seconds),
    unit: 'GB/s',
    note: gv(encJs.seconds),
    msPerStep: encJs.seconds * 1e3,
  });
  const decJs = await timeSteps(async () => js.decodeSync('float16', codes, back), ms);
  report({
    name: 'decode float16 on backend-js',
    value: gb(6 * n, decJs.seconds),
    unit: 'GB/s',
    note: gv(decJs.seconds),
    msPerStep: decJs.seconds * 1e3,
  });
}

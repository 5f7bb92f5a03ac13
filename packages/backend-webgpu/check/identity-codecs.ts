import { decode, encode, type RoundingStrategy } from '@halfstep/codecs';
import { createEngine, createPhilox } from '@halfstep/rng';
import { stochastic } from '@halfstep/rounding';
import type { WebGpuBackend } from '../src/index.js';
import { bitsOf, FORMATS, ListedThresholds, RULES, randomBits } from '../test/device.js';
import { compareExact, exactOperands, referenceExact, runExact } from '../test/exact.js';
import { countDiff, guarded, record } from './results.js';

/**
 * The bit identity of the codecs kernels against `@halfstep/codecs`: the bulk decode of every
 * code of every format, the bulk encode of random bit patterns of every class (every format,
 * rule and overflow mode; stochastic with host thresholds and with counter-based bits drawn in
 * WGSL), and the integer `div_exact` / `sqrt_exact` against `Math.fround` (`exactCount`
 * operands each, in dispatches of 4 Mi).
 */
export async function checkCodecs(
  gpu: WebGpuBackend,
  sizes: { readonly values: number; readonly exactCount: number },
): Promise<void> {
  for (const format of FORMATS) {
    const name = `decode ${format} (every code)`;
    await guarded(name, async () => {
      const size = format.startsWith('float8') ? 256 : 65536;
      const codes = size === 256 ? new Uint8Array(size) : new Uint16Array(size);
      for (let i = 0; i < size; i++) codes[i] = i;
      const out = new Float32Array(size);
      await gpu.decode(format, codes, out);
      record({
        kernel: name,
        checked: size,
        mismatches: countDiff(bitsOf(out), bitsOf(decode(format, codes))),
      });
    });
  }
  const n = sizes.values;
  const src = randomBits(n, 12345);
  for (const format of FORMATS) {
    for (const overflow of ['infinity', 'saturate'] as const) {
      for (const rule of [...RULES, 'stochastic'] as const) {
        const name = `encode ${format} ${rule} overflow=${overflow}`;
        await guarded(name, async () => {
          const [mine, reference]: [RoundingStrategy, RoundingStrategy] =
            rule === 'stochastic'
              ? [new ListedThresholds(7), new ListedThresholds(7)]
              : [{ rule }, { rule }];
          const out = format.startsWith('float8') ? new Uint8Array(n) : new Uint16Array(n);
          await gpu.encode(format, src, out, mine, overflow);
          const want = encode(format, src, { rounding: reference, overflow });
          record({ kernel: name, checked: n, mismatches: countDiff(out, want) });
        });
      }
    }
  }
  const engines = [
    createPhilox(0x0123456789abcdefn),
    createPhilox(0x55aa55aa12345678n, { rounds: 7 }),
    createEngine('pcg-hash', 0xfedcba9876543210n),
  ];
  for (const format of FORMATS) {
    for (const engine of engines) {
      const name = `encode ${format} stochastic, ${engine.name} bits in WGSL`;
      await guarded(name, async () => {
        // A counter whose low word wraps inside the array.
        const options = { random: { engine, counter: 2 ** 32 - 1001 } };
        const out = format.startsWith('float8') ? new Uint8Array(n) : new Uint16Array(n);
        await gpu.encodeCounterStochastic(format, src, out, options, 'saturate');
        const want = encode(format, src, { rounding: stochastic(options), overflow: 'saturate' });
        record({ kernel: name, checked: n, mismatches: countDiff(out, want) });
      });
    }
  }
  for (const op of ['div', 'sqrt'] as const) {
    const name =
      op === 'div'
        ? 'exact float32 division (div_exact)'
        : 'exact float32 square root (sqrt_exact)';
    await guarded(name, async () => {
      let mismatches = 0;
      const examples: string[] = [];
      const chunk = 1 << 22;
      for (let start = 0; start < sizes.exactCount; start += chunk) {
        const count = Math.min(chunk, sizes.exactCount - start);
        const { x, y } = exactOperands(count, start + (op === 'div' ? 11 : 13));
        const got = await runExact(gpu.device, op, x, y);
        const result = compareExact(x, y, got, referenceExact(op, x, y));
        mismatches += result.mismatches;
        examples.push(...result.examples);
      }
      record({
        kernel: name,
        checked: sizes.exactCount,
        mismatches,
        detail: examples.slice(0, 3).join('; ') || undefined,
      });
    });
  }
}

/**
 * Splits the cost of stochastic float16 encode into its parts: the threshold fill alone, the
 * encoder with thresholds that cost nothing, and both (run: node --conditions=@halfstep/source
 * --import tsx bench/profile-stochastic.ts).
 */
import { encode, float16, type RoundingStrategy } from '@halfstep/codecs';
import { createEngine } from '@halfstep/rng';
import { nearestEven, stochastic } from '../src/index.js';

const N = 1 << 20;
const data = new Float32Array(N);
for (let i = 0; i < N; i++) data[i] = 0.05 * Math.sin(i * 0.7) * Math.cos(i * 1.3);
const out = new Uint16Array(N);

function rate(name: string, fn: () => void): void {
  for (let i = 0; i < 20; i++) fn();
  const times: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t = performance.now();
    for (let i = 0; i < 10; i++) fn();
    times.push((performance.now() - t) / 10);
  }
  times.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(44)} ${(N / times[3]! / 1e3).toFixed(1).padStart(7)} M/s  ${times[3]!.toFixed(2)} ms`,
  );
}

const free: RoundingStrategy = { rule: 'stochastic', fillThresholds() {} };
const s8 = stochastic({ random: createEngine('xorshift128+', 1), bits: 8 });
const s13 = stochastic({ random: createEngine('xorshift128+', 1), bits: 13 });
const engine = createEngine('xorshift128+', 1);
const words = new Uint32Array(N / 4);
const thresholds = new Uint32Array(4096);

rate('nearest-even encode', () => encode(float16, data, { rounding: nearestEven, out }));
rate('stochastic encode, free thresholds', () => encode(float16, data, { rounding: free, out }));
rate('stochastic encode, 8 bits xorshift128+', () => encode(float16, data, { rounding: s8, out }));
rate('stochastic encode, 13 bits xorshift128+', () =>
  encode(float16, data, { rounding: s13, out }),
);
rate('xorshift128+ fillUint32, N/4 words', () => engine.fillUint32(words));
rate('fillThresholds 8 bits, N elements', () => {
  for (let i = 0; i < N; i += 4096) s8.fillThresholds(thresholds, float16);
});
rate('fillThresholds 13 bits, N elements', () => {
  for (let i = 0; i < N; i += 4096) s13.fillThresholds(thresholds, float16);
});

// What a branchless encoder loop would give (a copy of codecs' encode16Stochastic for float16,
// with `fraction > threshold ? 1 : 0` replaced by FBGEMM's add-and-truncate: adding
// (~threshold >>> (32 - shift)) to the re-biased bits carries into the kept bits exactly when
// fraction > threshold, because a normal float16 fraction has its low 32 - shift bits zero).
function branchless(
  src: Uint32Array,
  dst: Uint16Array,
  start: number,
  end: number,
  t: Uint32Array,
): void {
  const shift = 13;
  const rebias = 0x38000000;
  const lowest = 0x38800000;
  const span = 0x0f000000 - (1 << 13); // excludes the top half-step, whose carry would overflow
  for (let i = start; i < end; i++) {
    const x = src[i]!;
    const a = x & 0x7fffffff;
    if (a - lowest < span && a >= lowest) {
      dst[i] = ((x >>> 16) & 0x8000) | ((a - rebias + (~t[i - start]! >>> (32 - shift))) >>> shift);
    } else {
      dst[i] = 0; // (rare) slow path elided in this sketch
    }
  }
}
const bits32 = new Uint32Array(data.buffer);
rate('sketch: branchless encoder + 8-bit fill', () => {
  for (let s = 0; s < N; s += 4096) {
    s8.fillThresholds(thresholds, float16);
    branchless(bits32, out, s, s + 4096, thresholds);
  }
});
rate('sketch: branchless encoder, free thresholds', () => {
  for (let s = 0; s < N; s += 4096) branchless(bits32, out, s, s + 4096, thresholds);
});

/**
 * Measures the bias of stochastic rounding to float16 with k random bits per element, exactly:
 * each input is rounded 2^k times with a fake engine that supplies every k-bit value once, so the
 * share of round-ups is P(up) itself, not an estimate. Bias = p - P(up) in units of the gap, where
 * p is the input's fraction of the gap. Prints the README's table.
 * Run: node --conditions=@halfstep/source --import tsx bench/bias.ts
 */
import { encode, float16 } from '@halfstep/codecs';
import { stochastic, towardZero } from '../src/index.js';
import { EnumeratingEngine } from '../test/enumerating-engine.js';

function upProbability(x: number, k: number): number {
  const n = 2 ** k;
  const input = new Float32Array(n).fill(x);
  const lower = encode(float16, input.subarray(0, 1), { rounding: towardZero })[0];
  const codes = encode(float16, input, {
    rounding: stochastic({ random: new EnumeratingEngine(k), bits: k }),
  });
  let ups = 0;
  for (let i = 0; i < n; i++) if (codes[i] !== lower) ups++;
  return ups / n;
}

function measure(
  inputs: Float32Array,
  gapOf: (x: number) => number,
  k: number,
): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (const x of inputs) {
    const gap = gapOf(x);
    const p = (x - Math.floor(x / gap) * gap) / gap;
    const bias = p - upProbability(x, k);
    if (bias < 0) throw new Error(`negative bias at ${x}`);
    max = Math.max(max, bias);
    sum += bias;
  }
  return { max, mean: sum / inputs.length };
}

// Normal results: every one of the 2^13 patterns of the 13 dropped bits, in the binade [1, 2).
const normal = new Float32Array(8192);
for (let j = 0; j < 8192; j++) normal[j] = 1 + j * 2 ** -23;
// Subnormal results: 4096 float32 values log-uniform over [2^-24, 2^-14) (fixed LCG seed).
const subnormal = new Float32Array(4096);
let state = 1;
for (let i = 0; i < subnormal.length; i++) {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  subnormal[i] = 2 ** (-24 + (10 * state) / 2 ** 32);
}

console.log(
  '| bits k | bound 2^-k | normal: max | normal: mean | subnormal: max | subnormal: mean |',
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
const fmt = (v: number) => (v === 0 ? '0' : v.toExponential(3));
for (const k of [4, 6, 8, 10, 13]) {
  const n = measure(normal, () => 2 ** -10, k);
  const s = measure(subnormal, () => 2 ** -24, k);
  console.log(
    `| ${k} | ${fmt(2 ** -k)} | ${fmt(n.max)} | ${fmt(n.mean)} | ${fmt(s.max)} | ${fmt(s.mean)} |`,
  );
}

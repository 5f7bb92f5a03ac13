import { encode, float16, type RoundingStrategy } from '@halfstep/codecs';
import { createEngine, createPhilox } from '@halfstep/rng';
import {
  nearestAway,
  nearestEven,
  stochastic,
  toOdd,
  towardNegative,
  towardPositive,
  towardZero,
} from '@halfstep/rounding';
import type { BenchGroup, BenchRow } from '../harness.js';
import { measurePython, pythonTimer, shareWithPython } from '../python.js';

const N = 1 << 20;

/** N(0, 0.05^2) values, like freshly initialised embedding weights; fixed seed (LCG + Box-Muller). */
function embeddingLikeData(n: number): Float32Array {
  const out = new Float32Array(n);
  let state = 12345;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const t = 2 * Math.PI * uniform();
    out[i] = 0.05 * r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = 0.05 * r * Math.sin(t);
  }
  return out;
}

/** float32 -> float16 encode with every rounding mode, against numpy's astype(float16). */
export const roundingGroup: BenchGroup = {
  name: 'rounding',
  tables() {
    const data = embeddingLikeData(N);
    const out = new Uint16Array(N);
    const row = (name: string, rounding: RoundingStrategy): BenchRow => ({
      name,
      items: N,
      run: () => encode(float16, data, { rounding, out }),
    });
    const path = shareWithPython(data);
    return [
      {
        title: 'float32 -> float16 encode, 1 Mi values ~ N(0, 0.05^2) (embedding-like)',
        unit: 'values',
        baseline: 'nearestEven',
        rows: [
          row('nearestEven', nearestEven),
          row('nearestAway', nearestAway),
          row('towardZero', towardZero),
          row('towardPositive', towardPositive),
          row('towardNegative', towardNegative),
          row('toOdd', toOdd),
          row(
            'stochastic xorshift128+ 8 bits',
            stochastic({ random: createEngine('xorshift128+', 1), bits: 8 }),
          ),
          row(
            'stochastic xoshiro128++ 8 bits',
            stochastic({ random: createEngine('xoshiro128++', 1), bits: 8 }),
          ),
          row(
            'stochastic xorshift128+ 13 bits',
            stochastic({ random: createEngine('xorshift128+', 1), bits: 13 }),
          ),
          row(
            'stochastic philox4x32-10 13 bits (counter)',
            stochastic({ random: { engine: createPhilox(1), counter: 0 }, bits: 13 }),
          ),
          row(
            'stochastic pcg-hash 13 bits (counter)',
            stochastic({ random: { engine: createEngine('pcg-hash', 1), counter: 0 }, bits: 13 }),
          ),
          {
            name: 'numpy astype(float16) (nearest-even)',
            measure: () =>
              measurePython(
                `${pythonTimer}
import numpy as np
a = np.fromfile(${JSON.stringify(path)}, dtype=np.float32)
timed(lambda: a.astype(np.float16), a.size)
`,
              ),
          },
        ],
      },
    ];
  },
};

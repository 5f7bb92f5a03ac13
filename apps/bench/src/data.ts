/**
 * Benchmark inputs: the same seed gives the same data in every run, so that runs compare.
 */

/** A Float32Array of `n` normally distributed values with standard deviation `std` (Box-Muller
 * over a 32-bit LCG: fast, seeded, more than good enough to shape benchmark inputs). */
export function normalFloat32(n: number, std: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
  for (let i = 0; i < n; i += 2) {
    const radius = std * Math.sqrt(-2 * Math.log(uniform()));
    const angle = 2 * Math.PI * uniform();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < n) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}

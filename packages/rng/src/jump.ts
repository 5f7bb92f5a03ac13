/**
 * Applies a jump polynomial to the state of an F2-linear generator: with the polynomial
 * j(x) = sum of c_b x^b (bit b of the little-endian word list `polynomial`), the new state is
 * sum of c_b T^b s over GF(2), where T is one step. This is the loop of Vigna's reference
 * `jump()` functions; with j(x) = x^k mod (characteristic polynomial of T) it advances by k steps.
 *
 * `step` advances a state in place; runs 32 * polynomial.length steps (not a hot path).
 */
export function jumpState(
  state: readonly number[],
  polynomial: readonly number[],
  step: (state: Uint32Array) => void,
): number[] {
  const current = Uint32Array.from(state);
  const sum = new Uint32Array(state.length);
  for (const coefficients of polynomial) {
    for (let bit = 0; bit < 32; bit++) {
      if ((coefficients >>> bit) & 1) {
        for (let i = 0; i < sum.length; i++) sum[i]! ^= current[i]!;
      }
      step(current);
    }
  }
  return Array.from(sum);
}

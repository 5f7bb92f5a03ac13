/**
 * Polynomials over GF(2) as bigints (bit i = coefficient of x^i), used to derive and verify jump
 * polynomials independently of the engines' hard-coded constants.
 */

/** Berlekamp-Massey over GF(2): the minimal polynomial (as characteristic polynomial) of `bits`. */
export function minimalPolynomial(bits: readonly number[]): bigint {
  // Connection polynomial C(x) = 1 + c1 x + ... + cL x^L with s_n = sum c_i s_{n-i}.
  let c = 1n;
  let b = 1n;
  let length = 0;
  let m = 1;
  for (let n = 0; n < bits.length; n++) {
    let discrepancy = bits[n]!;
    for (let i = 1; i <= length; i++) {
      if ((c >> BigInt(i)) & 1n) discrepancy ^= bits[n - i]!;
    }
    if (discrepancy === 0) {
      m++;
    } else if (2 * length <= n) {
      const previous = c;
      c ^= b << BigInt(m);
      length = n + 1 - length;
      b = previous;
      m = 1;
    } else {
      c ^= b << BigInt(m);
      m++;
    }
  }
  // The characteristic polynomial is the reciprocal x^L C(1/x).
  let p = 0n;
  for (let i = 0; i <= length; i++) {
    if ((c >> BigInt(i)) & 1n) p |= 1n << BigInt(length - i);
  }
  return p;
}

function degree(p: bigint): number {
  return p.toString(2).length - 1;
}

/** a * b mod p over GF(2). */
export function mulMod(a: bigint, b: bigint, p: bigint): bigint {
  let product = 0n;
  for (let shift = 0n; b >> shift; shift++) {
    if ((b >> shift) & 1n) product ^= a << shift;
  }
  const d = degree(p);
  for (let i = degree(product); i >= d; i--) {
    if ((product >> BigInt(i)) & 1n) product ^= p << BigInt(i - d);
  }
  return product;
}

/** x^(2^k) mod p over GF(2), by k squarings. */
export function xPowTwoPowMod(k: number, p: bigint): bigint {
  let r = mulMod(2n, 1n, p);
  for (let i = 0; i < k; i++) r = mulMod(r, r, p);
  return r;
}

/** x^n mod p over GF(2), by square and multiply. */
export function xPowMod(n: bigint, p: bigint): bigint {
  let result = mulMod(1n, 1n, p);
  let base = mulMod(2n, 1n, p);
  for (; n > 0n; n >>= 1n) {
    if (n & 1n) result = mulMod(result, base, p);
    base = mulMod(base, base, p);
  }
  return result;
}

/** A polynomial of degree < 32 * count as `count` little-endian 32-bit words. */
export function toWords(p: bigint, count: number): number[] {
  const words: number[] = [];
  for (let i = 0; i < count; i++) words.push(Number((p >> BigInt(32 * i)) & 0xffffffffn));
  return words;
}

/** Bit 0 of state word 0 after each of `count` steps: a linear functional of the state sequence. */
export function stateBits(
  state: readonly number[],
  step: (s: Uint32Array) => void,
  count: number,
): number[] {
  const s = Uint32Array.from(state);
  const bits: number[] = [];
  for (let i = 0; i < count; i++) {
    bits.push(s[0]! & 1);
    step(s);
  }
  return bits;
}

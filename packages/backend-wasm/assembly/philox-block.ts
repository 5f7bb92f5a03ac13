// The Philox4x32-R block function, shared by the bulk fill and the per-row rounding bits.

/** Philox4x32 multipliers. */
export const M0: u32 = 0xd2511f53;
export const M1: u32 = 0xcd9e8d57;

// The last block's four output words.
export let b0: u32 = 0;
export let b1: u32 = 0;
export let b2: u32 = 0;
export let b3: u32 = 0;

/**
 * Runs Philox4x32 on counter (c0, c1, c2, c3) with the key schedule at `schedule` (2 u32 per
 * round) for `rounds` rounds; the output lands in b0..b3.
 */
// @ts-ignore: decorator
@inline
export function philoxBlock(c0: u32, c1: u32, c2: u32, c3: u32, schedule: usize, rounds: i32): void {
  for (let r = 0; r < rounds; r++) {
    const p0 = <u64>M0 * <u64>c0;
    const p1 = <u64>M1 * <u64>c2;
    const k = schedule + (<usize>r << 3);
    c0 = (<u32>(p1 >>> 32)) ^ c1 ^ load<u32>(k);
    c1 = <u32>p1;
    c2 = (<u32>(p0 >>> 32)) ^ c3 ^ load<u32>(k, 4);
    c3 = <u32>p0;
  }
  b0 = c0;
  b1 = c1;
  b2 = c2;
  b3 = c3;
}

/** Transposes four blocks' lanes (xj = word j of blocks 0..3) into 16 consecutive words. */
// @ts-ignore: decorator
@inline
export function storeBlocks(p: usize, x0: v128, x1: v128, x2: v128, x3: v128): void {
  const t0 = v128.shuffle<i32>(x0, x1, 0, 4, 1, 5);
  const t1 = v128.shuffle<i32>(x2, x3, 0, 4, 1, 5);
  const t2 = v128.shuffle<i32>(x0, x1, 2, 6, 3, 7);
  const t3 = v128.shuffle<i32>(x2, x3, 2, 6, 3, 7);
  v128.store(p, v128.shuffle<i64>(t0, t1, 0, 2));
  v128.store(p, v128.shuffle<i64>(t0, t1, 1, 3), 16);
  v128.store(p, v128.shuffle<i64>(t2, t3, 0, 2), 32);
  v128.store(p, v128.shuffle<i64>(t2, t3, 1, 3), 48);
}


/** A deterministic LCG for test data. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random bags: `bags` bags of `size` indices in [0, rows). */
export function batch(rnd: () => number, rows: number, bags: number, size: number) {
  const indices = Int32Array.from({ length: bags * size }, () => Math.floor(rnd() * rows));
  const offsets = Int32Array.from({ length: bags }, (_, b) => b * size);
  return { indices, offsets };
}

// Dense kernels of the MLP, ports of @halfstep/backend-js' dense.ts. Every output element's
// float32 operations happen in the reference's order (SIMD runs several elements side by side,
// never reassociates one element's sum), so the results are bit-identical.

/**
 * Stores C = alpha * acc (beta = 0) or alpha * acc + beta * C for 4 consecutive columns.
 */
// @ts-ignore: decorator
@inline
function finish4(cp: usize, acc: v128, alpha: f32, beta: f32): void {
  const r = f32x4.mul(f32x4.splat(alpha), acc);
  if (beta == 0) v128.store(cp, r);
  else v128.store(cp, f32x4.add(r, f32x4.mul(f32x4.splat(beta), v128.load(cp))));
}

// @ts-ignore: decorator
@inline
function finish1(cp: usize, acc: f32, alpha: f32, beta: f32): void {
  if (beta == 0) store<f32>(cp, alpha * acc);
  else store<f32>(cp, alpha * acc + beta * load<f32>(cp));
}

/**
 * C = alpha * op(A) op(B) + beta * C, row-major float32. For each element:
 * acc = +0; for p ascending: acc = acc + a_ip * b_pj (each rounded, no FMA); then the finish.
 * With `transB`, B is first packed into `packed` (k x n). `acc` is scratch of n float32.
 */
export function matmul(
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  b: usize,
  c: usize,
  transA: bool,
  transB: bool,
  alpha: f32,
  beta: f32,
  packed: usize,
  accRow: usize,
): void {
  const N = <usize>n;
  const K = <usize>k;
  const M = <usize>m;
  if (transB) {
    for (let j: usize = 0; j < N; j++) {
      for (let p: usize = 0; p < K; p++) store<f32>(packed + ((p * N + j) << 2), load<f32>(b + ((j * K + p) << 2)));
    }
    b = packed;
  }
  // a_ip's address: A + (i * aRow + p * aCol) * 4.
  const aRow: usize = transA ? 1 : K;
  const aCol: usize = transA ? M : 1;
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= M; i += 4) {
      let j: usize = 0;
      for (; j + 8 <= N; j += 8) {
        let c00 = f32x4.splat(0);
        let c01 = f32x4.splat(0);
        let c10 = f32x4.splat(0);
        let c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0);
        let c21 = f32x4.splat(0);
        let c30 = f32x4.splat(0);
        let c31 = f32x4.splat(0);
        let ap = a + ((i * aRow) << 2);
        let bp = b + (j << 2);
        const aStep = aCol << 2;
        const aNext = aRow << 2;
        const bStep = N << 2;
        for (let p: usize = 0; p < K; p++) {
          const x0 = v128.load(bp);
          const x1 = v128.load(bp, 16);
          const a0 = f32x4.splat(load<f32>(ap));
          const a1 = f32x4.splat(load<f32>(ap + aNext));
          const a2 = f32x4.splat(load<f32>(ap + 2 * aNext));
          const a3 = f32x4.splat(load<f32>(ap + 3 * aNext));
          c00 = f32x4.add(c00, f32x4.mul(a0, x0));
          c01 = f32x4.add(c01, f32x4.mul(a0, x1));
          c10 = f32x4.add(c10, f32x4.mul(a1, x0));
          c11 = f32x4.add(c11, f32x4.mul(a1, x1));
          c20 = f32x4.add(c20, f32x4.mul(a2, x0));
          c21 = f32x4.add(c21, f32x4.mul(a2, x1));
          c30 = f32x4.add(c30, f32x4.mul(a3, x0));
          c31 = f32x4.add(c31, f32x4.mul(a3, x1));
          ap += aStep;
          bp += bStep;
        }
        const cp = c + ((i * N + j) << 2);
        finish4(cp, c00, alpha, beta);
        finish4(cp + 16, c01, alpha, beta);
        finish4(cp + (N << 2), c10, alpha, beta);
        finish4(cp + (N << 2) + 16, c11, alpha, beta);
        finish4(cp + (N << 3), c20, alpha, beta);
        finish4(cp + (N << 3) + 16, c21, alpha, beta);
        finish4(cp + 12 * N, c30, alpha, beta);
        finish4(cp + 12 * N + 16, c31, alpha, beta);
      }
      // Remaining columns of these four rows, one row at a time below.
      if (j < N) {
        for (let r: usize = 0; r < 4; r++) matmulRowTail(i + r, j, N, K, a, aRow, aCol, b, c, alpha, beta);
      }
    }
  }
  for (; i < M; i++) {
    if (ASC_FEATURE_SIMD) {
      matmulRowTail(i, 0, N, K, a, aRow, aCol, b, c, alpha, beta);
      continue;
    }
    // Scalar build: the reference's loop, an accumulator row at a time.
    memory.fill(accRow, 0, N << 2);
    for (let p: usize = 0; p < K; p++) {
      const av = load<f32>(a + ((i * aRow + p * aCol) << 2));
      const bo = b + ((p * N) << 2);
      for (let j: usize = 0; j < N; j++) {
        const q = accRow + (j << 2);
        store<f32>(q, load<f32>(q) + av * load<f32>(bo + (j << 2)));
      }
    }
    for (let j: usize = 0; j < N; j++) finish1(c + ((i * N + j) << 2), load<f32>(accRow + (j << 2)), alpha, beta);
  }
}

/** Row i of C from column j0 on (SIMD build): 4 columns per vector, then single columns. */
function matmulRowTail(
  i: usize,
  j0: usize,
  N: usize,
  K: usize,
  a: usize,
  aRow: usize,
  aCol: usize,
  b: usize,
  c: usize,
  alpha: f32,
  beta: f32,
): void {
  let j = j0;
  for (; j + 4 <= N; j += 4) {
    let acc = f32x4.splat(0);
    for (let p: usize = 0; p < K; p++) {
      const av = f32x4.splat(load<f32>(a + ((i * aRow + p * aCol) << 2)));
      acc = f32x4.add(acc, f32x4.mul(av, v128.load(b + ((p * N + j) << 2))));
    }
    finish4(c + ((i * N + j) << 2), acc, alpha, beta);
  }
  for (; j < N; j++) {
    let acc: f32 = 0;
    for (let p: usize = 0; p < K; p++) {
      acc = acc + load<f32>(a + ((i * aRow + p * aCol) << 2)) * load<f32>(b + ((p * N + j) << 2));
    }
    finish1(c + ((i * N + j) << 2), acc, alpha, beta);
  }
}

/** x[r, c] = x[r, c] + bias[c] for a rows x cols x. */
export function addBias(x: usize, bias: usize, rows: i32, cols: i32): void {
  const C = <usize>cols;
  for (let r: usize = 0; r < <usize>rows; r++) {
    const o = x + ((r * C) << 2);
    let c: usize = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) v128.store(o + (c << 2), f32x4.add(v128.load(o + (c << 2)), v128.load(bias + (c << 2))));
    }
    for (; c < C; c++) store<f32>(o + (c << 2), load<f32>(o + (c << 2)) + load<f32>(bias + (c << 2)));
  }
}

/** out[i] = x[i] > 0 ? x[i] : +0 (NaN and -0 give +0). */
export function relu(x: usize, out: usize, n: i32): void {
  let i: usize = 0;
  const N = <usize>n;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= N; i += 4) {
      const v = v128.load(x + (i << 2));
      v128.store(out + (i << 2), v128.and(v, f32x4.gt(v, zero)));
    }
  }
  for (; i < N; i++) {
    const v = load<f32>(x + (i << 2));
    store<f32>(out + (i << 2), v > 0 ? v : 0);
  }
}

/** out[i] = x[i] > 0 ? grad[i] : +0. */
export function reluBackward(grad: usize, x: usize, out: usize, n: i32): void {
  let i: usize = 0;
  const N = <usize>n;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= N; i += 4) {
      const mask = f32x4.gt(v128.load(x + (i << 2)), zero);
      v128.store(out + (i << 2), v128.and(v128.load(grad + (i << 2)), mask));
    }
  }
  for (; i < N; i++) {
    store<f32>(out + (i << 2), load<f32>(x + (i << 2)) > 0 ? load<f32>(grad + (i << 2)) : 0);
  }
}

/** out[c] = sum over r ascending of x[r, c], from +0. */
export function sumRows(x: usize, rows: i32, cols: i32, out: usize): void {
  const C = <usize>cols;
  memory.fill(out, 0, C << 2);
  for (let r: usize = 0; r < <usize>rows; r++) {
    const o = x + ((r * C) << 2);
    let c: usize = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) v128.store(out + (c << 2), f32x4.add(v128.load(out + (c << 2)), v128.load(o + (c << 2))));
    }
    for (; c < C; c++) store<f32>(out + (c << 2), load<f32>(out + (c << 2)) + load<f32>(o + (c << 2)));
  }
}

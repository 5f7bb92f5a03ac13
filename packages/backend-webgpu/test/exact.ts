import { GpuRunner } from '../src/gpu.js';
import { EXACT_WGSL } from '../src/shaders/exact.js';

/** A kernel applying `op` (div_exact or sqrt_exact) to float32 bit patterns x (and y). */
function exactKernel(op: 'div' | 'sqrt'): string {
  const call =
    op === 'div'
      ? 'div_exact(bitcast<f32>(x[i]), bitcast<f32>(y[i]))'
      : 'sqrt_exact(bitcast<f32>(x[i]))';
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> n: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<u32>;
${op === 'div' ? '@group(0) @binding(2) var<storage, read> y: array<u32>;' : ''}
@group(0) @binding(${op === 'div' ? 3 : 2}) var<storage, read_write> out: array<u32>;
${EXACT_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.y * groups.x * 64u + gid.x;
  if (i >= n[0]) { return; }
  out[i] = bitcast<u32>(${call});
}
`;
}

/**
 * Runs `div_exact(x[i], y[i])` (or `sqrt_exact(x[i])`, y ignored) on the GPU over float32 bit
 * patterns and returns the result bits.
 */
export async function runExact(
  device: GPUDevice,
  op: 'div' | 'sqrt',
  x: Uint32Array,
  y: Uint32Array,
): Promise<Uint32Array> {
  const r = new GpuRunner(device);
  try {
    const dst = r.output(x.byteLength);
    r.dispatch(
      `exact-${op}`,
      () => exactKernel(op),
      op === 'div'
        ? [r.input(Uint32Array.of(x.length)), r.input(x), r.input(y), dst]
        : [r.input(Uint32Array.of(x.length)), r.input(x), dst],
      x.length,
    );
    const staging = r.copyOut(dst, x.byteLength);
    await r.submit();
    return new Uint32Array(await r.read(staging, x.byteLength));
  } finally {
    r.destroy();
  }
}

/** The float32 bits JavaScript gives for x / y (or sqrt(x)), rounded once to float32. */
export function referenceExact(op: 'div' | 'sqrt', x: Uint32Array, y: Uint32Array): Uint32Array {
  const fx = new Float32Array(x.buffer, x.byteOffset, x.length);
  const fy = new Float32Array(y.buffer, y.byteOffset, y.length);
  const out = new Float32Array(x.length);
  if (op === 'div') for (let i = 0; i < x.length; i++) out[i] = fx[i]! / fy[i]!;
  else for (let i = 0; i < x.length; i++) out[i] = Math.sqrt(fx[i]!);
  return new Uint32Array(out.buffer);
}

/**
 * Mismatches between GPU and reference bits; two NaNs match whatever their payloads (JavaScript
 * does not specify them). Returns the count and up to 5 examples.
 */
export function compareExact(
  x: Uint32Array,
  y: Uint32Array,
  got: Uint32Array,
  want: Uint32Array,
): { mismatches: number; examples: string[] } {
  let mismatches = 0;
  const examples: string[] = [];
  const hex = (v: number) => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (g === w) continue;
    if ((g & 0x7fffffff) > 0x7f800000 && (w & 0x7fffffff) > 0x7f800000) continue;
    mismatches++;
    if (examples.length < 5)
      examples.push(`${hex(x[i]!)}, ${hex(y[i]!)}: got ${hex(g)}, want ${hex(w)}`);
  }
  return { mismatches, examples };
}

/**
 * Test operands: random bit patterns of every class, then operand pairs whose quotients land in
 * the subnormal range, near overflow, or on exact halfway cases (divisions by powers of two of
 * odd significands), with edge values (zeros, infinities, NaN, the smallest and largest
 * subnormals and normals) mixed in.
 */
export function exactOperands(n: number, seed: number): { x: Uint32Array; y: Uint32Array } {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    let t = s ^ (s >>> 15);
    t = Math.imul(t, 0x2c1b3c6d);
    return (t ^ (t >>> 12)) >>> 0;
  };
  const edges = [
    0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0x00000001, 0x80000001,
    0x007fffff, 0x00800000, 0x00800001, 0x7f7fffff, 0x3f800000, 0x3f800001, 0x3f7fffff, 0x40000000,
    0x00400000, 0x00000003, 0x34000000, 0x4b800000,
  ];
  const x = new Uint32Array(n);
  const y = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const kind = i % 6;
    const a = next();
    const b = next();
    if (i < edges.length * edges.length) {
      x[i] = edges[i % edges.length]!;
      y[i] = edges[Math.floor(i / edges.length)]!;
    } else if (kind === 0) {
      x[i] = a;
      y[i] = b;
    } else if (kind === 1) {
      // Close exponents: quotients near 1, all significand patterns.
      x[i] = (a & 0x807fffff) | ((120 + (b % 16)) << 23);
      y[i] = (b & 0x807fffff) | ((120 + (a % 16)) << 23);
    } else if (kind === 2) {
      // Quotients in and around the subnormal range (and overflow for the reverse).
      x[i] = (a & 0x807fffff) | ((1 + (b % 40)) << 23);
      y[i] = (b & 0x807fffff) | ((100 + (a % 60)) << 23);
    } else if (kind === 3) {
      // Power-of-two divisors: exact quotients, halfway cases when they become subnormal.
      x[i] = (a & 0x807fffff) | ((b % 60) << 23);
      y[i] = (b & 0x80000000) | ((127 + (a % 40)) << 23);
    } else if (kind === 4) {
      // Subnormal operands.
      x[i] = a & 0x807fffff;
      y[i] = b % 3 === 0 ? b & 0x807fffff : (b & 0x807fffff) | ((b % 254) << 23);
    } else {
      // Large over small: overflow to infinity.
      x[i] = (a & 0x807fffff) | ((200 + (b % 55)) << 23);
      y[i] = (b & 0x807fffff) | ((a % 100) << 23);
    }
  }
  return { x, y };
}

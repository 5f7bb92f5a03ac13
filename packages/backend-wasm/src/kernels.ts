import { Allocator } from './memory.js';
import {
  SCALAR_WASM_BASE64,
  SIMD_THREADS_WASM_BASE64,
  SIMD_WASM_BASE64,
} from './wasm.generated.js';
import { type WasmMemory, type WasmModule, wasmApi } from './wasm-api.js';

/** The functions the AssemblyScript module exports (see assembly/*.ts). Addresses are bytes. */
export interface KernelExports {
  heapBase(): number;
  simd(): number;
  setEncoder(
    normalShift: number,
    rebias: number,
    minNormalBits: number,
    subnormalShiftBase: number,
    maxFiniteCode: number,
    overflowCode: number,
    signShift: number,
    signMask: number,
    nanCode: number,
    keepsPayload: number,
  ): void;
  encodeOne(x: number, rule: number, threshold: number): number;
  encode(src: number, dst: number, n: number, wide: number, rule: number, thresholds: number): void;
  decodeTable(src: number, dst: number, n: number, wide: number, table: number): void;
  decodeBfloat16(src: number, dst: number, n: number): void;
  decodeFloat16(src: number, dst: number, n: number, table: number): void;
  philoxSchedule(k0: number, k1: number, rounds: number, schedule: number): void;
  philoxFill(
    schedule: number,
    rounds: number,
    c0: number,
    c1: number,
    c2: number,
    c3: number,
    lane: number,
    out: number,
    n: number,
  ): void;
  xorshift128PlusFill(state: number, out: number, n: number): void;
  /** Builds the stream engines' jump tables at `table` (16384 bytes) and enables the SIMD fills. */
  initJumpTable(table: number): void;
  xoshiro128PlusPlusFill(state: number, out: number, n: number): void;
  thresholdsFromWords(words: number, bits: number, out: number, count: number): void;
  loadEncoder(address: number): void;
  encodeStochasticStream(
    src: number,
    dst: number,
    n: number,
    wide: number,
    engine: number,
    state: number,
    bits: number,
    words: number,
    thresholds: number,
  ): number;
  embeddingBagForward(
    weights: number,
    kind: number,
    lut: number,
    dim: number,
    indices: number,
    n: number,
    offsets: number,
    bags: number,
    psw: number,
    hasPsw: number,
    mean: number,
    out: number,
  ): void;
  applyUpdate(params: number): void;
  /** Restores the rows an `applyUpdate` block stored from its undo journal (idempotent). */
  rollbackUpdate(params: number): void;
  allFinite(values: number, n: number): number;
  checkBag(indices: number, n: number, offsets: number, bags: number, rows: number): number;
  aggregate(
    indices: number,
    n: number,
    offsets: number,
    bags: number,
    grad: number,
    dim: number,
    psw: number,
    hasPsw: number,
    mean: number,
    keys: number,
    tmp: number,
    bagOf: number,
    outRows: number,
    outGrads: number,
    outBad: number,
  ): number;
  aggregateBadCount(): number;
  aggregateFirstBadRow(): number;
  matmul(
    m: number,
    n: number,
    k: number,
    a: number,
    b: number,
    c: number,
    transA: number,
    transB: number,
    alpha: number,
    beta: number,
    packed: number,
    acc: number,
  ): void;
  addBias(x: number, bias: number, rows: number, cols: number): void;
  relu(x: number, out: number, n: number): void;
  reluBackward(grad: number, x: number, out: number, n: number): void;
  sumRows(x: number, rows: number, cols: number, out: number): void;
}

/** Which binary runs: the SIMD build when the platform validates it, else the scalar one. */
export type WasmBuild = 'simd' | 'scalar';

/** An instantiated kernel module with its memory and allocator. */
export interface Kernels {
  readonly build: WasmBuild;
  /** Why the SIMD build was not used (absent when it was). */
  readonly simdRejected?: string;
  readonly exports: KernelExports;
  /** The compiled module (workers instantiate it on the same memory). */
  readonly module: WasmModule;
  /** Whether the memory is shared (a `shared: true` load, for worker threads). */
  readonly shared: boolean;
  readonly memory: WasmMemory;
  readonly allocator: Allocator;
  /** Views on the current memory buffer (recreated after the memory grows). */
  u8(): Uint8Array;
  u16(): Uint16Array;
  u32(): Uint32Array;
  i32(): Int32Array;
  f32(): Float32Array;
}

/** Bytes of the stream engines' jump tables (xorshift128+ then xoshiro128++, 8192 each). */
const JUMP_TABLE_BYTES = 16384;

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Options of {@link loadKernels}. */
export interface LoadOptions {
  /** Force a build: 'scalar' to test the fallback. Default: SIMD when `WebAssembly.validate` accepts it. */
  readonly build?: WasmBuild;
  /**
   * Shared memory (a `SharedArrayBuffer`) and the SIMD + threads build, so that worker threads
   * can run kernels on the same tables. Needs WASM SIMD and threads.
   */
  readonly shared?: boolean;
}

/** The SIMD binary when this platform validates it, else the scalar one, and why. */
export function chooseBuild(options: LoadOptions = {}): {
  build: WasmBuild;
  bytes: Uint8Array<ArrayBuffer>;
  simdRejected?: string;
} {
  if (options.build === 'scalar') {
    return {
      build: 'scalar',
      bytes: fromBase64(SCALAR_WASM_BASE64),
      simdRejected: 'scalar build requested',
    };
  }
  const simd = fromBase64(SIMD_WASM_BASE64);
  if (wasmApi()?.validate(simd)) return { build: 'simd', bytes: simd };
  if (options.build === 'simd')
    throw new Error('the WASM SIMD build does not validate on this platform');
  return {
    build: 'scalar',
    bytes: fromBase64(SCALAR_WASM_BASE64),
    simdRejected: 'WebAssembly.validate rejected the SIMD build (no WASM SIMD)',
  };
}

/**
 * Compiles and instantiates the kernels in a fresh memory (1 page, growing up to 4 GiB).
 * Each call gives an independent instance; a backend owns one.
 * @throws Error when WebAssembly is unavailable or neither build instantiates.
 */
export async function loadKernels(options: LoadOptions = {}): Promise<Kernels> {
  const api = wasmApi();
  if (api === undefined) throw new Error('WebAssembly is not available on this platform');
  const shared = options.shared === true;
  let chosen = chooseBuild(options);
  if (shared) {
    const bytes = fromBase64(SIMD_THREADS_WASM_BASE64);
    if (options.build === 'scalar' || !api.validate(bytes)) {
      throw new Error('shared memory needs the SIMD + threads build, which this platform rejects');
    }
    chosen = { build: 'simd', bytes };
  }
  const memory = new api.Memory({
    initial: 1,
    maximum: 65536,
    ...(shared ? { shared: true } : {}),
  });
  const module = await api.compile(chosen.bytes);
  const instance = await api.instantiate(module, {
    env: {
      memory,
      abort() {
        throw new Error('wasm kernel aborted');
      },
    },
  });
  const exports = instance.exports as unknown as KernelExports;
  const allocator = new Allocator(memory, exports.heapBase());
  // The stream engines' jump tables (SIMD fills: several streams side by side, same words).
  if (chosen.build === 'simd')
    exports.initJumpTable(allocator.alloc(JUMP_TABLE_BYTES, 'jump table'));
  let buffer: ArrayBuffer | undefined;
  let current = memory.buffer;
  let u8 = new Uint8Array(0);
  let u16 = new Uint16Array(0);
  let u32 = new Uint32Array(0);
  let i32 = new Int32Array(0);
  let f32 = new Float32Array(0);
  const refresh = () => {
    current = memory.buffer;
    if (current !== buffer) {
      buffer = current;
      u8 = new Uint8Array(current);
      u16 = new Uint16Array(current);
      u32 = new Uint32Array(current);
      i32 = new Int32Array(current);
      f32 = new Float32Array(current);
    }
  };
  const kernels: Kernels = {
    build: chosen.build,
    exports,
    module,
    shared,
    memory,
    allocator,
    u8() {
      refresh();
      return u8;
    },
    u16() {
      refresh();
      return u16;
    },
    u32() {
      refresh();
      return u32;
    },
    i32() {
      refresh();
      return i32;
    },
    f32() {
      refresh();
      return f32;
    },
  };
  return chosen.simdRejected === undefined
    ? kernels
    : { ...kernels, simdRejected: chosen.simdRejected };
}

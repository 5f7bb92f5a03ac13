// The parameter blocks of the WGSL kernels, declared once: the TypeScript side writes a block
// through its layout, and each kernel's source takes its word numbers from the layout's
// generated constants (`layout.wgsl(prefix)`, `kernelWgsl`), so a word cannot mean one thing on
// the host and another in the shader. Most kernels' blocks start with the format words
// (`FORMAT_LAYOUT`, read by `FORMAT_WGSL`'s functions), then the kernel's own.
import { defineParamLayout, type ParamLayout, type ParamType } from '@halfstep/backend';
import { encoderConstants, type FloatFormat } from '@halfstep/codecs';

/** Words of a kernel's parameter array: 16 format words, then the kernel's own. */
export const PARAM_WORDS = 32;

const FORMAT_FIELDS = [
  ['normalShift', 'u32'],
  ['rebias', 'u32'],
  ['minNormal', 'u32'],
  ['subnormalBase', 'u32'],
  ['maxFinite', 'u32'],
  ['overflow', 'u32'],
  ['signShift', 'u32'],
  ['signMask', 'u32'],
  ['nan', 'u32'],
  ['keepsPayload', 'u32'],
  ['bits', 'u32'],
  ['mantissa', 'u32'],
  ['bias', 'u32'],
  ['bfloat', 'u32'],
  /** Always 0 (free). */
  ['unused', 'u32'],
  /** Always 0: `fenced` xors a product with it, which the compiler cannot see through. */
  ['fence', 'u32'],
] as const;

/**
 * The format words 0..15 of a kernel's parameters (prefix `F`): the encoder constants of
 * `@halfstep/codecs` for a format and overflow mode, its shape, and the fence word.
 */
export const FORMAT_LAYOUT = defineParamLayout('format', FORMAT_FIELDS, { words: 16 });

/** The names of the format words. */
export type FormatWord = (typeof FORMAT_FIELDS)[number][0];

/** The values of the format words. */
export type FormatValues = Readonly<Record<FormatWord, number>>;

/**
 * The format words of `format` (null: float32 storage, 32-bit words and nothing else) with
 * overflow to infinity, or to the largest finite code when `saturate`.
 */
export function formatValues(format: FloatFormat | null, saturate: boolean): FormatValues {
  if (format === null) return { ...NO_FORMAT, bits: 32 };
  const e = encoderConstants(format, saturate);
  return {
    normalShift: e.normalShift,
    rebias: e.rebias,
    minNormal: e.minNormalBits,
    subnormalBase: e.subnormalShiftBase,
    maxFinite: e.maxFiniteCode,
    overflow: e.overflowCode,
    signShift: e.signShift,
    signMask: e.signMask,
    nan: e.nanCode,
    keepsPayload: e.keepsPayload ? 1 : 0,
    bits: format.bits,
    mantissa: format.mantissaBits,
    bias: format.bias,
    bfloat: format.name === 'bfloat16' ? 1 : 0,
    unused: 0,
    fence: 0,
  };
}

/** All format words 0: the blocks of kernels that read no format (only the fence word). */
export const NO_FORMAT: FormatValues = Object.freeze(
  Object.fromEntries(FORMAT_LAYOUT.names.map((name) => [name, 0])) as Record<FormatWord, number>,
);

/** A kernel's block: the format words 0..15, then `fields` from word 16; `words` in all. */
function kernelLayout<const Name extends string>(
  kernel: string,
  fields: ReadonlyArray<readonly [Name, ParamType]>,
  words = PARAM_WORDS,
): ParamLayout<FormatWord | Name> {
  // The kernel's own words start right after the format block (word 16): it declares them all.
  if (FORMAT_LAYOUT.names.length !== FORMAT_LAYOUT.words) {
    throw new Error(`${kernel}: the format words do not fill their ${FORMAT_LAYOUT.words} words`);
  }
  return defineParamLayout<FormatWord | Name>(kernel, [...FORMAT_FIELDS, ...fields], { words });
}

/**
 * The WGSL constants of a kernel's own words (`layout.wgsl(prefix)` without the format words,
 * which `FORMAT_WGSL` declares as `F_*`).
 */
export function kernelWgsl(layout: ParamLayout<string>, prefix: string): string {
  const own = new Set<string>(FORMAT_LAYOUT.names);
  const lines = layout.wgsl(prefix).split('\n');
  return lines.filter((_, i) => !own.has(layout.names[i] as string)).join('\n');
}

/**
 * Bulk encode (`ENCODE_WGSL`, prefix `E`): `encode_one(src[i], rule, t)`; `source` says where a
 * stochastic threshold t comes from (0 none, 1 `th[i]`, 2 Philox of `rounds` rounds, 3 pcg-hash)
 * with `randomBits` bits per element, `perWord` elements per word and the key. Philox:
 * `counter0..3` the counter's block, `lane` its lane; pcg-hash: `counter0` the counter's low
 * word, `counter1` and `counter2` the salts of its high word and of the next one.
 */
export const ENCODE_LAYOUT = kernelLayout('encode', [
  ['count', 'u32'],
  ['rule', 'u32'],
  ['source', 'u32'],
  ['randomBits', 'u32'],
  ['perWord', 'u32'],
  ['key0', 'u32'],
  ['key1', 'u32'],
  ['rounds', 'u32'],
  ['counter0', 'u32'],
  ['counter1', 'u32'],
  ['counter2', 'u32'],
  ['counter3', 'u32'],
  ['lane', 'u32'],
]);

/** The encode words of the stochastic threshold sources, all 0 (no source: deterministic rules). */
export const NO_COUNTER = Object.freeze({
  source: 0,
  randomBits: 0,
  perWord: 0,
  key0: 0,
  key1: 0,
  rounds: 0,
  counter0: 0,
  counter1: 0,
  counter2: 0,
  counter3: 0,
  lane: 0,
});

/** Bulk decode (`DECODE_WGSL`, prefix `D`). */
export const DECODE_LAYOUT = kernelLayout('decode', [['count', 'u32']]);

/** Embedding-bag forward (`FORWARD_WGSL`, prefix `B`). */
export const FORWARD_LAYOUT = kernelLayout('forward', [
  ['bags', 'u32'],
  ['dim', 'u32'],
  ['lookups', 'u32'],
  /** 1: per-sample weights. */
  ['weighted', 'u32'],
  /** 1: mean pooling. */
  ['mean', 'u32'],
]);

/** Row scatter and gather (`SCATTER_WGSL`, `GATHER_WGSL`, prefix `R`). */
export const ROWS_LAYOUT = kernelLayout('rows', [
  ['rows', 'u32'],
  ['dim', 'u32'],
]);

/** The aggregation of a backward's gradient per distinct row (`AGGREGATE_WGSL`, prefix `A`). */
export const AGGREGATE_LAYOUT = kernelLayout('aggregate', [
  /** Distinct rows. */
  ['count', 'u32'],
  ['dim', 'u32'],
  /** 0: the plain gradient; 1: times the entry's factor (per-sample weight); 2: divided by it (bag size). */
  ['mode', 'u32'],
  /** Words per entry: 1 (bag) or 2 (bag, factor bits). */
  ['stride', 'u32'],
  /** 1 under the 'error' non-finite policy, 0 under 'skip-rows'. */
  ['policyError', 'u32'],
  /** The table's first word in the status buffer (see `STATUS`). */
  ['statusBase', 'u32'],
]);

/** The finiteness check of a gradient (`FINITE_WGSL`, prefix `N`; no format words). */
export const FINITE_LAYOUT = defineParamLayout('finite', [
  ['count', 'u32'],
  /** The update's first status word. */
  ['statusBase', 'u32'],
  /** 0: check every value; 1: copy the first bad value. */
  ['pass', 'u32'],
]);

/**
 * The fused update's two passes (`updateSource` and `storeSource`, prefix `U`): the table and
 * its random bits, the policy, then the optimizer's float32 constants (`@halfstep/optim`'s
 * `kernelConstants`).
 */
export const UPDATE_LAYOUT = kernelLayout(
  'update',
  [
    ['count', 'u32'],
    ['dim', 'u32'],
    ['step', 'u32'],
    ['weightDomain', 'u32'],
    ['key0', 'u32'],
    ['key1', 'u32'],
    ['weightStochastic', 'u32'],
    ['weightRandomBits', 'u32'],
    ['stateDomain', 'u32'],
    ['stateRandomBits', 'u32'],
    ['stateSize', 'u32'],
    /** Columns per invocation of the compute pass (the store pass takes `STORE_SEGMENT`). */
    ['segment', 'u32'],
    /** 1 under the 'error' non-finite policy, 0 under 'skip-rows'. */
    ['policyError', 'u32'],
    /** The table's first word in the status buffer (see `STATUS`). */
    ['statusBase', 'u32'],
    ['lr', 'f32'],
    ['l2', 'f32'],
    ['decoupled', 'f32'],
    ['shrink', 'f32'],
    ['maxNorm', 'f32'],
    ['momentum', 'f32'],
    ['eps', 'f32'],
    ['beta1', 'f32'],
    ['beta2', 'f32'],
    ['oneMinusBeta1', 'f32'],
    ['oneMinusBeta2', 'f32'],
    ['biasCorrection1', 'f32'],
    ['biasCorrection2', 'f32'],
    /** The row width as float32 (row-wise Adagrad's mean). */
    ['dimValue', 'f32'],
  ],
  48,
);

/** C = alpha op(A) op(B) + beta C (`MATMUL_WGSL`, prefix `MM`; format words 0). */
export const MATMUL_LAYOUT = kernelLayout('matmul', [
  ['m', 'u32'],
  ['n', 'u32'],
  ['k', 'u32'],
  ['transA', 'u32'],
  ['transB', 'u32'],
  ['alpha', 'f32'],
  ['beta', 'f32'],
  /** 1: add beta x C (beta is not 0). */
  ['accumulate', 'u32'],
]);

/** x + bias (`ADD_BIAS_WGSL`, prefix `AB`). */
export const ADD_BIAS_LAYOUT = kernelLayout('addBias', [
  ['count', 'u32'],
  ['cols', 'u32'],
]);

/** The element-wise kernels and the mean (`RELU_WGSL`, `SIGMOID_WGSL`, `MEAN_WGSL`, prefix `EW`). */
export const ELEMENTS_LAYOUT = kernelLayout('elementwise', [['count', 'u32']]);

/** Column sums (`SUM_ROWS_WGSL`, prefix `SR`). */
export const SUM_ROWS_LAYOUT = kernelLayout('sumRows', [
  ['rows', 'u32'],
  ['cols', 'u32'],
]);

/** Binary cross-entropy terms (`BCE_WGSL`, prefix `BC`). */
export const BCE_LAYOUT = kernelLayout('bce', [
  ['count', 'u32'],
  /** 1: write d loss / d logits too. */
  ['withGrad', 'u32'],
]);

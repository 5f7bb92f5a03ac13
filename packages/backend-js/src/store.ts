import {
  encodeBits,
  type FloatFormat,
  type RoundingStrategy,
  roundNearestEven,
} from '@halfstep/codecs';

/**
 * A stochastic strategy that hands `encodeBits` thresholds computed beforehand, in element order.
 */
export class PrecomputedThresholds implements RoundingStrategy {
  readonly rule = 'stochastic' as const;
  thresholds: Uint32Array = new Uint32Array(0);
  cursor = 0;
  fillThresholds(out: Uint32Array): void {
    out.set(this.thresholds.subarray(this.cursor, this.cursor + out.length));
    this.cursor += out.length;
  }
}

/** Per-format constants of the row encoder's fast paths. */
interface RowEncoder {
  readonly format: FloatFormat;
  readonly shift: number;
  readonly rebias: number;
  readonly lowest: number;
  /** Fast stochastic path: lowest <= |x| < lowest + span (below the top step). */
  readonly span: number;
  /** Fast nearest-even path: |x| < nearestLimit (float32 bits), where no result can overflow. */
  readonly nearestLimit: number;
  readonly nearestLowest: number;
}

const encoders = new Map<FloatFormat, RowEncoder>();

function encoderOf(format: FloatFormat): RowEncoder {
  let e = encoders.get(format);
  if (!e) {
    const shift = 23 - format.mantissaBits;
    const rebias = (127 - format.bias) << 23;
    const lowest = (128 - format.bias) << 23;
    const maxBits = ((format.maxFiniteCode << shift) + rebias) >>> 0; // float32 bits of maxFinite
    e = {
      format,
      shift,
      rebias,
      lowest,
      span: (format.maxFiniteCode << shift) + rebias - lowest,
      nearestLimit: maxBits,
      // bfloat16's add-and-truncate is right on its whole finite range, subnormals included.
      nearestLowest: format.mantissaBits === 7 ? 0 : lowest,
    };
    encoders.set(format, e);
  }
  return e;
}

/** Scratch of the row store. */
export class StoreScratch {
  readonly one = new Float32Array(1);
  readonly oneBits = new Uint32Array(this.one.buffer);
  readonly code16 = new Uint16Array(1);
  readonly code8 = new Uint8Array(1);
  readonly single = new PrecomputedThresholds();
  readonly singleThreshold = new Uint32Array(1);
  readonly rowStrategy = new PrecomputedThresholds();
  codes8 = new Uint8Array(0);
}

/**
 * Encodes `width` float32 values (`bits[vo ..]`, their bit patterns) into `target[to ..]`, with
 * nearest-even (`thresholds` null) or stochastic rounding with the given thresholds
 * (`thresholds[0 .. width)`), saturating: beyond the largest finite value the result is
 * ±maxFinite. Equal, element by element, to `@halfstep/codecs`' `encodeBits` with
 * `saturate = true`; float16 and bfloat16 take an inline fast path for normal values below the
 * top step, everything else goes through `encodeBits`.
 */
export function storeRow(
  format: FloatFormat,
  bits: Uint32Array,
  vo: number,
  target: Uint16Array | Uint8Array,
  to: number,
  width: number,
  thresholds: Uint32Array | null,
  s: StoreScratch,
): void {
  if (format.bits === 8) {
    storeRow8(format, bits, vo, target as Uint8Array, to, width, thresholds, s);
    return;
  }
  const e = encoderOf(format);
  const shift = e.shift;
  const rebias = e.rebias;
  if (thresholds !== null) {
    const complementShift = 32 - shift;
    const lowest = e.lowest;
    const span = e.span;
    for (let c = 0; c < width; c++) {
      const x = bits[vo + c]!;
      const a = x & 0x7fffffff;
      const th = thresholds[c]!;
      if (a - lowest < span && a >= lowest) {
        target[to + c] =
          ((x >>> 16) & 0x8000) | ((a - rebias + (~th >>> complementShift)) >>> shift);
      } else {
        target[to + c] = slow(format, x, th, s);
      }
    }
    return;
  }
  const limit = e.nearestLimit;
  const low = e.nearestLowest;
  const half = (1 << (shift - 1)) - 1;
  for (let c = 0; c < width; c++) {
    const x = bits[vo + c]!;
    const a = x & 0x7fffffff;
    if (a < limit && a >= low) {
      target[to + c] =
        ((x >>> 16) & 0x8000) | ((a - rebias + half + ((a >>> shift) & 1)) >>> shift);
    } else {
      target[to + c] = slow(format, x, -1, s);
    }
  }
}

/** One element through `encodeBits` (saturating); threshold -1 means nearest-even. */
function slow(format: FloatFormat, x: number, threshold: number, s: StoreScratch): number {
  s.oneBits[0] = x;
  let strategy: RoundingStrategy = roundNearestEven;
  if (threshold !== -1) {
    s.singleThreshold[0] = threshold;
    s.single.thresholds = s.singleThreshold;
    s.single.cursor = 0;
    strategy = s.single;
  }
  const out = format.bits === 16 ? s.code16 : s.code8;
  encodeBits(format, s.oneBits, out, strategy, true);
  return out[0]!;
}

function storeRow8(
  format: FloatFormat,
  bits: Uint32Array,
  vo: number,
  target: Uint8Array,
  to: number,
  width: number,
  thresholds: Uint32Array | null,
  s: StoreScratch,
): void {
  if (s.codes8.length < width) s.codes8 = new Uint8Array(width);
  let strategy: RoundingStrategy = roundNearestEven;
  if (thresholds !== null) {
    s.rowStrategy.thresholds = thresholds;
    s.rowStrategy.cursor = 0;
    strategy = s.rowStrategy;
  }
  const codes = s.codes8.subarray(0, width);
  encodeBits(format, bits.subarray(vo, vo + width), codes, strategy, true);
  target.set(codes, to);
}

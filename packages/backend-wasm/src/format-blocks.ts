import type { FloatFormat } from '@halfstep/codecs';
import type { WasmCodec } from './codec.js';
import type { Kernels } from './kernels.js';
import { ENCODER_LAYOUT, encoderValues } from './layouts.js';

/** Bytes of one format's encoder constants (`ENCODER_LAYOUT`, read by assembly/codec.ts). */
const ENCODER_BLOCK_BYTES = ENCODER_LAYOUT.words * 4;

/**
 * The module-resident constants of the storage formats that the embedding kernels read: each
 * format's encoder block and decode table, written into linear memory once and kept for the
 * backend's life (the kernels take their addresses, so that no call re-uploads them).
 */
export class FormatBlocks {
  private readonly k: Kernels;
  private readonly codec: WasmCodec;
  private readonly encoders = new Map<string, number>();

  /** Blocks in `kernels`' memory; decode tables are shared with `codec`. */
  constructor(kernels: Kernels, codec: WasmCodec) {
    this.k = kernels;
    this.codec = codec;
  }

  /**
   * The address of the decode table of `format` (float32 bits of every code), or 0 for float32
   * storage and for bfloat16, which the kernels widen by a shift instead.
   */
  decodeTable(format: FloatFormat | null): number {
    return format === null || format.name === 'bfloat16' ? 0 : this.codec.decodeTable(format);
  }

  /**
   * The address of the encoder constants of `format` (overflow to infinity; the update kernel
   * clamps before it stores), or 0 for float32 storage.
   */
  encoder(format: FloatFormat | null): number {
    if (format === null) return 0;
    let address = this.encoders.get(format.name);
    if (address === undefined) {
      address = this.k.allocator.alloc(ENCODER_BLOCK_BYTES, 'encoder constants');
      ENCODER_LAYOUT.write(this.k.u32(), address >>> 2, encoderValues(format, false));
      this.encoders.set(format.name, address);
    }
    return address;
  }
}

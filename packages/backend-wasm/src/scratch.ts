import type { Kernels } from './kernels.js';

/**
 * Numbered scratch blocks in WASM memory, each grown (reallocated) on demand and kept for reuse.
 * A block's contents do not survive a `get` that grows it.
 */
export class Scratch {
  private readonly k: Kernels;
  private readonly blocks: { address: number; bytes: number }[] = [];

  constructor(kernels: Kernels) {
    this.k = kernels;
  }

  /** The address of scratch block `slot`, at least `bytes` long. */
  get(slot: number, bytes: number): number {
    let block = this.blocks[slot];
    if (block === undefined || block.bytes < bytes) {
      if (block !== undefined) this.k.allocator.release(block.address);
      const size = Math.max(bytes, 64, block === undefined ? 0 : block.bytes * 2);
      block = { address: this.k.allocator.alloc(size, 'scratch'), bytes: size };
      this.blocks[slot] = block;
    }
    return block.address;
  }

  /** Frees every block. */
  dispose(): void {
    for (const block of this.blocks) if (block) this.k.allocator.release(block.address);
    this.blocks.length = 0;
  }
}

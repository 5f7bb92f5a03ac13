import type { WasmMemory } from './wasm-api.js';

/** Bytes in a WebAssembly page. */
export const PAGE_BYTES = 65536;

/** The most pages a wasm32 memory can have: 65536 pages = 4 GiB. */
export const MAX_PAGES = 65536;

/** Every allocation is aligned to (and sized in multiples of) 16 bytes: one v128. */
const ALIGN = 16;

/**
 * The error thrown when an allocation would take WASM linear memory past its 4 GiB limit.
 * `requested` is the allocation in bytes, `inUse` the bytes already allocated.
 */
export class WasmMemoryLimitError extends RangeError {
  readonly requested: number;
  readonly inUse: number;

  constructor(what: string, requested: number, inUse: number) {
    super(
      `${what}: ${requested} bytes do not fit in WASM linear memory (4 GiB limit, ${inUse} bytes ` +
        'already in use); see the @halfstep/backend-wasm README for the largest table per storage ' +
        'precision, or use the js backend',
    );
    this.name = 'WasmMemoryLimitError';
    this.requested = requested;
    this.inUse = inUse;
  }
}

/**
 * A first-fit allocator over a WebAssembly memory, from `base` up: blocks are 16-byte aligned,
 * freed blocks are coalesced with free neighbours, and the memory grows (`memory.grow`) when no
 * free block fits. Addresses are byte offsets into the memory.
 */
export class Allocator {
  readonly memory: WasmMemory;
  /** Free blocks, sorted by address, never adjacent. */
  private readonly free: { start: number; size: number }[] = [];
  private readonly sizes = new Map<number, number>();
  private top: number;
  private used = 0;

  constructor(memory: WasmMemory, base: number) {
    this.memory = memory;
    this.top = Math.ceil(base / ALIGN) * ALIGN;
  }

  /** Bytes currently allocated. */
  get bytesInUse(): number {
    return this.used;
  }

  /**
   * Allocates `bytes` bytes (at least 16) and returns their address; the contents are unspecified.
   * @throws WasmMemoryLimitError (naming `what`) when the memory cannot grow enough.
   */
  alloc(bytes: number, what = 'allocation'): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let k = 0; k < this.free.length; k++) {
      const block = this.free[k]!;
      if (block.size >= size) {
        const start = block.start;
        if (block.size === size) this.free.splice(k, 1);
        else {
          block.start += size;
          block.size -= size;
        }
        return this.take(start, size);
      }
    }
    const start = this.top;
    const end = start + size;
    if (end > MAX_PAGES * PAGE_BYTES) throw new WasmMemoryLimitError(what, bytes, this.used);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE_BYTES);
      // Grow geometrically (amortised), but never past the limit.
      const current = have / PAGE_BYTES;
      const target = Math.min(MAX_PAGES, Math.max(current + pages, Math.ceil(current * 1.5)));
      try {
        this.memory.grow(target - current);
      } catch {
        try {
          this.memory.grow(pages);
        } catch {
          throw new WasmMemoryLimitError(what, bytes, this.used);
        }
      }
    }
    this.top = end;
    return this.take(start, size);
  }

  private take(start: number, size: number): number {
    this.sizes.set(start, size);
    this.used += size;
    return start;
  }

  /** Frees a block returned by `alloc`. @throws Error for an address that is not allocated. */
  release(address: number): void {
    const size = this.sizes.get(address);
    if (size === undefined) throw new Error(`wasm allocator: ${address} is not an allocated block`);
    this.sizes.delete(address);
    this.used -= size;
    let k = 0;
    while (k < this.free.length && this.free[k]!.start < address) k++;
    const block = { start: address, size };
    this.free.splice(k, 0, block);
    const next = this.free[k + 1];
    if (next && block.start + block.size === next.start) {
      block.size += next.size;
      this.free.splice(k + 1, 1);
    }
    const previous = this.free[k - 1];
    if (previous && previous.start + previous.size === block.start) {
      previous.size += block.size;
      this.free.splice(k, 1);
    }
  }
}

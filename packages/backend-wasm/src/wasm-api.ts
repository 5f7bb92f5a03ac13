/**
 * The few parts of the global `WebAssembly` API this package uses, typed here so that it compiles
 * (and its declarations read) without the DOM lib.
 */

/** A `WebAssembly.Memory`. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  /** Grows by `pages` 64 KiB pages; returns the previous size in pages; throws when it cannot. */
  grow(pages: number): number;
}

/** A compiled `WebAssembly.Module` (opaque; it can be posted to a worker). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

/** The global `WebAssembly` object, as far as this package uses it. */
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  instantiate(
    module: WasmModule,
    imports: Record<string, Record<string, unknown>>,
  ): Promise<{ exports: Record<string, unknown> }>;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

/** The global `WebAssembly`, or undefined where the platform has none. */
export function wasmApi(): WasmApi | undefined {
  return (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
}

// The browser side of file checkpoints (package.json `imports`: `#checkpoint-io` without the
// `node` condition): no file system, so file reads and writes throw a CheckpointError that
// points at the bytes API; SHA-256 with Web Crypto, or in plain JavaScript where Web Crypto is
// missing (pages not served from a secure context). Same exports as io-node.ts.
import { CheckpointError } from './errors.js';

const BYTES_API =
  'file checkpoints need Node.js (node:fs); in a browser, save with `await bag.toSafetensors()` ' +
  '(a Uint8Array to keep in IndexedDB or offer as a download) and restore with ' +
  '`await bag.loadSafetensors(bytes)` (the same on a collection), or use ' +
  'encodeSafetensors/decodeSafetensors for tensors of your own';

function unsupported(path: string): CheckpointError {
  return new CheckpointError('unsupported', BYTES_API, { path });
}

/** Refuses: there is no file system here (see {@link BYTES_API}). */
export async function writeFileAtomic(path: string, _bytes: Uint8Array): Promise<void> {
  throw unsupported(path);
}

/** Refuses: there is no file system here. */
export async function readWholeFile(path: string): Promise<Uint8Array> {
  throw unsupported(path);
}

function hex(digest: ArrayBuffer | Uint8Array): string {
  const bytes = digest instanceof Uint8Array ? digest : new Uint8Array(digest);
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/**
 * SHA-256 of `bytes` as 64 lowercase hex digits: Web Crypto's `crypto.subtle.digest` where it
 * exists (secure contexts), else {@link sha256Js}.
 */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const subtle = (globalThis as { crypto?: { subtle?: SubtleLike } }).crypto?.subtle;
  if (subtle !== undefined) {
    // digest copies its input; a view into a SharedArrayBuffer is copied first (Web Crypto
    // refuses shared memory).
    const input =
      bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
    return hex(await subtle.digest('SHA-256', input));
  }
  return sha256Js(bytes);
}

/** The part of Web Crypto used here (typed locally: no DOM library needed). */
interface SubtleLike {
  digest(algorithm: string, data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
}

const K = Uint32Array.of(
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
);

/** SHA-256 (FIPS 180-4) in plain JavaScript, as 64 lowercase hex digits. */
export function sha256Js(bytes: Uint8Array): string {
  const h = Uint32Array.of(
    0x6a09e667,
    0xbb67ae85,
    0x3c6ef372,
    0xa54ff53a,
    0x510e527f,
    0x9b05688c,
    0x1f83d9ab,
    0x5be0cd19,
  );
  const w = new Uint32Array(64);
  const n = bytes.length;
  // The message, 0x80, zeros, and the 64-bit bit length: whole 64-byte blocks.
  const blocks = Math.ceil((n + 9) / 64);
  const tail = new Uint8Array(128);
  const tailStart = Math.floor(n / 64) * 64;
  tail.set(bytes.subarray(tailStart));
  tail[n - tailStart] = 0x80;
  const tailBlocks = blocks - tailStart / 64;
  const tailView = new DataView(tail.buffer);
  const bits = n * 8;
  tailView.setUint32(tailBlocks * 64 - 8, Math.floor(bits / 2 ** 32));
  tailView.setUint32(tailBlocks * 64 - 4, bits >>> 0);
  for (let b = 0; b < blocks; b++) {
    const inTail = b * 64 >= tailStart;
    const src = inTail ? tail : bytes;
    const base = inTail ? b * 64 - tailStart : b * 64;
    for (let i = 0; i < 16; i++) {
      const j = base + 4 * i;
      w[i] = (src[j]! << 24) | (src[j + 1]! << 16) | (src[j + 2]! << 8) | src[j + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = h[0]!;
    let bb = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    let e = h[4]!;
    let f = h[5]!;
    let g = h[6]!;
    let hh = h[7]!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & bb) ^ (a & c) ^ (bb & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + t2) | 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + bb;
    h[2] = h[2]! + c;
    h[3] = h[3]! + d;
    h[4] = h[4]! + e;
    h[5] = h[5]! + f;
    h[6] = h[6]! + g;
    h[7] = h[7]! + hh;
  }
  let out = '';
  for (const word of h) out += word.toString(16).padStart(8, '0');
  return out;
}

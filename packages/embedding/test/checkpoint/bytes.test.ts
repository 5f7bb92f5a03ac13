import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adam, sgd } from '@halfstep/optim';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import * as browserIo from '../../src/checkpoint/io-browser.js';
import * as nodeIo from '../../src/checkpoint/io-node.js';
import {
  CheckpointError,
  CheckpointMismatchError,
  createEmbeddingBag,
  createEmbeddingBagCollection,
  sha256Hex,
} from '../../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'halfstep-bytes-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const config = () => ({
  rows: 50,
  dim: 6,
  storage: 'float16' as const,
  optimizer: adam({ lr: 0.01, stateStorage: 'float16' }),
  seed: 9,
});

async function trained() {
  const bag = await createEmbeddingBag(config());
  for (let step = 0; step < 3; step++) {
    const forward = bag.forward([step, 7, 7, 49], [0, 2]);
    await bag.backward(
      forward,
      Float32Array.from({ length: 12 }, (_, i) => (i - 6) / 10),
    );
  }
  return bag;
}

describe('checkpoints as bytes (toSafetensors / loadSafetensors)', () => {
  it('are the bytes save() writes, and restore training bit-identically', async () => {
    const bag = await trained();
    const bytes = await bag.toSafetensors();
    expectTypeOf(bytes).toEqualTypeOf<Uint8Array<ArrayBuffer>>(); // a BlobPart, unlike Uint8Array
    const path = join(dir, 'model.safetensors');
    await bag.save(path);
    expect(Buffer.compare(await readFile(path), bytes)).toBe(0);

    const copy = await createEmbeddingBag(config());
    await copy.loadSafetensors(bytes);
    expect(copy.step).toBe(3);
    expect(await copy.readRows()).toEqual(await bag.readRows());
    for (const b of [bag, copy]) {
      await b.backward(b.forward([1, 2, 3], [0, 1]), new Float32Array(12).fill(0.3));
    }
    expect(await copy.readRows()).toEqual(await bag.readRows());
    expect(await copy.toSafetensors()).toEqual(await bag.toSafetensors());
  });

  it('a collection round trips through bytes; load(path) and loadSafetensors agree', async () => {
    const configs = [
      { name: 'users', rows: 20, dim: 4, optimizer: sgd({ lr: 0.1 }) },
      {
        name: 'items',
        rows: 10,
        dim: 2,
        optimizer: adam({ lr: 0.1 }),
        storage: 'bfloat16' as const,
      },
    ];
    const a = await createEmbeddingBagCollection(configs, { seed: 2 });
    const forward = a.forward([
      { indices: [1, 2], offsets: [0] },
      { indices: [3], offsets: [0] },
    ]);
    const [users, items] = await forward.read(); // a tuple: one array per batch
    expectTypeOf(users).toEqualTypeOf<Float32Array>();
    await a.backward(forward, [users.fill(0.5), items.fill(-0.5)]);
    const bytes = await a.toSafetensors();
    const b = await createEmbeddingBagCollection(configs, { seed: 2 });
    await b.loadSafetensors(bytes);
    expect(b.step).toBe(1);
    expect(await b.readRows('items')).toEqual(await a.readRows('items'));
  });

  it('refuses what is not a Uint8Array with a TypeError, and names the bytes in errors', async () => {
    const bag = await trained();
    const bytes = await bag.toSafetensors();
    await expect(bag.loadSafetensors(bytes.buffer as unknown as Uint8Array)).rejects.toThrow(
      /loadSafetensors: bytes must be a Uint8Array .*got ArrayBuffer/,
    );

    const corrupted = bytes.slice();
    corrupted[corrupted.length - 1]! ^= 0x01;
    const error = await bag.loadSafetensors(corrupted).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).reason).toBe('checksum-mismatch');
    expect((error as CheckpointError).path).toBeUndefined();

    const other = await createEmbeddingBag({ ...config(), seed: 10 });
    await expect(other.loadSafetensors(bytes)).rejects.toThrow(CheckpointMismatchError);
    await expect(other.loadSafetensors(bytes)).rejects.toThrow(
      /^checkpoint bytes: checkpoint seed/,
    );

    const truncated = await bag.loadSafetensors(bytes.subarray(0, 5)).catch((e: unknown) => e);
    expect((truncated as CheckpointError).reason).toBe('too-short');
    // Nothing was written by the refused loads.
    expect(await bag.toSafetensors()).toEqual(bytes);
  });
});

describe('file checkpoints in a browser (io-browser.ts, the #checkpoint-io default)', () => {
  it('has the exports of the Node variant', () => {
    expect(Object.keys(browserIo).sort()).toEqual(
      expect.arrayContaining(Object.keys(nodeIo).sort()),
    );
    expectTypeOf(browserIo.writeFileAtomic).toEqualTypeOf(nodeIo.writeFileAtomic);
    expectTypeOf(browserIo.readWholeFile).toEqualTypeOf(nodeIo.readWholeFile);
    expectTypeOf(browserIo.sha256).toEqualTypeOf(nodeIo.sha256);
  });

  it('refuses file reads and writes with a CheckpointError that points at the bytes API', async () => {
    for (const attempt of [
      () => browserIo.writeFileAtomic('model.safetensors', new Uint8Array(8)),
      () => browserIo.readWholeFile('model.safetensors'),
    ]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointError);
      expect(error).toMatchObject({ reason: 'unsupported', path: 'model.safetensors' });
      expect((error as Error).message).toMatch(/toSafetensors\(\).*loadSafetensors\(bytes\)/);
    }
  });

  it('hashes with SHA-256: Web Crypto, and plain JavaScript where there is none', async () => {
    const sizes = [0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 65_537];
    let seed = 1;
    for (const size of sizes) {
      const bytes = Uint8Array.from({ length: size }, () => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed >>> 24;
      });
      const expected = createHash('sha256').update(bytes).digest('hex');
      expect(browserIo.sha256Js(bytes), `${size} bytes`).toBe(expected);
      expect(await browserIo.sha256(bytes)).toBe(expected);
      expect(await nodeIo.sha256(bytes)).toBe(expected);
      expect(await sha256Hex(bytes)).toBe(expected);
    }
    const shared = new Uint8Array(new SharedArrayBuffer(4)).fill(7);
    expect(await browserIo.sha256(shared)).toBe(createHash('sha256').update(shared).digest('hex'));
  });
});

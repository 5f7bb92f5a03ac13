import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adam, rowwiseAdagrad, type SparseOptimizer, sgd } from '@halfstep/optim';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  CheckpointMismatchError,
  createEmbeddingBagCollection,
  type EmbeddingBagCollection,
} from '../src/index.js';
import { batch, lcg } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'halfstep-embedding-'));
});

const configs = (optimizer: SparseOptimizer) => [
  { name: 'users', rows: 64, dim: 8, storage: 'float16' as const, optimizer },
  {
    name: 'items',
    rows: 32,
    dim: 4,
    storage: 'bfloat16' as const,
    optimizer,
    pooling: 'mean' as const,
  },
];

/** Runs `steps` training steps with data from `rnd` (the same stream gives the same data). */
async function train(c: EmbeddingBagCollection, rnd: () => number, steps: number) {
  for (let s = 0; s < steps; s++) {
    const a = batch(rnd, 64, 8, 3);
    const b = batch(rnd, 32, 8, 2);
    const forward = c.forward([a, b]);
    await c.backward(forward, [
      Float32Array.from({ length: 64 }, () => rnd() - 0.5),
      Float32Array.from({ length: 32 }, () => rnd() - 0.5),
    ]);
  }
}

const bytes = (c: EmbeddingBagCollection) =>
  Promise.all([0, 1].map((t) => c.backend.exportTable(c.handles[t]!)));

describe('checkpoints', () => {
  const optimizers: Array<[string, () => SparseOptimizer]> = [
    ['sgd', () => sgd({ lr: 0.05 })],
    ['row-wise Adagrad', () => rowwiseAdagrad({ lr: 0.05 })],
    ['Adam with float16 state', () => adam({ lr: 0.01, stateStorage: 'float16' })],
  ];
  for (const [name, optimizer] of optimizers) {
    it(`${name}: training resumed from a checkpoint continues bit-identically`, async () => {
      const path = join(dir, `${name.replace(/\W/g, '-')}.safetensors`);
      const straight = await createEmbeddingBagCollection(configs(optimizer()), { seed: 9 });
      const rndA = lcg(4);
      await train(straight, rndA, 10);
      await straight.save(path);
      await train(straight, rndA, 10);

      const resumed = await createEmbeddingBagCollection(configs(optimizer()), { seed: 9 });
      const rndB = lcg(4);
      await train(resumed, rndB, 10); // advances the data stream; then overwritten by the checkpoint
      await train(resumed, lcg(1), 3); // diverge on purpose
      await resumed.load(path);
      expect(resumed.step).toBe(10);
      await train(resumed, rndB, 10);
      expect(resumed.step).toBe(20);
      const [x, y] = [await bytes(straight), await bytes(resumed)];
      for (let t = 0; t < 2; t++) {
        expect(Buffer.compare(x[t]!.weights, y[t]!.weights)).toBe(0);
        expect(Buffer.compare(x[t]!.state, y[t]!.state)).toBe(0);
      }
    });
  }

  it('float8 tables round-trip through F8_E4M3 / F8_E5M2 tensors', async () => {
    const path = join(dir, 'float8.safetensors');
    const make = () =>
      createEmbeddingBagCollection(
        [
          { name: 'a', rows: 16, dim: 4, storage: 'float8e4m3', optimizer: sgd({ lr: 0.1 }) },
          { name: 'b', rows: 16, dim: 4, storage: 'float8e5m2', optimizer: sgd({ lr: 0.1 }) },
        ],
        { seed: 3 },
      );
    const c = await make();
    const forward = c.forward([
      { indices: [1, 2, 3], offsets: [0] },
      { indices: [4, 5], offsets: [0] },
    ]);
    await c.backward(forward, [
      Float32Array.of(1, -1, 0.5, 0.25),
      Float32Array.of(0.5, 0.5, -0.5, 2),
    ]);
    await c.save(path);
    const d = await make();
    await d.load(path);
    expect(d.step).toBe(1);
    expect([...(await d.readRows('a'))]).toEqual([...(await c.readRows('a'))]);
    expect([...(await d.readRows('b'))]).toEqual([...(await c.readRows('b'))]);
  });

  it('a truncated or corrupted file gets an error that says what is wrong, and nothing is loaded', async () => {
    const path = join(dir, 'good.safetensors');
    const c = await createEmbeddingBagCollection(configs(sgd({ lr: 0.1 })), { seed: 1 });
    await c.save(path);
    const good = readFileSync(path);
    const before = await bytes(c);
    const truncated = join(dir, 'truncated.safetensors');
    writeFileSync(truncated, good.subarray(0, good.length - 10));
    await expect(c.load(truncated)).rejects.toThrow(CheckpointError);
    await expect(c.load(truncated)).rejects.toThrow(/truncated|shorter|bytes/);
    const garbled = join(dir, 'garbled.safetensors');
    const copy = Buffer.from(good);
    copy[10] = 0x7b; // inside the JSON header
    copy[11] = 0x7b;
    writeFileSync(garbled, copy);
    await expect(c.load(garbled)).rejects.toThrow(CheckpointError);
    expect(Buffer.compare((await bytes(c))[0]!.weights, before[0]!.weights)).toBe(0);
  });

  it('a checkpoint of other tables is refused with what differs', async () => {
    const path = join(dir, 'other.safetensors');
    const c = await createEmbeddingBagCollection(configs(sgd({ lr: 0.1 })), { seed: 1 });
    await c.save(path);
    const other = await createEmbeddingBagCollection(configs(rowwiseAdagrad({ lr: 0.1 })), {
      seed: 1,
    });
    await expect(other.load(path)).rejects.toThrow(CheckpointMismatchError);
    await expect(other.load(path)).rejects.toThrow(/optimizer sgd/);
    const reseeded = await createEmbeddingBagCollection(configs(sgd({ lr: 0.1 })), { seed: 2 });
    await expect(reseeded.load(path)).rejects.toThrow(/seed 1 differs/);
  });

  const torch =
    spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!torch)(
    'PyTorch reads the tables (F16, BF16) and the row-wise state (F32)',
    async () => {
      const path = join(dir, 'torch.safetensors');
      const c = await createEmbeddingBagCollection(configs(rowwiseAdagrad({ lr: 0.1 })), {
        seed: 5,
      });
      await train(c, lcg(3), 3);
      await c.save(path);
      const script = `
import json, struct, sys, torch
data = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', data[:8])[0]
header = json.loads(data[8:8 + n])
body = data[8 + n:]
dtypes = {'F16': torch.float16, 'BF16': torch.bfloat16, 'F32': torch.float32}
out = {}
for name, t in header.items():
    if name == '__metadata__': continue
    a, b = t['data_offsets']
    x = torch.frombuffer(bytearray(body[a:b]), dtype=dtypes[t['dtype']]).reshape(t['shape'])
    out[name] = [float(v) for v in x.float().flatten()[:5]] + [list(x.shape)]
print(json.dumps(out))
`;
      const r = spawnSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      const read = JSON.parse(r.stdout);
      expect(read['users.weight'].slice(0, 5)).toEqual([
        ...(await c.readRows('users')).subarray(0, 5),
      ]);
      expect(read['users.weight'][5]).toEqual([64, 8]);
      expect(read['items.weight'].slice(0, 5)).toEqual([
        ...(await c.readRows('items')).subarray(0, 5),
      ]);
      expect(read['users.optimizer.sum_squares'][5]).toEqual([64]);
    },
  );
});

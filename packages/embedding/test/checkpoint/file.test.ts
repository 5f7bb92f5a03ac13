import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  readSafetensors,
  type Tensor,
  temporaryPattern,
  writeSafetensors,
} from '../../src/checkpoint/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'halfstep-checkpoint-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const v1: Record<string, Tensor> = {
  emb: { dtype: 'F16', shape: [4, 2], data: new Uint16Array(8).fill(0x3c00) },
};
const v2: Record<string, Tensor> = {
  emb: { dtype: 'F16', shape: [4096, 64], data: new Uint16Array(4096 * 64).fill(0x4000) },
};

async function rejection(promise: Promise<unknown>): Promise<CheckpointError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CheckpointError);
  return error as CheckpointError;
}

/** Asserts `path` still holds checkpoint v1 and that nothing else is left in the directory. */
async function expectV1Intact(path: string, before: Buffer) {
  expect(Buffer.compare(await readFile(path), before)).toBe(0);
  const back = await readSafetensors(path);
  expect(back.tensors.emb!.data).toEqual(v1.emb!.data);
  expect({ ...back.metadata }).toEqual({ version: '1' });
}

describe('writeSafetensors / readSafetensors', () => {
  it('round trips through a file and replaces it atomically', async () => {
    const path = join(dir, 'model.safetensors');
    await writeSafetensors(path, v1, { version: '1' });
    expect((await readSafetensors(path)).tensors.emb!.data).toEqual(v1.emb!.data);
    await writeSafetensors(path, v2, { version: '2' });
    const back = await readSafetensors(path, { copy: true });
    expect(back.tensors.emb!.shape).toEqual([4096, 64]);
    // Compare bytes directly: toEqual on 262144-element typed arrays takes seconds.
    expect(
      Buffer.from(back.tensors.emb!.data.buffer).equals(Buffer.from(v2.emb!.data.buffer)),
    ).toBe(true);
    expect(await readdir(dir)).toEqual(['model.safetensors']);
  });

  it('read errors carry the path, in the message and as a property', async () => {
    const path = join(dir, 'short.safetensors');
    await writeFile(path, new Uint8Array([1, 2, 3]));
    const e = await rejection(readSafetensors(path));
    expect(e.reason).toBe('too-short');
    expect(e.path).toBe(path);
    expect(e.message).toBe(
      `${path}: file is 3 bytes, shorter than the 8-byte header length prefix`,
    );
    const missing = await rejection(readSafetensors(join(dir, 'missing.safetensors')));
    expect(missing.reason).toBe('io');
    expect(missing.message).toMatch(/open failed \(ENOENT\)/);
  });

  describe('a failed write leaves the previous file intact', () => {
    let path: string;
    let before: Buffer;
    beforeEach(async () => {
      path = join(dir, 'model.safetensors');
      await writeSafetensors(path, v1, { version: '1' });
      before = await readFile(path);
    });

    it('when the disk fails halfway through writing the data', async () => {
      const realWrite = fs.write;
      let calls = 0;
      // The atomic write looks fs.write up at call time: write half the bytes, then fail.
      (fs as { write: unknown }).write = (
        fd: number,
        buffer: Uint8Array,
        offset: number,
        length: number,
        position: number,
        callback: (err: NodeJS.ErrnoException | null) => void,
      ) => {
        calls++;
        fs.writeSync(fd, buffer, offset, length >> 1, position);
        const err: NodeJS.ErrnoException = new Error('EIO: i/o error, write');
        err.code = 'EIO';
        callback(err);
      };
      try {
        const e = await rejection(writeSafetensors(path, v2, { version: '2' }));
        expect(e.reason).toBe('io');
        expect(e.path).toBe(path);
        expect(e.message).toMatch(/atomic write failed \(EIO\)/);
      } finally {
        (fs as { write: unknown }).write = realWrite;
      }
      expect(calls).toBe(1);
      await expectV1Intact(path, before);
      expect(await readdir(dir)).toEqual(['model.safetensors']); // temp file removed
    });

    it('when fsync fails after the data was written', async () => {
      const realFsync = fs.fsync;
      (fs as { fsync: unknown }).fsync = (_fd: number, cb: (e: Error) => void) => {
        cb(Object.assign(new Error('ENOSPC: no space left on device, fsync'), { code: 'ENOSPC' }));
      };
      try {
        const e = await rejection(writeSafetensors(path, v2, { version: '2' }));
        expect(e.message).toMatch(/ENOSPC/);
      } finally {
        (fs as { fsync: unknown }).fsync = realFsync;
      }
      await expectV1Intact(path, before);
      expect(await readdir(dir)).toEqual(['model.safetensors']);
    });

    it('when encoding fails (a data getter throws, or a tensor is invalid)', async () => {
      const exploding = {
        emb: {
          dtype: 'F16',
          shape: [1],
          get data(): Uint16Array {
            throw new Error('device lost');
          },
        },
      } as Record<string, Tensor>;
      await expect(writeSafetensors(path, exploding)).rejects.toThrow('device lost');
      const bad = { emb: { dtype: 'F16', shape: [2], data: new Uint16Array(3) } } as Record<
        string,
        Tensor
      >;
      const e = await rejection(writeSafetensors(path, bad));
      expect(e.reason).toBe('size-mismatch');
      expect(e.message).toBe(
        `${path}: tensor "emb": shape [2] of F16 needs 4 bytes (2 elements), data has 6 bytes (3 elements)`,
      );
      await expectV1Intact(path, before);
      expect(await readdir(dir)).toEqual(['model.safetensors']);
    });

    it('when the temp file cannot be created', async () => {
      const e = await rejection(
        writeSafetensors(join(dir, 'no-such-dir', 'model.safetensors'), v2),
      );
      expect(e.reason).toBe('io');
      expect(e.message).toMatch(/ENOENT/);
      await expectV1Intact(path, before);
    });

    it('when the process is killed in the middle of the write', () => {
      const src = fileURLToPath(new URL('../../src/checkpoint/index.ts', import.meta.url));
      // The child writes half of the new checkpoint to the temp file, then dies with SIGKILL.
      const script = `
        import fs from 'node:fs';
        const { writeSafetensors } = await import(${JSON.stringify(src)});
        fs.write = (fd, buffer, offset, length, position) => {
          fs.writeSync(fd, buffer, offset, length >> 1, position);
          fs.fsyncSync(fd);
          process.kill(process.pid, 'SIGKILL');
        };
        const data = new Uint16Array(4096 * 64).fill(0x4000);
        await writeSafetensors(${JSON.stringify(path)}, { emb: { dtype: 'F16', shape: [4096, 64], data } });
        console.log('write completed: the kill did not happen');
      `;
      const child = spawnSync(
        process.execPath,
        // The source condition: the package's `#checkpoint-io` import resolves to src/, not dist/.
        ['--conditions=@halfstep/source', '--import', 'tsx', '--input-type=module', '-e', script],
        {
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      expect(child.signal, child.stderr).toBe('SIGKILL');
      expect(child.stdout).not.toMatch(/completed/);
      expect(Buffer.compare(fs.readFileSync(path), before)).toBe(0);
      // A crash leaves the orphaned temp file next to the target (nothing runs after SIGKILL to
      // remove it; the next save does, see stale-temporaries.test.ts); the target itself was
      // never touched.
      const left = fs.readdirSync(dir).filter((f) => f !== 'model.safetensors');
      expect(left.length).toBe(1);
      expect(left[0]).toMatch(temporaryPattern('model.safetensors'));
      expect(left[0]).toMatch(/^model\.safetensors\.halfstep-\d+-0-[0-9a-f]{16}\.tmp$/);
    });
  });
});

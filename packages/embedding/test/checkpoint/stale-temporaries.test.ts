import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { rowwiseAdagrad, sgd } from '@halfstep/optim';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { temporaryName, temporaryPattern } from '../../src/checkpoint/index.js';
import {
  CheckpointError,
  createEmbeddingBagCollection,
  type EmbeddingBagCollection,
} from '../../src/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'halfstep-stale-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A pid no process has: above Linux's largest pid_max (2^22) and macOS's 99999. */
const DEAD_PID = 4_999_999;
const hex = (c: string) => c.repeat(16);

const small = (value: number) =>
  createEmbeddingBagCollection(
    [{ name: 't', rows: 8, dim: 4, init: 'zeros', optimizer: sgd({ lr: 0.1 }) }],
    { seed: 1 },
  ).then((c) => {
    c.writeRows('t', new Float32Array(32).fill(value));
    return c;
  });

/** Loads `path` into a fresh small collection (no warning allowed) and returns row 0's value. */
async function loadedValue(path: string): Promise<number> {
  const c = await small(0);
  await c.load(path, {
    onWarning: (m) => {
      throw new Error(`unexpected warning: ${m}`);
    },
  });
  return (await c.readRows('t', [0]))[0]!;
}

/** Creates a file with the given mtime offset from now (seconds). */
async function file(path: string, ageSeconds: number, content = 'partial checkpoint') {
  await writeFile(path, content);
  const t = Date.now() / 1000 - ageSeconds;
  await utimes(path, t, t);
}

describe('stale temporary files', () => {
  it('the naming pattern matches only exact temporaries of that target', () => {
    const p = temporaryPattern('model.safetensors');
    expect(temporaryName('model.safetensors', 12, 0, hex('a'))).toBe(
      'model.safetensors.halfstep-12-0-aaaaaaaaaaaaaaaa.tmp',
    );
    expect(p.exec('model.safetensors.halfstep-12-3-0123456789abcdef.tmp')?.slice(1)).toEqual([
      '12',
      '3',
    ]);
    for (const other of [
      'model.safetensors',
      'model.safetensors.5000',
      'model.safetensors.1',
      'model.safetensors.halfstep-12-3-0123456789abcdef.tmp.bak',
      'model.safetensors.halfstep-12-3-0123456789ABCDEF.tmp',
      'model.safetensors.halfstep-12-3-0123456789abcde.tmp',
      'xmodel.safetensors.halfstep-12-3-0123456789abcdef.tmp',
      'modelXsafetensors.halfstep-12-3-0123456789abcdef.tmp',
      'model.safetensors.halfstep--3-0123456789abcdef.tmp',
    ]) {
      expect(p.test(other), other).toBe(false);
    }
    // Regular-expression characters in the target name are literal.
    expect(temporaryPattern('a+b(1).st').test(temporaryName('a+b(1).st', 1, 0, hex('f')))).toBe(
      true,
    );
    expect(temporaryPattern('a+b(1).st').test(temporaryName('aab(1).st', 1, 0, hex('f')))).toBe(
      false,
    );
  });

  it('the next save removes them; the target, newer or live temporaries and look-alikes stay', async () => {
    const path = join(dir, 'model.safetensors');
    await (await small(1)).save(path);
    const tmp = (pid: number, thread: number, c: string) =>
      temporaryName(path, pid, thread, hex(c));
    const stale = [
      tmp(DEAD_PID, 0, 'a'), // a killed process's
      tmp(process.pid, threadId, 'b'), // this pid and thread, not being written: a reused pid's
      tmp(DEAD_PID, 7, 'c'),
    ];
    for (const s of stale) await file(s, 60);
    const kept = [
      tmp(DEAD_PID, 0, 'd'), // newer than this save's own temporary (mtime in the future)
      tmp(process.ppid, 0, 'e'), // its writer still runs
      tmp(process.pid, threadId + 1, 'f'), // another thread of this process may be writing it
      `${path}.5000`, // a user's numbered checkpoint: write-file-atomic's pattern would match it
      `${path}.1`,
      `${tmp(DEAD_PID, 0, '1')}.bak`,
      join(dir, 'other.safetensors.halfstep-4999999-0-aaaaaaaaaaaaaaaa.tmp'), // another target's
    ];
    await file(kept[0]!, -3600);
    for (const k of kept.slice(1)) await file(k, 60);
    const directory = tmp(DEAD_PID, 0, '2'); // not a regular file
    await mkdir(directory);
    const link = tmp(DEAD_PID, 0, '3'); // a symlink (to the target): not a regular file
    await symlink(path, link);
    fs.utimesSync(directory, 0, 0);

    await (await small(2)).save(path);
    const left = (await readdir(dir)).sort();
    const base = (p: string) => p.slice(dir.length + 1);
    expect(left).toEqual([path, ...kept, directory, link].map(base).sort());
    for (const s of stale) expect(fs.existsSync(s), s).toBe(false);
    expect(await loadedValue(path)).toBe(2);
  });

  it('a save that fails still removes them and keeps the last good file', async () => {
    const path = join(dir, 'model.safetensors');
    await (await small(1)).save(path);
    const before = await readFile(path);
    const stale = temporaryName(path, DEAD_PID, 0, hex('a'));
    await file(stale, 60);
    const realWrite = fs.write;
    (fs as { write: unknown }).write = (
      _fd: number,
      _b: Uint8Array,
      _o: number,
      _l: number,
      _p: number,
      cb: (e: Error) => void,
    ) => cb(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    try {
      const error = await (await small(2)).save(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointError);
      expect((error as Error).message).toMatch(/atomic write failed \(ENOSPC\)/);
    } finally {
      (fs as { write: unknown }).write = realWrite;
    }
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    expect(Buffer.compare(await readFile(path), before)).toBe(0);
    expect(await loadedValue(path)).toBe(1);
  });

  it('saves through a symlink clean up next to the real file', async () => {
    const real = join(dir, 'real.safetensors');
    const link = join(dir, 'link.safetensors');
    await (await small(1)).save(real);
    await symlink(real, link);
    const stale = temporaryName(real, DEAD_PID, 0, hex('a'));
    await file(stale, 60);
    await (await small(3)).save(link);
    expect((await readdir(dir)).sort()).toEqual(['link.safetensors', 'real.safetensors']);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(await loadedValue(real)).toBe(3);
  });
});

describe('kill -9 during save', () => {
  const ROWS = 150_000;
  const DIM = 64;
  const ROUNDS = 4;
  const make = () =>
    createEmbeddingBagCollection(
      [
        {
          name: 'big',
          rows: ROWS,
          dim: DIM,
          storage: 'float16',
          init: 'zeros',
          optimizer: rowwiseAdagrad({ lr: 0.1 }),
        },
      ],
      { seed: 7 },
    );
  const markerOf = async (c: EmbeddingBagCollection) => (await c.readRows('big', [0]))[0]!;
  const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

  /** Spawns a process that saves the big collection with row 0 = `marker` to `path`. */
  function saver(path: string, marker: number): ChildProcess {
    const script = `
      const [{ createEmbeddingBagCollection }, { rowwiseAdagrad }] = await Promise.all([
        import(${JSON.stringify(src('../../src/index.ts'))}),
        import(${JSON.stringify(src('../../../optim/src/index.ts'))}),
      ]);
      const c = await createEmbeddingBagCollection(
        [{ name: 'big', rows: ${ROWS}, dim: ${DIM}, storage: 'float16', init: 'zeros',
           optimizer: rowwiseAdagrad({ lr: 0.1 }) }],
        { seed: 7 },
      );
      c.writeRows('big', new Float32Array(${DIM}).fill(${marker}), [0]);
      await c.save(${JSON.stringify(path)});
      console.log('saved');
    `;
    return spawn(
      process.execPath,
      ['--conditions=@halfstep/source', '--import', 'tsx', '--input-type=module', '-e', script],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  }

  it('leaves the previous checkpoint loadable; the next save removes the temporaries', async () => {
    const path = join(dir, 'big.safetensors');
    const pattern = temporaryPattern('big.safetensors');
    const temporaries = () => fs.readdirSync(dir).filter((f) => pattern.test(f));
    const first = await make();
    first.writeRows('big', new Float32Array(DIM).fill(1), [0]);
    await first.save(path);
    const complete = new Set([1]); // markers of the saves that finished
    const seen = new Set<string>();
    let midWrite = 0;
    const deadline = Date.now() + 90_000;
    for (let round = 2; round < 2 + ROUNDS && Date.now() < deadline; round++) {
      const child = saver(path, round);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d;
      });
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
        child.on('exit', (code, signal) => resolve(signal ?? code)),
      );
      let exitedYet = false;
      void exited.then(() => {
        exitedYet = true;
      });
      // Kill it with SIGKILL as soon as its temporary file appears (it is writing then).
      let victim: string | undefined;
      const roundEnd = Date.now() + 30_000;
      while (!exitedYet && Date.now() < roundEnd) {
        victim = temporaries().find((f) => !seen.has(f));
        if (victim !== undefined) {
          child.kill('SIGKILL');
          break;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      if (victim === undefined) child.kill('SIGKILL');
      const how = await exited;
      if (victim === undefined) {
        // It finished between two looks (a fast disk): a complete save, nothing to kill.
        expect(how, `round ${round}: no temporary file appeared; ${stderr}`).toBe(0);
        complete.add(round);
        continue;
      }
      seen.add(victim);
      if (how !== 'SIGKILL') complete.add(round); // it finished before the signal landed
      const left = temporaries();
      if (left.includes(victim)) midWrite++;
      else complete.add(round); // renamed: that save was complete
      // The target is a complete, verified checkpoint: the previous one or, if the child got as
      // far as the rename, its own.
      const c = await make();
      await c.load(path, {
        onWarning: (m) => {
          throw new Error(m);
        },
      });
      expect(complete.has(await markerOf(c)), `round ${round}: loaded ${await markerOf(c)}`).toBe(
        true,
      );
    }
    // Some kills must have landed mid-write, or this test tested nothing.
    expect(midWrite).toBeGreaterThan(0);
    const orphans = temporaries();
    expect(orphans.length).toBeGreaterThan(0);
    // The next save (this process) removes every temporary its killed predecessors left.
    const last = await make();
    last.writeRows('big', new Float32Array(DIM).fill(99), [0]);
    await last.save(path);
    expect(fs.readdirSync(dir)).toEqual(['big.safetensors']);
    const check = await make();
    await check.load(path);
    expect(await markerOf(check)).toBe(99);
    console.log(
      `[kill -9] ${seen.size} saves killed, ${midWrite} mid-write; ${orphans.length} temporaries left, removed by the next save`,
    );
  }, 150_000);
});

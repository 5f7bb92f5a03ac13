import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSafetensors } from '@halfstep/embedding';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointFolder, saveCheckpoint } from '../../src/train/checkpoint.js';
import { Trainer } from '../../src/train/trainer.js';
import { crashOptions } from '../fixtures/crash-options.js';

const LOOP = fileURLToPath(new URL('../fixtures/save-loop.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'recsys-crash-'));
  dirs.push(dir);
  return dir;
}

/** Starts the save loop; resolves with it once it has saved `saves` times (the steps seen). */
function startLoop(
  dir: string,
  mode: 'train' | 'resave',
  saves: number,
): Promise<{ child: ChildProcess; steps: number[] }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@halfstep/source', '--import', TSX, LOOP, dir, mode],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    const steps: number[] = [];
    let buffered = '';
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
        const m = /^saved (\d+)$/.exec(buffered.slice(0, i));
        buffered = buffered.slice(i + 1);
        if (m) steps.push(Number(m[1]));
        if (steps.length === saves) resolve({ child, steps });
      }
    });
    child.on('exit', (code, signal) =>
      reject(new Error(`the save loop ended early (${code ?? signal}): ${stderr}`)),
    );
  });
}

function killNine(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** The checkpoint in `dir` loads (no error, all its checks pass); its step. */
async function loadsStep(dir: string): Promise<number> {
  const trainer = await Trainer.create(await crashOptions(dir));
  try {
    return trainer.state.step;
  } finally {
    trainer.dispose();
  }
}

describe('checkpoints survive kill -9 during a save', () => {
  it('kills the save loop at random points; the previous checkpoint always loads', async () => {
    const dir = await tempDir();
    let last = 0;
    // Periodic and end-of-epoch saves of new steps, then re-saves of the same step after a
    // resume, alternating, each killed at a random moment (usually inside a save).
    const modes = ['train', 'resave', 'train', 'resave', 'resave', 'train', 'resave'] as const;
    for (const mode of modes) {
      const { child, steps } = await startLoop(dir, mode, 1 + Math.floor(Math.random() * 3));
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      await killNine(child);
      const step = await loadsStep(dir);
      // At least the last save it reported, never before the previous round's.
      expect(step).toBeGreaterThanOrEqual(steps.at(-1)!);
      expect(step).toBeGreaterThanOrEqual(last);
      if (mode === 'resave') expect(step).toBe(last);
      last = step;
    }
    expect(last).toBeGreaterThan(0);
  }, 120_000);
});

describe('a damaged checkpoint is refused with the file named', () => {
  it('refuses a latest that points outside the checkpoint folder', async () => {
    const dir = await tempDir();
    for (const name of ['../../../../etc', '..', '/etc', 'a/../../x', '']) {
      await writeFile(join(dir, 'latest'), `${name}\n`);
      expect(() => checkpointFolder(dir, name)).toThrow(/latest/);
      const error = await loadsStep(dir).then(
        () => null,
        (e: Error) => e,
      );
      if (name === '') continue; // an empty latest is refused too, checked above
      expect(error?.message).toContain(join(dir, 'latest'));
      expect(error?.message).toContain(JSON.stringify(name));
      expect(error?.message).not.toContain('dense.safetensors');
    }
    expect(checkpointFolder(dir, 'step-000000003-1')).toBe(join(dir, 'step-000000003-1'));
  }, 60_000);

  it('names the dense file when its metadata is not JSON', async () => {
    const dir = await tempDir();
    const trainer = await Trainer.create(await crashOptions(dir));
    try {
      await saveCheckpoint(
        dir,
        trainer.model,
        trainer.denseOptimizer,
        trainer.state,
        trainer.fingerprint,
      );
    } finally {
      trainer.dispose();
    }
    const name = (await readFile(join(dir, 'latest'), 'utf8')).trim();
    const dense = join(dir, name, 'dense.safetensors');
    await writeSafetensors(
      dense,
      { x: { dtype: 'F32', shape: [1], data: new Float32Array(1) } },
      { 'halfstep-recsys': '{fingerprint: oops' },
    );
    await expect(loadsStep(dir)).rejects.toThrow(dense);
  }, 60_000);
});

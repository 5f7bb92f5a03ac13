import { initProgressRows, type TableSpec } from '@halfstep/backend';
import { createJsBackend } from '@halfstep/backend-js';
import { adam, rowwiseAdagrad, sgd } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import {
  describeTableMemory,
  initProgress,
  isLargeTable,
  LARGE_TABLE_BYTES,
  LARGE_TABLE_ROWS,
  type ProgressSink,
  tableMemory,
  withTableProgress,
} from '../../src/train/table-memory.js';

/** A sink that keeps what is written. */
function sink(tty: boolean): ProgressSink & { text: string[] } {
  const text: string[] = [];
  return { text, tty, write: (t) => void text.push(t) };
}

/** A clock that moves `step` ms at every read. */
function clock(step: number): () => number {
  let t = 0;
  return () => {
    t += step;
    return t;
  };
}

describe('tableMemory', () => {
  it('sums the bytes of every table, by hand', () => {
    // dim 4, float16 weights (2 bytes), Adam: two float32 slots per element.
    const m = tableMemory([10, 20, 30], 4, 'fp16-sr', { name: 'adam', lr: 0.01 });
    expect(m).toEqual({
      tables: 3,
      rows: 60,
      dim: 4,
      storage: 'float16',
      weightBytes: 60 * 4 * 2,
      stateBytes: 60 * 4 * 2 * 4,
      largeTables: 0,
    });
    // Row-wise Adagrad: one float32 per row; fp32 weights.
    const r = tableMemory([1000], 64, 'fp32', { name: 'rowwise-adagrad', lr: 0.01 });
    expect([r.weightBytes, r.stateBytes]).toEqual([1000 * 256, 1000 * 4]);
    expect(describeTableMemory(r, 'fp32')).toBe(
      '[fp32] embedding tables: 1 tables, 1000 rows x 64 float32: weights 250.00 KiB (256000 bytes) + optimizer state 3.91 KiB (4000 bytes) = 253.91 KiB (260000 bytes)',
    );
  });

  it('counts the large tables', () => {
    const m = tableMemory([LARGE_TABLE_ROWS + 1, 5, LARGE_TABLE_ROWS], 1, 'bf16-sr', {
      name: 'sgd',
      lr: 0.1,
    });
    expect(m.largeTables).toBe(1);
    // 2^22 rows x 64 float32 = 1 GiB: large by bytes.
    expect(tableMemory([2 ** 22], 64, 'fp32', { name: 'sgd', lr: 0.1 }).largeTables).toBe(1);
  });
});

describe('isLargeTable', () => {
  const storage = 'float16' as const;
  it('by rows', () => {
    const optimizer = sgd({ lr: 0.1 });
    expect(isLargeTable({ rows: LARGE_TABLE_ROWS, dim: 1, storage, optimizer })).toBe(false);
    expect(isLargeTable({ rows: LARGE_TABLE_ROWS + 1, dim: 1, storage, optimizer })).toBe(true);
  });
  it('by bytes, optimizer state included', () => {
    // 2^20 rows x 128 x 2 bytes = 256 MiB of weights: not more than the limit without state.
    const rows = 2 ** 20;
    expect(LARGE_TABLE_BYTES).toBe(rows * 128 * 2);
    expect(isLargeTable({ rows, dim: 128, storage, optimizer: sgd({ lr: 0.1 }) })).toBe(false);
    const withState = { rows, dim: 128, storage, optimizer: rowwiseAdagrad({ lr: 0.1 }) };
    expect(isLargeTable(withState)).toBe(true);
  });
});

describe('initProgress', () => {
  const STEP = 2 ** 20;
  const total = 100 * STEP;

  it('off a terminal: a line per 10% at most, 2 s apart, and a last one', () => {
    const s = sink(false);
    const report = initProgress({ label: '[x] table C1', sink: s, now: clock(500) });
    for (let done = STEP; done <= total; done += STEP) report(done, total);
    // 100 calls, 0.5 s apart: 10% takes 5 s, so one line per 10%.
    expect(s.text).toHaveLength(10);
    for (const line of s.text)
      expect(line).toMatch(/^\[x\] table C1: initialising \d+% \(\d+\/\d+ rows, [\d.]+ s\)\n$/);
    expect(s.text[0]).toContain('initialising 10% ');
    expect(s.text.at(-1)).toBe(
      `[x] table C1: initialising 100% (${total}/${total} rows, 50.0 s)\n`,
    );
  });

  it('off a terminal: nothing for a table made within 2 s', () => {
    const s = sink(false);
    const report = initProgress({ label: 't', sink: s, now: clock(10) });
    for (let done = STEP; done <= total; done += STEP) report(done, total);
    expect(s.text).toEqual([]);
  });

  it('off a terminal: at most one line per 2 s however fast the percent goes', () => {
    const s = sink(false);
    const report = initProgress({ label: 't', sink: s, now: clock(1000) });
    for (let k = 1; k <= 10; k++) report(k * 10 * STEP, total);
    // Every call crosses a tenth, a second apart: lines at 2 s, 4 s, ... and the last.
    expect(s.text.length).toBeLessThanOrEqual(6);
    expect(s.text.at(-1)).toContain('initialising 100% ');
  });

  it('on a terminal: one line rewritten in place, ended by a newline', () => {
    const s = sink(true);
    const report = initProgress({ label: 't', sink: s, now: clock(100) });
    for (let done = STEP; done <= total; done += STEP) report(done, total);
    // 10 s in all: every 2 s or 10%.
    expect(s.text.length).toBeGreaterThanOrEqual(10);
    expect(s.text.length).toBeLessThanOrEqual(11);
    for (const t of s.text) expect(t.startsWith('\r')).toBe(true);
    expect(s.text.slice(0, -1).every((t) => !t.includes('\n'))).toBe(true);
    expect(s.text.at(-1)).toContain('initialising 100% ');
    expect(s.text.at(-1)?.endsWith('\x1b[K\n')).toBe(true);
  });
});

describe('withTableProgress', () => {
  function spec(name: string, rows: number): TableSpec {
    return {
      name,
      index: 0,
      rows,
      dim: 64,
      storage: 'float16',
      rounding: 'nearest-even',
      optimizer: adam({ lr: 0.01 }),
      seed: 1n,
      init: { uniform: 0.1 },
    };
  }

  it('says what a large table takes, shows its progress, and restores the backend', async () => {
    const backend = await createJsBackend();
    const original = backend.createTable;
    const s = sink(false);
    const lines: string[] = [];
    const every = initProgressRows(64);
    const rows = 2 * every;
    await withTableProgress(
      backend,
      2,
      (line) => lines.push(line),
      async () => {
        backend.createTable(spec('small', 10));
        backend.createTable(spec('big', rows));
      },
      { progress: s, label: '[fp16]', isLarge: (t) => t.rows > 10, now: clock(5000) },
    );
    expect(backend.createTable).toBe(original);
    expect(Object.hasOwn(backend, 'createTable')).toBe(false);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^ {2}table big \(2\/2, 131072 rows\): initialised in/);
    expect(s.text[0]).toBe(
      `[fp16] table big: allocating ${rows} rows x 64 float16: weights 16.00 MiB (${rows * 128} bytes) + optimizer state 64.00 MiB (${rows * 512} bytes)\n`,
    );
    // 2 reports, 5 s apart, each another half of the rows.
    expect(s.text.slice(1)).toEqual([
      `[fp16] table big: initialising 50% (${every}/${rows} rows, 5.0 s)\n`,
      `[fp16] table big: initialising 100% (${rows}/${rows} rows, 10.0 s)\n`,
    ]);
    backend.dispose();
  });

  it('without a progress sink or a line writer it writes nothing', async () => {
    const backend = await createJsBackend();
    const handle = await withTableProgress(backend, 1, undefined, async () =>
      backend.createTable(spec('t', 100)),
    );
    expect(handle.rows).toBe(100);
    backend.dispose();
  });
});

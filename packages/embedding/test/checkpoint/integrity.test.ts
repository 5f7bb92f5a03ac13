import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adagrad, adam, momentum, rowwiseAdagrad, sgd } from '@halfstep/optim';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseHeader, readHeaderLength } from '../../src/checkpoint/decode.js';
import {
  addChecksums,
  CHECKSUM_KEY_PREFIX,
  readSafetensors,
  sha256Hex,
  type Tensor,
  writeSafetensors,
} from '../../src/checkpoint/index.js';
import {
  CheckpointError,
  type CheckpointErrorReason,
  CheckpointMismatchError,
  createEmbeddingBagCollection,
  type EmbeddingBagCollection,
  type TableConfig,
  UNVERIFIED_WARNING_CODE,
} from '../../src/index.js';
import { batch, lcg } from '../helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'halfstep-integrity-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ROWS = 24;
const DIM = 4;

/** One table per storage, each with another optimizer and state storage. */
const tables = (overrides: Partial<Record<string, Partial<TableConfig>>> = {}): TableConfig[] =>
  [
    { name: 'w32', storage: 'float32', optimizer: adagrad({ lr: 0.1 }) },
    { name: 'w16', storage: 'float16', optimizer: rowwiseAdagrad({ lr: 0.1 }) },
    {
      name: 'wbf',
      storage: 'bfloat16',
      optimizer: adam({ lr: 0.01, stateStorage: 'float16' }),
      pooling: 'mean',
    },
    {
      name: 'e4m3',
      storage: 'float8e4m3',
      optimizer: momentum({ lr: 0.1, stateStorage: 'bfloat16' }),
    },
    { name: 'e5m2', storage: 'float8e5m2', optimizer: sgd({ lr: 0.1 }) },
  ].map((t) => ({ rows: ROWS, dim: DIM, ...t, ...overrides[t.name] }) as TableConfig);

const create = (overrides?: Parameters<typeof tables>[0]) =>
  createEmbeddingBagCollection(tables(overrides), { seed: 11 });

async function train(c: EmbeddingBagCollection, steps: number) {
  const rnd = lcg(5);
  for (let s = 0; s < steps; s++) {
    const batches = c.configs.map(() => batch(rnd, ROWS, 4, 3));
    const forward = c.forward(batches);
    await c.backward(
      forward,
      c.configs.map(() => Float32Array.from({ length: 4 * DIM }, () => rnd() - 0.5)),
    );
  }
}

const snapshot = async (c: EmbeddingBagCollection) =>
  Buffer.concat(
    (await Promise.all(c.handles.map((h) => c.backend.exportTable(h)))).flatMap((d) => [
      Buffer.from(d.weights),
      Buffer.from(d.state),
    ]),
  );

let good: string;
let goodBytes: Buffer;
let target: EmbeddingBagCollection;
let targetBefore: Buffer;

beforeAll(async () => {
  const c = await create();
  await train(c, 4);
  good = join(dir, 'good.safetensors');
  await c.save(good);
  goodBytes = await readFile(good);
  // The collection every bad file is loaded into: it must never change.
  target = await create();
  await train(target, 1);
  targetBefore = await snapshot(target);
});

let counter = 0;

/**
 * Writes a copy of the good checkpoint with `edit` applied to its tensors and metadata
 * (checksum keys removed first). `checksums`: 'fresh' recomputes them (the file is consistent,
 * so the loader's other checks are what must catch the edit), 'none' writes none, 'stale' puts
 * the good file's checksums back.
 */
async function rewrite(
  edit: (tensors: Record<string, Tensor>, metadata: Record<string, string>) => void,
  checksums: 'fresh' | 'none' | 'stale' = 'fresh',
): Promise<string> {
  const { tensors, metadata } = await readSafetensors(good, { copy: true });
  const meta: Record<string, string> = {};
  const sums: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    (key.startsWith(CHECKSUM_KEY_PREFIX) ? sums : meta)[key] = value;
  }
  const ts: Record<string, Tensor> = { ...tensors };
  edit(ts, meta);
  const path = join(dir, `edited-${counter++}.safetensors`);
  const out =
    checksums === 'fresh'
      ? await addChecksums(ts, meta, sha256Hex)
      : checksums === 'stale'
        ? { ...meta, ...sums }
        : meta;
  await writeSafetensors(path, ts, out);
  return path;
}

async function loadError(path: string, c = target): Promise<Error> {
  const error = await c.load(path, { onWarning: () => {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `${path} loaded`).toBeInstanceOf(Error);
  return error as Error;
}

async function expectRejected(
  path: string,
  reason: CheckpointErrorReason,
  message: string | RegExp,
): Promise<CheckpointError> {
  const error = await loadError(path);
  expect(error).toBeInstanceOf(CheckpointError);
  const e = error as CheckpointError;
  expect(e.reason, e.message).toBe(reason);
  expect(e.path).toBe(path);
  expect(e.message.startsWith(`${path}: `)).toBe(true);
  expect(e.message).toMatch(message);
  expect(await snapshot(target)).toEqual(targetBefore);
  return e;
}

describe('checksums', () => {
  it('save records a sha256 checksum of every tensor and of the metadata', async () => {
    const { tensors, metadata } = await readSafetensors(good);
    const names = Object.keys(tensors);
    expect(names.length).toBe(10); // 5 weights; adagrad 1 + rowwise 1 + adam 2 + momentum 1 state
    for (const name of [...names, '__metadata__']) {
      expect(metadata[`${CHECKSUM_KEY_PREFIX}${name}`], name).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    // The checksum of a tensor is SHA-256 of its bytes in the file: anyone can check it.
    const { createHash } = await import('node:crypto');
    const n = readHeaderLength(goodBytes, goodBytes.length);
    const header = parseHeader(goodBytes.subarray(8, 8 + n));
    for (const e of header.entries) {
      const bytes = goodBytes.subarray(8 + n + e.begin, 8 + n + e.end);
      expect(metadata[`${CHECKSUM_KEY_PREFIX}${e.name}`]).toBe(
        `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      );
    }
    // ...and it loads without a warning.
    const c = await create();
    const onWarning = vi.fn();
    await c.load(good, { onWarning });
    expect(onWarning).not.toHaveBeenCalled();
    expect(c.step).toBe(4);
  });

  it('50 random single-bit flips in the data section are each rejected, naming the tensor', async () => {
    const n = readHeaderLength(goodBytes, goodBytes.length);
    const { entries } = parseHeader(goodBytes.subarray(8, 8 + n));
    const dataStart = 8 + n;
    const dataLength = goodBytes.length - dataStart;
    const owner = (offset: number) => entries.find((e) => offset >= e.begin && offset < e.end)!;
    // 50 flips at positions and bits drawn from a fixed-seed LCG, then the first byte of every
    // tensor so that each tensor is hit at least once.
    const rnd = lcg(20240607);
    const flips: Array<[number, number]> = [];
    for (let k = 0; k < 50; k++) {
      flips.push([Math.floor(rnd() * dataLength), Math.floor(rnd() * 8)]);
    }
    for (const e of entries) flips.push([e.begin, 7]);
    const hit = new Set<string>();
    const path = join(dir, 'flipped.safetensors');
    for (const [offset, bit] of flips) {
      const bytes = Buffer.from(goodBytes);
      bytes[dataStart + offset]! ^= 1 << bit;
      await writeFile(path, bytes);
      const name = owner(offset).name;
      hit.add(name);
      const e = await expectRejected(
        path,
        'checksum-mismatch',
        `tensor ${JSON.stringify(name)}: SHA-256 of its`,
      );
      expect(e.message).toMatch(/the data is corrupted/);
    }
    expect(hit.size).toBe(entries.length);
  });

  it('every header byte flipped (one bit each) and every bit of the length prefix is rejected', async () => {
    const n = readHeaderLength(goodBytes, goodBytes.length);
    const path = join(dir, 'header-flip.safetensors');
    const flips: Array<[number, number]> = [];
    for (let i = 0; i < 8; i++) for (let b = 0; b < 8; b++) flips.push([i, b]);
    for (let i = 8; i < 8 + n; i++) flips.push([i, i % 8]);
    const reasons = new Map<string, number>();
    for (const [i, b] of flips) {
      const bytes = Buffer.from(goodBytes);
      bytes[i]! ^= 1 << b;
      await writeFile(path, bytes);
      const error = await loadError(path);
      const kind = error instanceof CheckpointError ? error.reason : error.name;
      expect(
        error instanceof CheckpointError || error instanceof CheckpointMismatchError,
        `byte ${i} bit ${b}: ${error.message}`,
      ).toBe(true);
      reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
    }
    expect(await snapshot(target)).toEqual(targetBefore);
    // The metadata checksum is what catches edits of the step, seed or table records.
    expect(reasons.get('checksum-mismatch')).toBeGreaterThan(0);
    console.log(`[integrity] ${flips.length} header flips rejected:`, Object.fromEntries(reasons));
  }, 120_000);

  it('a changed metadata value under the old checksums is a checksum mismatch', async () => {
    const path = await rewrite((_, m) => {
      m['halfstep.step'] = '5';
    }, 'stale');
    await expectRejected(path, 'checksum-mismatch', 'the metadata: SHA-256 of its');
  });

  it('a file without checksums (e.g. rewritten by PyTorch) loads, with a warning', async () => {
    const path = await rewrite(() => {}, 'none');
    const c = await create();
    const warnings: string[] = [];
    await c.load(path, { onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.startsWith(`${path}: the file records no checksums`)).toBe(true);
    expect(warnings[0]).toMatch(/the bytes of its 10 tensors and its metadata cannot be verified/);
    expect(c.step).toBe(4);
    const ref = await create();
    await ref.load(good);
    expect(await snapshot(c)).toEqual(await snapshot(ref));

    // Without onWarning: process.emitWarning, with a code to filter on.
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      await c.load(path);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.calls[0]![0]).toMatch(/records no checksums/);
      expect(spy.mock.calls[0]![1]).toEqual({
        type: 'CheckpointWarning',
        code: UNVERIFIED_WARNING_CODE,
      });
    } finally {
      spy.mockRestore();
    }
  });

  it('without checksums, the value and metadata checks still apply', async () => {
    const path = await rewrite((t, m) => {
      (t['w16.weight']!.data as Uint16Array)[3] = 0x7e00;
      m['halfstep.step'] = '4';
    }, 'none');
    const warn = vi.fn();
    await expect(target.load(path, { onWarning: warn })).rejects.toThrow(/is NaN/);
    expect(warn).not.toHaveBeenCalled(); // no warning for a file that does not load
  });

  it('a checksum missing for one tensor, naming no tensor, or malformed is refused', async () => {
    const missing = await rewrite(() => {}, 'stale');
    // Remove one checksum by rewriting the metadata without it.
    const { tensors, metadata } = await readSafetensors(missing, { copy: true });
    delete metadata[`${CHECKSUM_KEY_PREFIX}wbf.optimizer.exp_avg`];
    await writeSafetensors(missing, tensors, metadata);
    await expectRejected(
      missing,
      'invalid-metadata',
      'tensor "wbf.optimizer.exp_avg" has no checksum (metadata "halfstep.checksum.wbf.optimizer.exp_avg") although the file records checksums for others',
    );

    const dangling = join(dir, 'dangling.safetensors');
    await writeSafetensors(dangling, tensors, {
      ...metadata,
      [`${CHECKSUM_KEY_PREFIX}wbf.optimizer.exp_avg`]: `sha256:${'0'.repeat(64)}`,
      [`${CHECKSUM_KEY_PREFIX}nope`]: `sha256:${'0'.repeat(64)}`,
    });
    await expectRejected(
      dangling,
      'invalid-metadata',
      /checksum of tensor "nope", which the file does not have/,
    );

    const malformed = join(dir, 'malformed.safetensors');
    await writeSafetensors(malformed, tensors, {
      ...metadata,
      [`${CHECKSUM_KEY_PREFIX}wbf.optimizer.exp_avg`]: `sha256:${'A'.repeat(64)}`,
    });
    await expectRejected(malformed, 'invalid-metadata', /expected "sha256:" and 64 lowercase hex/);
  });
});

describe('values', () => {
  /** Element 9 of a [24, 4] tensor is row 2, column 1. */
  const AT = 9;
  const cases: Array<[table: string, codes: number[], shown: RegExp[]]> = [
    ['w32', [Number.NaN, Infinity, -Infinity], [/is NaN;/, /is Infinity;/, /is -Infinity;/]],
    [
      'w16',
      [0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xffff],
      [
        /is Infinity \(float16 code 0x7c00\)/,
        /is -Infinity \(float16 code 0xfc00\)/,
        /is NaN \(float16 code 0x7e00\)/,
        /is NaN \(float16 code 0x7c01\)/,
        /is NaN \(float16 code 0xffff\)/,
      ],
    ],
    [
      'wbf',
      [0x7f80, 0xff80, 0x7fc0, 0x7f81],
      [
        /is Infinity \(bfloat16 code 0x7f80\)/,
        /is -Infinity \(bfloat16 code 0xff80\)/,
        /is NaN \(bfloat16 code 0x7fc0\)/,
        /is NaN \(bfloat16 code 0x7f81\)/,
      ],
    ],
    ['e4m3', [0x7f, 0xff], [/is NaN \(float8e4m3 code 0x7f\)/, /is NaN \(float8e4m3 code 0xff\)/]],
    [
      'e5m2',
      [0x7c, 0xfc, 0x7e, 0x7d, 0xff],
      [
        /is Infinity \(float8e5m2 code 0x7c\)/,
        /is -Infinity \(float8e5m2 code 0xfc\)/,
        /is NaN \(float8e5m2 code 0x7e\)/,
        /is NaN \(float8e5m2 code 0x7d\)/,
        /is NaN \(float8e5m2 code 0xff\)/,
      ],
    ],
  ];
  for (const [table, codes, shown] of cases) {
    it(`${table}: NaN and infinite weight codes are refused, naming tensor, position and value`, async () => {
      for (const [k, code] of codes.entries()) {
        const path = await rewrite((t) => {
          (t[`${table}.weight`]!.data as Float32Array | Uint16Array | Uint8Array)[AT] = code;
        });
        const e = await expectRejected(
          path,
          'invalid-value',
          `tensor "${table}.weight": element ${AT} (row 2, column 1) is `,
        );
        expect(e.message).toMatch(shown[k]!);
        expect(e.message).toMatch(/weights must be finite$/);
      }
    });
  }

  it('the largest finite codes, negative values and zeros load', async () => {
    const path = await rewrite((t) => {
      (t['w32.weight']!.data as Float32Array).set([3.4028234663852886e38, -3.4e38, -0]);
      (t['w16.weight']!.data as Uint16Array).set([0x7bff, 0xfbff, 0x8000, 0x0001]);
      (t['wbf.weight']!.data as Uint16Array).set([0x7f7f, 0xff7f, 0x8000]);
      (t['e4m3.weight']!.data as Uint8Array).set([0x7e, 0xfe, 0x80]);
      (t['e5m2.weight']!.data as Uint8Array).set([0x7b, 0xfb, 0x80]);
      // Non-squared state may be negative; sums of squares may be -0.
      (t['wbf.optimizer.exp_avg']!.data as Uint16Array).set([0xbc00, 0xfbff]);
      (t['e4m3.optimizer.momentum']!.data as Uint16Array).set([0xbf80]);
      (t['w32.optimizer.sum_squares']!.data as Float32Array).set([-0]);
      (t['wbf.optimizer.exp_avg_sq']!.data as Uint16Array).set([0x8000]);
    });
    const c = await create();
    await c.load(path);
    expect([...(await c.readRows('w16', [0]))]).toEqual([65504, -65504, -0, 2 ** -24]);
    expect([...(await c.readRows('e4m3', [0]))].slice(0, 3)).toEqual([448, -448, -0]);
  });

  const stateCases: Array<[tensor: string, value: number, message: RegExp]> = [
    [
      'w32.optimizer.sum_squares',
      Number.NaN,
      /element 9 \(row 2, column 1\) is NaN; optimizer state "sum_squares" is a sum of squares: it must be finite and >= 0/,
    ],
    [
      'w32.optimizer.sum_squares',
      -1,
      /element 9 \(row 2, column 1\) is -1; optimizer state "sum_squares" is a sum of squares/,
    ],
    [
      'w16.optimizer.sum_squares',
      Infinity,
      /element 9 \(row 9\) is Infinity; optimizer state "sum_squares" is a sum of squares/,
    ],
    ['w16.optimizer.sum_squares', -1e-30, /element 9 \(row 9\) is -1\.00\d*e-30;/],
    [
      'wbf.optimizer.exp_avg_sq',
      0xbc00,
      /is -1 \(float16 code 0xbc00\); optimizer state "exp_avg_sq" is a sum of squares/,
    ],
    ['wbf.optimizer.exp_avg_sq', 0x0001 | 0x8000, /is -5\.96\d*e-8 \(float16 code 0x8001\)/],
    [
      'wbf.optimizer.exp_avg',
      0x7e00,
      /is NaN \(float16 code 0x7e00\); optimizer state "exp_avg" must be finite$/,
    ],
    [
      'e4m3.optimizer.momentum',
      0x7fc0,
      /is NaN \(bfloat16 code 0x7fc0\); optimizer state "momentum" must be finite$/,
    ],
    ['e4m3.optimizer.momentum', 0xff80, /is -Infinity \(bfloat16 code 0xff80\)/],
  ];
  for (const [tensor, value, message] of stateCases) {
    it(`state ${tensor} = ${value} is refused`, async () => {
      const path = await rewrite((t) => {
        (t[tensor]!.data as Float32Array | Uint16Array)[9] = value;
      });
      await expectRejected(path, 'invalid-value', message);
    });
  }

  it('a table that went NaN is saved as it is, then refused at load (the row would stay NaN)', async () => {
    const c = await create();
    // Put a float16 NaN (0x7e00, little-endian) at w16's row 5, column 1: element 21.
    const data = await c.backend.exportTable(c.handles[1]!);
    data.weights.set([0x00, 0x7e], 2 * 21);
    c.backend.importTable(c.handles[1]!, data);
    const path = join(dir, 'nan-row.safetensors');
    await c.save(path);
    await expect(target.load(path)).rejects.toThrow(
      /tensor "w16.weight": element 21 \(row 5, column 1\) is NaN \(float16 code 0x7e00\)/,
    );
    expect(await snapshot(target)).toEqual(targetBefore);
  });
});

describe('metadata', () => {
  for (const step of ['1e3', ' 0x32', '-1', '01', '', '1.5', '+5', '5 ', '9007199254740992', '٣']) {
    it(`step ${JSON.stringify(step)} is refused`, async () => {
      const path = await rewrite((_, m) => {
        m['halfstep.step'] = step;
      });
      await expectRejected(
        path,
        'invalid-metadata',
        `metadata "halfstep.step" is ${JSON.stringify(step)}, expected a non-negative decimal integer`,
      );
    });
  }

  it('steps 0, 1000 and 2^53 - 1 load', async () => {
    for (const step of ['0', '1000', '9007199254740991']) {
      const path = await rewrite((_, m) => {
        m['halfstep.step'] = step;
      });
      const c = await create();
      await c.load(path);
      expect(c.step).toBe(Number(step));
    }
  });

  it('a step missing is refused', async () => {
    const path = await rewrite((_, m) => {
      delete m['halfstep.step'];
    });
    await expectRejected(path, 'invalid-metadata', 'metadata "halfstep.step" is missing');
  });

  const mismatch = async (
    overrides: Parameters<typeof tables>[0],
    message: string | RegExp,
    path = good,
  ) => {
    const c = await create(overrides);
    const before = await snapshot(c);
    const error = await c.load(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CheckpointMismatchError);
    expect((error as Error).message).toMatch(message);
    expect(await snapshot(c)).toEqual(before);
  };

  it('a collection with another rounding or pooling is refused, naming the field', async () => {
    await mismatch(
      { w16: { rounding: 'nearest-even' } },
      `${good}: table 1 ("w16"): checkpoint rounding "stochastic", this table "nearest-even"`,
    );
    await mismatch(
      { wbf: { pooling: 'sum' } },
      `table 2 ("wbf"): checkpoint pooling "mean", this table "sum"`,
    );
  });

  it('changed rounding or pooling metadata is refused, naming the field', async () => {
    const edit = (field: string, value: string) =>
      rewrite((_, m) => {
        const records = JSON.parse(m['halfstep.tables']!);
        records[3][field] = value;
        m['halfstep.tables'] = JSON.stringify(records);
      });
    await mismatch(
      {},
      'table 3 ("e4m3"): checkpoint rounding "nearest-even", this table "stochastic"',
      await edit('rounding', 'nearest-even'),
    );
    await mismatch(
      {},
      'table 3 ("e4m3"): checkpoint pooling "mean", this table "sum"',
      await edit('pooling', 'mean'),
    );
    await mismatch(
      {},
      'table 3 ("e4m3"): checkpoint storage "float8e5m2", this table "float8e4m3"',
      await edit('storage', 'float8e5m2'),
    );
  });

  it('another optimizer kind or state storage is refused; other hyperparameters load', async () => {
    await mismatch(
      { wbf: { optimizer: adam({ lr: 0.01 }) } },
      'table "wbf": checkpoint optimizer adam (state float16), this table adam (state float32)',
    );
    await mismatch(
      { w16: { optimizer: adagrad({ lr: 0.1 }) } },
      'checkpoint optimizer rowwise-adagrad (state float32), this table adagrad (state float32)',
    );
    // Fine-tuning from a checkpoint with a smaller learning rate, another eps or a max-norm: the
    // state's layout is the same, so the tables load and the step resumes.
    for (const overrides of [
      { e5m2: { optimizer: sgd({ lr: 0.2 }) } },
      { w32: { optimizer: adagrad({ lr: 0.1, eps: 1e-6 }) } },
      { e5m2: { optimizer: sgd({ lr: 0.1, maxNorm: 1 }) } },
    ]) {
      const c = await create(overrides);
      await c.load(good);
      expect(c.step).toBeGreaterThan(0);
    }
  });

  it('unknown record fields and extra tensors are refused', async () => {
    const unknown = await rewrite((_, m) => {
      const records = JSON.parse(m['halfstep.tables']!);
      records[0].nonFinite = 'skip-rows';
      m['halfstep.tables'] = JSON.stringify(records);
    });
    await expectRejected(
      unknown,
      'invalid-metadata',
      'metadata "halfstep.tables"[0] has unknown field "nonFinite"',
    );
    const extra = await rewrite((t) => {
      t.bias = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
    });
    await mismatch(
      {},
      'tensor "bias" of the checkpoint belongs to no table of this collection',
      extra,
    );
  });
});

import { JsBackend } from '@halfstep/backend-js';
// Relative until apps/bench lists "@halfstep/backend-wasm": "workspace:^" (then import the package).
import {
  createWasmBackend,
  setEncoder,
  type WasmBackend,
  WasmRandom,
  WasmStreamStochastic,
} from '@halfstep/backend-wasm';
import { decode, encode, float16 } from '@halfstep/codecs';
import { sgd } from '@halfstep/optim';
import { createEngine, createPhilox } from '@halfstep/rng';
import { stochastic } from '@halfstep/rounding';
import { xorshift128plus } from 'pure-rand/generator/xorshift128plus';
import { normalFloat32 } from '../data.js';
import type { BenchGroup, BenchTable, LocalRow } from '../harness.js';
import { measurePython, pythonTimer, shareWithPython } from '../python.js';

const N = 1 << 20;
const WORDS = 64 * 1024;

/** numpy / PyTorch on one thread, reading the same data from a shared file. */
function python(body: string, files: Record<string, string>): ReturnType<typeof measurePython> {
  const loads = Object.entries(files)
    .map(([name, spec]) => `${name} = ${spec}`)
    .join('\n');
  return measurePython(
    `${pythonTimer}\nimport numpy as np\n${body.includes('torch') ? 'import torch\ntorch.set_num_threads(1)\n' : ''}${loads}\n${body}`,
    { OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
  );
}

function codecTables(wasm: WasmBackend): BenchTable[] {
  const values = normalFloat32(N, 0.05);
  const halves = encode('float16', values);
  const file = JSON.stringify(shareWithPython(values));
  const halfFile = JSON.stringify(shareWithPython(halves));
  const x = { x: `np.fromfile(${file}, dtype=np.float32)` };
  const h = { h: `np.fromfile(${halfFile}, dtype=np.float16)` };
  const out16 = new Uint16Array(N);
  const outF32 = new Float32Array(N);
  const codec = wasm.codec;
  const k = wasm.kernels;
  // Resident rows: the data already lives in WASM memory (no copies in or out).
  const src = k.allocator.alloc(N * 4);
  const dst = k.allocator.alloc(N * 2);
  k.f32().set(values, src >>> 2);
  const residentNearest: LocalRow = {
    name: 'wasm kernel, data resident in WASM memory',
    items: N,
    run: () => {
      setEncoder(k, float16, false);
      k.exports.encode(src, dst, N, 1, 0, 0);
      return dst;
    },
  };
  const stream = new WasmStreamStochastic(k, { engine: createEngine('xoshiro128++', 1), bits: 8 });
  const streamPlus = new WasmStreamStochastic(k, {
    engine: createEngine('xorshift128+', 1),
    bits: 8,
  });
  const jsStream = stochastic({ random: createEngine('xoshiro128++', 1), bits: 8 });
  return [
    {
      title: `WASM encode float32 -> float16, nearest-even (${N} values, normal std 0.05, one thread)`,
      unit: 'values',
      baseline: 'numpy astype(float16)',
      rows: [
        {
          name: 'wasm encode float16',
          items: N,
          run: () => codec.encode('float16', values, { out: out16 }),
        },
        residentNearest,
        {
          name: 'js encode float16 (@halfstep/codecs)',
          items: N,
          run: () => encode('float16', values, { out: out16 }),
        },
        {
          name: 'numpy astype(float16)',
          measure: () => python(`timed(lambda: x.astype(np.float16), ${N})`, x),
        },
        {
          name: 'PyTorch .half() (1 thread)',
          measure: () => python(`t = torch.from_numpy(x)\ntimed(lambda: t.half(), ${N})`, x),
        },
      ],
    },
    {
      title: `WASM encode float32 -> float16, stochastic, 8 random bits per element (${N} values)`,
      unit: 'values',
      baseline: 'wasm encode float16 nearest-even',
      rows: [
        {
          name: 'wasm encode float16 nearest-even',
          items: N,
          run: () => codec.encode('float16', values, { out: out16 }),
        },
        {
          name: 'wasm stochastic, xoshiro128++ in WASM (fused)',
          items: N,
          run: () => codec.encode('float16', values, { out: out16, rounding: stream }),
        },
        {
          name: 'wasm stochastic, xorshift128+ in WASM (fused)',
          items: N,
          run: () => codec.encode('float16', values, { out: out16, rounding: streamPlus }),
        },
        {
          name: 'wasm stochastic, rounding.stochastic (JS bits)',
          items: N,
          run: () => codec.encode('float16', values, { out: out16, rounding: jsStream }),
        },
        {
          name: 'js stochastic (@halfstep/codecs + rounding)',
          items: N,
          run: () => encode('float16', values, { out: out16, rounding: jsStream }),
        },
      ],
    },
    {
      title: `WASM decode float16 -> float32 (${N} values)`,
      unit: 'values',
      baseline: 'numpy astype(float32)',
      rows: [
        {
          name: 'wasm decode float16',
          items: N,
          run: () => codec.decode('float16', halves, outF32),
        },
        {
          name: 'js decode float16 (@halfstep/codecs)',
          items: N,
          run: () => decode('float16', halves, outF32),
        },
        {
          name: 'numpy astype(float32)',
          measure: () => python(`timed(lambda: h.astype(np.float32), ${N})`, h),
        },
        {
          name: 'PyTorch .float() (1 thread)',
          measure: () => python(`t = torch.from_numpy(h)\ntimed(lambda: t.float(), ${N})`, h),
        },
      ],
    },
  ];
}

function rngTable(wasm: WasmBackend): BenchTable {
  const random = new WasmRandom(wasm.kernels);
  const out = new Uint32Array(WORDS);
  const philox10 = createPhilox(42);
  const philox7 = createPhilox(42, { rounds: 7 });
  const xorshift = createEngine('xorshift128+', 42);
  const jsXorshift = createEngine('xorshift128+', 42);
  const xoshiro = createEngine('xoshiro128++', 42);
  const pure = xorshift128plus(42);
  let position = 0;
  const next = () => {
    position += WORDS;
    return position;
  };
  return {
    title: `WASM random words: fill ${WORDS} uint32`,
    unit: 'words',
    baseline: 'pure-rand xorshift128plus next()',
    rows: [
      {
        name: 'wasm philox4x32-10 fillAt',
        items: WORDS,
        run: () => random.fillAt(philox10, next(), out),
      },
      {
        name: 'wasm philox4x32-7 fillAt',
        items: WORDS,
        run: () => random.fillAt(philox7, next(), out),
      },
      {
        name: 'js philox4x32-10 fillAt',
        items: WORDS,
        run: () => philox10.fillAt(next(), out),
      },
      { name: 'wasm xorshift128+ fill', items: WORDS, run: () => random.fill(xorshift, out) },
      { name: 'wasm xoshiro128++ fill', items: WORDS, run: () => random.fill(xoshiro, out) },
      { name: 'js xorshift128+ fillUint32', items: WORDS, run: () => jsXorshift.fillUint32(out) },
      {
        name: 'pure-rand xorshift128plus next()',
        items: WORDS,
        run: () => {
          for (let i = 0; i < out.length; i++) out[i] = pure.next();
          return out;
        },
      },
    ],
  };
}

/** The MLP's GEMM shapes (DLRM Kaggle, batch 128): m x k times k x n. */
const GEMMS: [number, number, number][] = [
  [128, 512, 256],
  [128, 367, 512],
];

function gemmTables(wasm: WasmBackend): BenchTable[] {
  const js = new JsBackend();
  return GEMMS.map(([m, k, n]) => {
    const a = normalFloat32(m * k, 1, 2);
    const b = normalFloat32(k * n, 1, 3);
    const c = new Float32Array(m * n);
    const files = {
      a: `np.fromfile(${JSON.stringify(shareWithPython(a))}, dtype=np.float32).reshape(${m}, ${k})`,
      b: `np.fromfile(${JSON.stringify(shareWithPython(b))}, dtype=np.float32).reshape(${k}, ${n})`,
    };
    const flops = 2 * m * n * k;
    // The operands live on each backend (uploaded once); C stays there.
    const on = (backend: WasmBackend | JsBackend) => ({
      a: backend.tensor(a),
      b: backend.tensor(b),
      c: backend.tensor(c),
    });
    const w = on(wasm);
    const j = on(js);
    return {
      title: `WASM GEMM ${m}x${k} times ${k}x${n} (one thread; items = flops)`,
      unit: 'flops',
      baseline: 'PyTorch matmul (1 thread)',
      rows: [
        { name: 'wasm matmul', items: flops, run: () => wasm.matmul({ m, n, k, ...w }) },
        {
          name: 'js matmul (@halfstep/backend-js)',
          items: flops,
          run: () => js.matmul({ m, n, k, ...j }),
        },
        {
          name: 'PyTorch matmul (1 thread)',
          measure: () =>
            python(
              `ta = torch.from_numpy(a)\ntb = torch.from_numpy(b)\ntimed(lambda: ta @ tb, ${flops})`,
              files,
            ),
        },
        {
          name: 'numpy matmul (1 thread)',
          measure: () => python(`timed(lambda: a @ b, ${flops})`, files),
        },
      ],
    };
  });
}

const TABLES = 8;
const ROWS = 100_000;
const DIM = 16;
const BATCH = 128;

/**
 * The embedding step rows: one thread, the reproducible multi-threaded update (rows split across
 * worker threads on shared memory, bit-identical to one thread; with about 125 distinct rows per
 * table, under 2 x minRowsPerThread, each table's update stays on one thread at these shapes), and
 * the hogwild mode (each step's update runs on a worker while the next step starts; racing,
 * results depend on timing). A hogwild round ends with at most a few updates still in flight (not
 * waited for).
 */
function embeddingTable(
  wasm: WasmBackend,
  threaded: WasmBackend,
  hogwild: WasmBackend,
): BenchTable {
  const js = new JsBackend();
  const rng = createEngine('xoshiro128++', 7);
  const batches = Array.from({ length: 16 }, () =>
    Array.from({ length: TABLES }, () => {
      const indices = new Int32Array(BATCH);
      for (let i = 0; i < BATCH; i++) indices[i] = Math.floor(ROWS * rng.nextFloat() ** 3);
      return { indices, offsets: Int32Array.from({ length: BATCH }, (_, b) => b) };
    }),
  );
  const grad = normalFloat32(BATCH * DIM, 0.01, 9);
  const row = (
    name: string,
    backend: WasmBackend | JsBackend,
    storage: string,
    rounding: string,
  ): LocalRow => {
    const tables = Array.from({ length: TABLES }, (_, t) =>
      backend.createTable({
        name: `t${t}`,
        index: t,
        rows: ROWS,
        dim: DIM,
        storage: storage as 'float16',
        rounding: rounding as 'stochastic',
        optimizer: sgd({ lr: 0.1 }),
        seed: 1n,
      }),
    );
    // Pooled outputs and gradients live on the backend; the host gradient is copied in every
    // step (as the v1 backward copied its host array into backend memory).
    const outputs = tables.map(() => backend.tensor(BATCH * DIM));
    const grads = tables.map(() => backend.tensor(BATCH * DIM));
    let step = 0;
    return {
      name,
      items: BATCH * TABLES,
      run: () => {
        const batch = batches[step % batches.length]!;
        for (let t = 0; t < TABLES; t++)
          backend.embeddingBagForward(tables[t]!, batch[t]!, 'sum', outputs[t]!);
        for (const g of grads) backend.write(g, grad);
        const result = backend.embeddingBagBackward(
          tables.map((table, t) => ({
            table,
            input: batch[t]!,
            pooling: 'sum' as const,
            gradOutput: grads[t]!,
            step,
          })),
        );
        step++;
        return result;
      },
    };
  };
  const indexFile = JSON.stringify(
    shareWithPython(Int32Array.from(batches.flatMap((b) => b.flatMap((t) => [...t.indices])))),
  );
  const gradFile = JSON.stringify(shareWithPython(grad));
  return {
    title: `WASM embedding training step: ${TABLES} tables of ${ROWS} x ${DIM}, batch ${BATCH} bags of 1 (forward + fused backward + SGD)`,
    unit: 'lookups',
    baseline: 'PyTorch EmbeddingBag float32 + SGD sparse (1 thread)',
    rows: [
      row('wasm float16 stochastic', wasm, 'float16', 'stochastic'),
      row('wasm float32', wasm, 'float32', 'nearest-even'),
      row(
        `wasm float16 stochastic, ${threaded.threads} threads`,
        threaded,
        'float16',
        'stochastic',
      ),
      row(`wasm float32, ${threaded.threads} threads`, threaded, 'float32', 'nearest-even'),
      row(
        `wasm float16 stochastic, ${hogwild.threads} threads hogwild`,
        hogwild,
        'float16',
        'stochastic',
      ),
      row(`wasm float32, ${hogwild.threads} threads hogwild`, hogwild, 'float32', 'nearest-even'),
      row('js float16 stochastic', js, 'float16', 'stochastic'),
      row('js float32', js, 'float32', 'nearest-even'),
      {
        name: 'PyTorch EmbeddingBag float32 + SGD sparse (1 thread)',
        measure: () =>
          python(
            `idx = torch.from_numpy(np.fromfile(${indexFile}, dtype=np.int32).astype(np.int64)).reshape(16, ${TABLES}, ${BATCH})
g = torch.from_numpy(np.fromfile(${gradFile}, dtype=np.float32)).reshape(${BATCH}, ${DIM})
bags = [torch.nn.EmbeddingBag(${ROWS}, ${DIM}, mode='sum', sparse=True) for _ in range(${TABLES})]
opt = torch.optim.SGD([p for b in bags for p in b.parameters()], lr=0.1)
offsets = torch.arange(${BATCH})
state = {'step': 0}
def step():
    s = state['step'] % 16
    state['step'] += 1
    opt.zero_grad()
    loss = sum((bags[t](idx[s, t], offsets) * g).sum() for t in range(${TABLES}))
    loss.backward()
    opt.step()
timed(step, ${BATCH * TABLES})`,
            {},
          ),
      },
    ],
  };
}

/**
 * @halfstep/backend-wasm against the JS backend, numpy and PyTorch (one thread): codecs, random
 * words, GEMM at the MLP's shapes, and an embedding training step.
 */
export const wasmGroup: BenchGroup = {
  name: 'wasm',
  async tables() {
    const wasm = await createWasmBackend();
    const threaded = await createWasmBackend({ threads: 2 });
    const hogwild = await createWasmBackend({ threads: 2, mode: 'hogwild' });
    console.log(`@halfstep/backend-wasm: ${wasm.build} build\n`);
    return [
      ...codecTables(wasm),
      rngTable(wasm),
      ...gemmTables(wasm),
      embeddingTable(wasm, threaded, hogwild),
    ];
  },
};

/** Times the phases of one training step (forward, aggregation, fused update) on a 1M x 64 table. */
import { sgd } from '@halfstep/optim';
import { AggregateScratch, aggregate } from '../src/aggregate.js';
import { embeddingBagForward } from '../src/forward.js';
import { allocateTable } from '../src/table.js';
import { applyUpdate, UndoJournal, UpdateScratch } from '../src/update.js';

const rows = 1_000_000,
  dim = 64,
  bags = 4096,
  L = 26,
  n = bags * L;
let s = 12345;
const rnd = () => {
  s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
  return s / 2 ** 32;
};
const indices = new Int32Array(n);
for (let i = 0; i < n; i++) indices[i] = Math.floor(rnd() * rows);
const offsets = new Int32Array(bags);
for (let b = 0; b < bags; b++) offsets[b] = b * L;
const grad = new Float32Array(bags * dim);
for (let i = 0; i < grad.length; i++) grad[i] = (rnd() - 0.5) * 1e-3;
const storage = (process.env.STORAGE ?? 'float16') as 'float16';
const rounding = (process.env.ROUNDING ?? 'stochastic') as 'stochastic';
const t = allocateTable({
  name: 't',
  index: 0,
  rows,
  dim,
  storage,
  rounding,
  optimizer: sgd({ lr: 0.01 }),
  seed: 1n,
});
const w = t.weights;
for (let i = 0; i < w.length; i++) w[i] = storage === 'float16' ? 0x3000 + (i & 0x3ff) : rnd();
const pooled = new Float32Array(bags * dim);
const as = new AggregateScratch();
const us = new UpdateScratch();
// The default 'error' policy journals every written row; JOURNAL=0 times 'skip-rows' (none).
const journal = process.env.JOURNAL === '0' ? null : new UndoJournal();
for (let step = 0; step < 10; step++) {
  const t0 = performance.now();
  embeddingBagForward(t, { indices, offsets }, 'sum', pooled);
  const t1 = performance.now();
  const agg = aggregate(
    { table: t.handle, input: { indices, offsets }, pooling: 'sum', gradOutput: grad, step },
    as,
  );
  const t2 = performance.now();
  applyUpdate(
    t,
    agg,
    grad,
    step,
    us,
    journal ? 'error' : 'skip-rows',
    journal?.begin(t, agg.count) ?? null,
  );
  journal?.clear();
  const t3 = performance.now();
  if (step >= 6)
    console.log(
      `fwd ${(t1 - t0).toFixed(1)} agg ${(t2 - t1).toFixed(1)} apply ${(t3 - t2).toFixed(1)} total ${(t3 - t0).toFixed(1)} ms; unique ${agg.count}`,
    );
}

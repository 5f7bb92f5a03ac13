import { adam, sgd } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import { BadInputError } from '../errors.js';
import type { Backend, TableHandle } from '../types.js';
import { type ConformanceContext, f32, failure, i32, spec, uniqueName, update } from './helpers.js';

// Finite inputs whose float32 update is not finite: 3e38 - (-3e38) overflows, as do
// lr x 3e38 for lr = 2 and Adam's (1 - beta2) x g^2 for g = 3e38.
const HUGE = 3e38;

/** A non-finite new weight or optimizer state is refused like a non-finite gradient. */
export function describeNonFiniteResults(ctx: ConformanceContext): void {
  /** Everything a table holds that the backend shows: codes when exportable, else values. */
  const contents = async (backend: Backend, t: TableHandle): Promise<number[]> => {
    if (!ctx.exportsTables) return [...(await backend.readRows(t))];
    const { weights, state } = await backend.exportTable(t);
    return [...weights, -1, ...state];
  };

  describe('fused backward: a non-finite new weight or state', () => {
    it.skipIf(!ctx.stepsAreAtomic)(
      "'error' rejects naming the smallest bad row of the first bad table, and no table of the call changes",
      async () => {
        const backend = ctx.backend();
        const good = backend.createTable(
          spec({
            name: uniqueName('nf-good'),
            rows: 4,
            dim: 2,
            storage: 'float16',
            rounding: 'stochastic',
            init: f32(1, 2, 3, 4, 5, 6, 7, 8),
          }),
        );
        const name = uniqueName('nf-bad');
        const bad = backend.createTable(
          spec({ name, index: 1, rows: 4, dim: 1, init: f32(1, HUGE, 1, HUGE) }),
        );
        const before = [await contents(backend, good), await contents(backend, bad)];
        const error = await failure(() =>
          backend.embeddingBagBackward([
            update(good, i32(0, 1, 2), i32(0, 1), backend.tensor(f32(1, 1, 1, 1))),
            // rows 0..3 ascending: row 0 is fine and written first; rows 1 and 3 overflow
            update(bad, i32(0, 1, 2, 3), i32(0, 1, 2, 3), backend.tensor(f32(1, -HUGE, 1, -HUGE))),
          ]),
        );
        expect(error).toBeInstanceOf(BadInputError);
        expect(String(error)).toMatch(
          new RegExp(
            `table "${name}": the update of row 1 gives a non-finite weight or optimizer state; nothing was updated`,
          ),
        );
        await backend.flush(); // observed: nothing left to report
        expect([await contents(backend, good), await contents(backend, bad)]).toEqual(before);
      },
    );

    it.skipIf(!ctx.stepsAreAtomic)(
      "a call mixing policies: an 'error' table's bad row also leaves a 'skip-rows' table before it unchanged",
      async () => {
        const backend = ctx.backend();
        const skipping = backend.createTable(spec({ rows: 2, dim: 1, init: f32(1, 2) }));
        const strict = backend.createTable(spec({ index: 1, rows: 1, dim: 1, init: f32(HUGE) }));
        const before = [await contents(backend, skipping), await contents(backend, strict)];
        const error = await failure(() =>
          backend.embeddingBagBackward([
            update(skipping, i32(0, 1), i32(0, 1), backend.tensor(f32(1, 1)), {
              nonFinite: 'skip-rows',
            }),
            update(strict, i32(0), i32(0), backend.tensor(f32(-HUGE))),
          ]),
        );
        expect(error).toBeInstanceOf(BadInputError);
        expect([await contents(backend, skipping), await contents(backend, strict)]).toEqual(
          before,
        );
      },
    );

    it("'error' refuses an optimizer state that overflows (Adam's squared gradient)", async () => {
      const backend = ctx.backend();
      const t = backend.createTable(
        spec({ rows: 2, dim: 2, optimizer: adam({ lr: 0.01 }), init: f32(1, 1, 1, 1) }),
      );
      const before = await contents(backend, t);
      const error = await failure(() =>
        backend.embeddingBagBackward([
          update(t, i32(1), i32(0), backend.tensor(f32(HUGE, 1)), { step: 3 }),
        ]),
      );
      expect(String(error)).toMatch(/the update of row 1 gives a non-finite weight or optimizer/);
      expect(await contents(backend, t)).toEqual(before);
    });

    it("'skip-rows' leaves the bad rows unchanged and gives every other row the bits it gets without them", async () => {
      const backend = ctx.backend();
      const table = (prefix: string) =>
        backend.createTable(
          spec({
            name: uniqueName(prefix),
            rows: 4,
            dim: 3,
            storage: 'float16',
            rounding: 'stochastic',
            optimizer: sgd({ lr: 2 }),
            init: f32(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2),
          }),
        );
      const withBad = table('nf-skip');
      const without = table('nf-clean'); // same seed, index and step: the same random bits
      const before = await contents(backend, withBad);
      const g = (x: number) => [0.3, -0.7, x];
      const result = await backend.embeddingBagBackward([
        update(
          withBad,
          i32(0, 1, 3),
          i32(0, 1, 2),
          backend.tensor(f32(...g(1), ...g(HUGE), ...g(1))),
          {
            nonFinite: 'skip-rows',
            step: 5,
          },
        ),
      ]);
      expect(result).toMatchObject([{ updatedRows: 2, skippedRows: 1 }]);
      await backend.embeddingBagBackward([
        update(without, i32(0, 3), i32(0, 1), backend.tensor(f32(...g(1), ...g(1))), { step: 5 }),
      ]);
      // Row 1 untouched in both; rows 0 and 3 with the same bits in both.
      expect(await contents(backend, withBad)).toEqual(await contents(backend, without));
      expect(await contents(backend, withBad)).not.toEqual(before);
    });

    it('a finite result beyond a 16-bit format saturates: not an error', async () => {
      const backend = ctx.backend();
      const t = backend.createTable(
        spec({ rows: 1, dim: 1, storage: 'float16', init: f32(65504) }),
      );
      const result = await backend.embeddingBagBackward([
        update(t, i32(0), i32(0), backend.tensor(f32(-60000))),
      ]);
      expect(result).toMatchObject([{ updatedRows: 1, skippedRows: 0 }]);
      expect([...(await backend.readRows(t))]).toEqual([65504]);
    });

    it.skipIf(ctx.stepsAreAtomic)(
      "'error' rejects naming the bad row, which is never written (a store commits per block)",
      async () => {
        const backend = ctx.backend();
        const name = uniqueName('nf-store');
        const t = backend.createTable(spec({ name, rows: 2, dim: 1, init: f32(1, HUGE) }));
        const error = await failure(() =>
          backend.embeddingBagBackward([
            update(t, i32(0, 1), i32(0, 1), backend.tensor(f32(1, -HUGE))),
          ]),
        );
        expect(String(error)).toMatch(
          new RegExp(`table "${name}": the update of row 1 gives a non-finite weight`),
        );
        expect((await backend.readRows(t))[1]).toBe(Math.fround(HUGE));
      },
    );
  });
}

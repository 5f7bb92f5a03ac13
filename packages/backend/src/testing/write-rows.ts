import { describe, expect, it } from 'vitest';
import type { StorageName } from '../types.js';
import { type ConformanceContext, f32, failure, i32, spec, uniqueName } from './helpers.js';

/** The initial weights of the 3 x 2 tables below: exact in every storage tested. */
const INIT = f32(0.5, 1, -2, 0.25, 4, -0.125);

/** `writeRows` and `createTable`'s init: non-finite values are rejected unless asked for. */
export function describeWriteRows(ctx: ConformanceContext): void {
  describe('writeRows and init: non-finite values', () => {
    for (const storage of ['float32', 'float16'] as const satisfies readonly StorageName[]) {
      it(`${storage}: a NaN or infinity is rejected with the shared message, nothing written`, async () => {
        const backend = ctx.backend();
        const name = uniqueName('users');
        const t = backend.createTable(spec({ name, rows: 3, dim: 2, storage, init: INIT }));
        // Row 2 is finite and comes first: a backend that wrote row by row would change it.
        const nan = await failure(() => backend.writeRows(t, f32(8, 8, 1, Number.NaN), i32(2, 0)));
        expect(nan).toBeInstanceOf(RangeError);
        expect(String(nan)).toContain(
          `table "${name}": values[3] (row 0, column 1) = NaN is not finite; nothing was written`,
        );
        const inf = await failure(() =>
          backend.writeRows(t, f32(1, 2, 3, 4, 5, Number.NEGATIVE_INFINITY)),
        );
        expect(String(inf)).toContain(
          `table "${name}": values[5] (row 2, column 1) = -Infinity is not finite`,
        );
        // allowNonFinite: false is the default, spelled out.
        const explicit = await failure(() =>
          backend.writeRows(t, f32(Number.POSITIVE_INFINITY, 0), i32(1), {
            allowNonFinite: false,
          }),
        );
        expect(String(explicit)).toContain('values[0] (row 1, column 0) = Infinity is not finite');
        expect([...(await backend.readRows(t))]).toEqual([...INIT]);
        backend.disposeTable(t);
      });
    }

    for (const storage of ['float32', 'float16', 'bfloat16'] as const) {
      it.skipIf(!ctx.writesRows)(
        `${storage}: { allowNonFinite: true } stores NaN${ctx.writesRows ? '' : ' (skipped: the backend does not offer writeRows)'}`,
        async () => {
          const backend = ctx.backend();
          const t = backend.createTable(spec({ rows: 3, dim: 2, storage, init: INIT }));
          backend.writeRows(t, f32(Number.NaN, 3), i32(1), { allowNonFinite: true });
          const got = [...(await backend.readRows(t))];
          expect(got).toEqual([0.5, 1, Number.NaN, 3, 4, -0.125]);
          if (storage === 'float32') {
            backend.writeRows(t, f32(1, 2, Number.POSITIVE_INFINITY, 0, 5, 6), undefined, {
              allowNonFinite: true,
            });
            expect([...(await backend.readRows(t))]).toEqual([
              1,
              2,
              Number.POSITIVE_INFINITY,
              0,
              5,
              6,
            ]);
          }
          backend.disposeTable(t);
        },
      );
    }

    it('createTable rejects an init with NaN or infinity, or a uniform bound whose 2b overflows float32', () => {
      const backend = ctx.backend();
      const name = uniqueName('items');
      const bad = f32(0, 1, 2, Number.NaN, 4, 5);
      expect(() => backend.createTable(spec({ name, rows: 3, dim: 2, init: bad }))).toThrow(
        `table "${name}": init[3] (row 1, column 1) = NaN is not finite`,
      );
      bad[3] = Number.POSITIVE_INFINITY;
      expect(() =>
        backend.createTable(spec({ name: uniqueName('items'), rows: 3, dim: 2, init: bad })),
      ).toThrow(/init\[3\] \(row 1, column 1\) = Infinity is not finite/);
      expect(() =>
        backend.createTable(spec({ name: uniqueName('items'), init: { uniform: 3e38 } })),
      ).toThrow(/init: \{ uniform: 3e\+38 \}: 2b rounds to Infinity in float32/);
    });
  });
}

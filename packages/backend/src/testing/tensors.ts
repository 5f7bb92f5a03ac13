import { describe, expect, it } from 'vitest';
import { type ConformanceContext, f32, failure, i32, spec, update, valuesOf } from './helpers.js';

/** Tensors: allocation, copies in and out, ownership, and the traffic `stats()` reports. */
export function describeTensors(ctx: ConformanceContext): void {
  describe('tensors', () => {
    it('holds zeros or a copy of the values; write and read round-trip', async () => {
      const backend = ctx.backend();
      const zeros = backend.tensor(3);
      expect(zeros.size).toBe(3);
      expect(zeros.backend).toBe(backend.name);
      expect(await valuesOf(backend, zeros)).toEqual([0, 0, 0]);
      const source = f32(1, 2, 3, 4);
      const t = backend.tensor(source);
      source[0] = 99; // the tensor holds a copy
      backend.write(t, f32(7, 8), 2);
      expect(await valuesOf(backend, t)).toEqual([1, 2, 7, 8]);
      if (backend.readSync) expect([...backend.readSync(t)]).toEqual([1, 2, 7, 8]);
      backend.disposeTensor(zeros);
      backend.disposeTensor(t);
    });

    it('rejects bad sizes, writes that do not fit, and tensors that are not its own', async () => {
      const backend = ctx.backend();
      expect(() => backend.tensor(-1)).toThrow(/non-negative integer size, got -1/);
      expect(() => backend.tensor(1.5)).toThrow(RangeError);
      const t = backend.tensor(2);
      expect(() => backend.write(t, f32(1, 2), 1)).toThrow(/do not fit a tensor of 2/);
      const foreign = { backend: 'elsewhere', id: t.id, size: 2 };
      expect(() => backend.relu(foreign, t)).toThrow(/not a tensor of backend/);
      backend.disposeTensor(t);
      expect(await failure(() => backend.read(t))).toBeInstanceOf(Error);
    });

    it('stats(): uploads and downloads are counted in bytes, a read is a download', async () => {
      const backend = ctx.backend();
      const before = backend.stats();
      const t = backend.tensor(f32(1, 2, 3, 4));
      const afterUpload = backend.stats();
      expect(afterUpload.uploadBytes - before.uploadBytes).toBe(16);
      expect(afterUpload.downloadBytes).toBe(before.downloadBytes);
      await backend.read(t);
      await backend.flush();
      expect(backend.stats().downloadBytes - afterUpload.downloadBytes).toBeGreaterThanOrEqual(16);
      backend.disposeTensor(t);
    });

    it('stats(): a steady-state step uploads its batch and downloads nothing', async () => {
      const backend = ctx.backend();
      const table = backend.createTable(
        spec({ rows: 4096, dim: 8, storage: 'float16', rounding: 'stochastic' }),
      );
      const indices = i32(1, 5, 9, 5, 4095, 0);
      const offsets = i32(0, 2, 4);
      const out = backend.tensor(3 * 8);
      const grad = backend.tensor(new Float32Array(3 * 8).fill(0.25));
      const step = (s: number) => {
        backend.embeddingBagForward(table, { indices, offsets }, 'sum', out);
        backend.relu(out, out);
        backend.embeddingBagBackward([update(table, indices, offsets, grad, { step: s })]);
      };
      step(0); // warm-up: pipelines, scratch buffers
      await backend.flush();
      const before = backend.stats();
      step(1);
      step(2);
      // Measured before anything is awaited: the steps themselves (reading their results, or
      // flush() collecting them, is a download of its own). A table store counts its fetches
      // when its queue runs them, so it is measured once they ran.
      const afterSteps = backend.stats();
      await backend.flush();
      const after = ctx.tablesInMemory ? afterSteps : backend.stats();
      const batchBytes = indices.byteLength + offsets.byteLength;
      // A table store fetches the batch's 5 distinct rows (x 8 float32) per forward.
      const fetched = ctx.tablesInMemory ? 0 : 2 * 5 * 8 * 4;
      expect(after.downloadBytes - before.downloadBytes).toBe(fetched);
      // Each step moves its batch up (in whatever layout the kernels want) and kernel
      // parameters, never the table (64 KiB) or the gradient.
      const uploaded = after.uploadBytes - before.uploadBytes;
      expect(uploaded).toBeLessThanOrEqual(2 * (8 * batchBytes + 4096));
      backend.disposeTable(table);
      backend.disposeTensor(out);
      backend.disposeTensor(grad);
    });
  });
}

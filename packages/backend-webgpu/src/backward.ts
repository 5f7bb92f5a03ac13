import type { BagUpdate } from '@halfstep/backend';
import type { GpuRunner } from './gpu.js';
import { groupRows, type RowGroups } from './group.js';
import { AGGREGATE_LAYOUT, FINITE_LAYOUT, NO_FORMAT } from './layouts.js';
import { AGGREGATE_WGSL, FINITE_WGSL, STATUS } from './shaders/aggregate.js';
import type { StatusTable } from './status.js';
import type { GpuTable } from './tables.js';
import { updateKernel } from './update.js';

/** One update of a fused backward, checked: its table and its gradient's buffer. */
export interface CheckedUpdate {
  readonly update: BagUpdate;
  readonly table: GpuTable;
  readonly gradOutput: GPUBuffer;
}

/**
 * Groups the lookups of every update by row on the host (`groupRows`: integers only).
 * @throws RangeError when rows x lookups exceeds 2^53 (the JS message), or for mean pooling over
 *   a bag of more than 2^24 lookups (which float32 cannot divide by).
 */
export function groupAll(updates: readonly CheckedUpdate[]): RowGroups[] {
  return updates.map(({ update }) => {
    const groups = groupRows(update);
    if (groups === null) {
      throw new RangeError(
        `table "${update.table.name}": a bag has more than 2^24 lookups; mean pooling on the WebGPU backend takes at most 2^24 per bag`,
      );
    }
    return groups;
  });
}

/**
 * Records a fused backward on the GPU, in one submission: into a zeroed status buffer (see
 * `STATUS`), per update, the finiteness check of its gradient (policy 'error': the first bad
 * position and its value), the aggregation (each row's gradient summed in the reference order,
 * a non-finite sum aborting ('error') or skipping the row ('skip-rows')), then every table's
 * compute pass (the new weights and state into scratch, a non-finite result aborting or skipping
 * its row alike), then every table's store pass, which writes nothing when the abort flag is
 * set: a rejected call leaves every table unchanged, and a row is never written unless its
 * result is finite. Returns the status buffer (the caller reads it back, or not) and what its
 * words are read against.
 */
export function recordBackward(
  runner: GpuRunner,
  updates: readonly CheckedUpdate[],
  groups: readonly RowGroups[],
): { status: GPUBuffer; tables: StatusTable[] } {
  const statusBytes = 4 * (1 + STATUS.words * updates.length);
  const status = runner.keep(statusBytes);
  runner.clear(status, 0, Math.ceil(statusBytes / 4) * 4);
  const computes: (() => void)[] = [];
  const stores: (() => void)[] = [];
  for (let k = 0; k < updates.length; k++) {
    const { update, table: t, gradOutput } = updates[k]!;
    const g = groups[k]!;
    const base = 1 + STATUS.words * k;
    const dim = t.handle.dim;
    const error = (update.nonFinite ?? 'error') === 'error';
    const size = update.gradOutput.size;
    if (error && size > 0) {
      const check = runner.input(FINITE_LAYOUT.block({ count: size, statusBase: base, pass: 0 }));
      runner.dispatch('finite', () => FINITE_WGSL, [check, gradOutput, status], size);
      const pick = runner.input(FINITE_LAYOUT.block({ count: size, statusBase: base, pass: 1 }));
      runner.dispatch('finite', () => FINITE_WGSL, [pick, gradOutput, status], 1);
    }
    const count = g.rows.length;
    if (count === 0) continue;
    const params = AGGREGATE_LAYOUT.block({
      ...NO_FORMAT,
      count,
      dim,
      mode: g.mode,
      stride: g.stride,
      policyError: error ? 1 : 0,
      statusBase: base,
    });
    const rows = runner.input(g.rows);
    const grads = runner.output(count * dim * 4);
    // Every check and aggregation runs before every update: the updates read the abort flag.
    runner.dispatch(
      'aggregate',
      () => AGGREGATE_WGSL,
      [
        runner.input(params),
        runner.input(g.starts),
        runner.input(g.entries),
        gradOutput,
        grads,
        rows,
        status,
      ],
      count * dim,
    );
    const kernel = updateKernel(t.handle, count, update.step, {
      policyError: error,
      statusBase: base,
    });
    const bindings = kernel.bindings(
      runner.input(kernel.params),
      rows,
      grads,
      t.weights,
      status,
      t.state,
      kernel.stateParams && runner.input(kernel.stateParams),
      kernel.freshBytes > 0 ? runner.output(kernel.freshBytes) : null,
    );
    computes.push(() =>
      runner.dispatch(
        kernel.compute.key,
        kernel.compute.source,
        bindings,
        kernel.compute.invocations,
      ),
    );
    stores.push(() =>
      runner.dispatch(kernel.store.key, kernel.store.source, bindings, kernel.store.invocations),
    );
  }
  // Every compute pass (which writes no table) runs before every store pass, which writes only
  // when no table of the call found a bad gradient or result under 'error'.
  for (const record of computes) record();
  for (const record of stores) record();
  const tables = updates.map(({ table }, k) => ({
    name: table.handle.name,
    dim: table.handle.dim,
    rows: groups[k]!.rows,
  }));
  return { status, tables };
}

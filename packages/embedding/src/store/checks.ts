import {
  BadInputError,
  checkRowNumbers,
  firstNonFinite,
  nonFiniteGradient,
  type TableSpec,
} from '@halfstep/backend';
import { TableMismatchError } from './types.js';

/**
 * The identity of a table as plain JSON values: what a store records when it creates a table and
 * compares when it attaches to one. Two specs describe the same table iff these are equal.
 */
export function tableIdentity(spec: TableSpec): Record<string, string | number> {
  const identity: Record<string, string | number> = {
    rows: spec.rows,
    dim: spec.dim,
    storage: spec.storage,
    rounding: spec.rounding,
    index: spec.index,
    seed: spec.seed.toString(),
    optimizer: spec.optimizer.kind,
  };
  const options = spec.optimizer.options;
  for (const key of Object.keys(options).sort()) {
    const value = options[key];
    if (value !== undefined) identity[`optimizer.${key}`] = value;
  }
  return identity;
}

/**
 * Compares a stored identity (from `tableIdentity`) with the one of `spec`.
 * @throws TableMismatchError naming the table and the first field that differs.
 */
export function checkTableIdentity(
  spec: TableSpec,
  stored: Readonly<Record<string, unknown>>,
): void {
  const requested = tableIdentity(spec);
  const keys = new Set([...Object.keys(requested), ...Object.keys(stored)]);
  for (const key of keys) {
    if (stored[key] !== requested[key])
      throw new TableMismatchError(spec.name, key, stored[key], requested[key]);
  }
}

/**
 * Checks the arguments of `TableStore.applyGradients`: `rows` an Int32Array of distinct rows in
 * range, `gradients` a Float32Array of rows x dim finite values, `step` a non-negative integer.
 * @throws RangeError/BadInputError naming the table, the argument, the position and the value.
 */
export function checkApplyArguments(
  spec: Pick<TableSpec, 'name' | 'rows' | 'dim'>,
  rows: Int32Array,
  gradients: Float32Array,
  step: number,
): void {
  if (!(rows instanceof Int32Array))
    throw new TypeError(`table "${spec.name}": rows must be an Int32Array`);
  checkRowNumbers(spec, rows);
  const seen = new Set<number>();
  for (let k = 0; k < rows.length; k++) {
    if (seen.has(rows[k]!))
      throw new RangeError(
        `table "${spec.name}": rows[${k}] = ${rows[k]} is repeated; applyGradients takes distinct rows (sum their gradients first)`,
      );
    seen.add(rows[k]!);
  }
  if (!(gradients instanceof Float32Array) || gradients.length !== rows.length * spec.dim) {
    throw new BadInputError(
      spec.name,
      'gradients',
      -1,
      gradients?.length ?? Number.NaN,
      `gradients: expected a Float32Array of ${rows.length} rows x ${spec.dim} = ${rows.length * spec.dim} values`,
    );
  }
  const bad = firstNonFinite(gradients);
  if (bad >= 0) throw nonFiniteGradient(spec.name, bad, spec.dim, gradients[bad]!);
  if (!Number.isInteger(step) || step < 0)
    throw new RangeError(`table "${spec.name}": step must be a non-negative integer, got ${step}`);
}

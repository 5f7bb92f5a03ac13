/**
 * Bad input to a kernel: an index out of range, offsets out of order, a gradient of the wrong
 * length or not finite. Every backend throws it from the same checks, with the same message,
 * before writing anything.
 */
export class BadInputError extends RangeError {
  /** The table's name. */
  readonly table: string;
  /** The argument at fault: "indices", "offsets", "perSampleWeights", "gradOutput". */
  readonly argument: string;
  /** The position in that argument, or -1 when the fault is its length. */
  readonly position: number;
  /** The offending value (or the length). */
  readonly value: number;

  constructor(table: string, argument: string, position: number, value: number, message: string) {
    super(`table "${table}": ${message}`);
    this.name = 'BadInputError';
    this.table = table;
    this.argument = argument;
    this.position = position;
    this.value = value;
  }
}

/** A line that is not a valid Criteo line; says which line and why. */
export class MalformedLineError extends Error {
  override readonly name = 'MalformedLineError';

  /**
   * @param lineNumber 1-based line number in the source.
   * @param reason what is wrong with the line.
   * @param source the file path, or `'<lines>'` for in-memory lines.
   */
  constructor(
    readonly lineNumber: number,
    readonly reason: string,
    readonly source: string,
  ) {
    super(`${source}:${lineNumber}: malformed Criteo line: ${reason}`);
  }
}

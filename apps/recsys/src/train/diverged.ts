/** Training produced a non-finite loss or gradient: it diverged. The original error is the cause. */
export class TrainingDivergedError extends Error {
  override readonly name = 'TrainingDivergedError';

  /**
   * @param step the 1-based training step at which it was noticed.
   * @param what what was not finite, e.g. the original error's message.
   */
  constructor(
    readonly step: number,
    what: string,
    options?: { cause?: unknown },
  ) {
    super(
      `training diverged at step ${step} (${what}); try a smaller learning rate (--lr)`,
      options,
    );
  }
}

/** Whether `error` says a loss or gradient was NaN or infinite (the mark of divergence). */
export function isNonFiniteError(error: unknown): boolean {
  return error instanceof Error && /\bnot finite\b|\bnon-finite\b/i.test(error.message);
}

/**
 * `error` as a {@link TrainingDivergedError} at 1-based step `step` when it is about a
 * non-finite value, else `error` itself.
 */
export function divergedOr(error: unknown, step: number): unknown {
  if (error instanceof TrainingDivergedError || !isNonFiniteError(error)) return error;
  return new TrainingDivergedError(step, (error as Error).message, { cause: error });
}

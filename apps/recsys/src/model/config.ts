/** The shape of a DLRM. */
export interface DlrmConfig {
  /** Dense input features (13 for Criteo). */
  readonly denseFeatures: number;
  /** Bottom MLP layer widths after the input; the last must equal `embeddingDim`. */
  readonly bottom: readonly number[];
  /** Top MLP layer widths after the interaction; the last must be 1. */
  readonly top: readonly number[];
  /** Width of every embedding row. */
  readonly embeddingDim: number;
  /** Rows of each embedding table. */
  readonly tableSizes: readonly number[];
}

/** DLRM's Criteo Kaggle widths: bottom 13-512-256-64-16, top 367-512-256-1, dim 16. */
export const DEFAULT_BOTTOM: readonly number[] = [512, 256, 64, 16];
/** See {@link DEFAULT_BOTTOM}. */
export const DEFAULT_TOP: readonly number[] = [512, 256, 1];
/** See {@link DEFAULT_BOTTOM}. */
export const DEFAULT_EMBEDDING_DIM = 16;

/** Parses a layer list like `512-256-64-16` (dashes or commas). @throws RangeError when malformed. */
export function parseLayers(text: string): number[] {
  const parts = text.split(/[-,]/).map((s) => Number(s.trim()));
  if (parts.length === 0 || parts.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new RangeError(`expected layer widths like 512-256-64-16, got "${text}"`);
  }
  return parts;
}

/** Checks the widths fit together. @throws RangeError naming the mismatch. */
export function checkConfig(config: DlrmConfig): void {
  const { bottom, top, embeddingDim, tableSizes, denseFeatures } = config;
  if (!Number.isInteger(denseFeatures) || denseFeatures < 1) {
    throw new RangeError(`denseFeatures must be a positive integer, got ${denseFeatures}`);
  }
  if (bottom.length === 0 || bottom[bottom.length - 1] !== embeddingDim) {
    throw new RangeError(
      `the bottom MLP must end in the embedding dimension ${embeddingDim}, got ${bottom.join('-')}`,
    );
  }
  if (top.length === 0 || top[top.length - 1] !== 1) {
    throw new RangeError(`the top MLP must end in 1, got ${top.join('-')}`);
  }
  if (tableSizes.length === 0 || tableSizes.some((r) => !Number.isInteger(r) || r < 1)) {
    throw new RangeError('every table needs a positive integer number of rows');
  }
}

export { type Batch, batches, createBatch, type Example, truncateBatch } from './batch.js';
export { type CategoricalEncoder, CategoryDictionary, HashingEncoder } from './categorical.js';
export { denseTransform } from './dense.js';
export { encodeRow } from './encode.js';
export { formatCriteoLine, hex8 } from './format-line.js';
export {
  DataFileError,
  DEFAULT_MAX_LINE_BYTES,
  type LineSource,
  LineTooLongError,
  openCriteoFile,
  type ReadLinesOptions,
  readLines,
} from './lines.js';
export { MalformedLineError } from './malformed.js';
export { parseCriteoLine } from './parse-line.js';
export { createRawRow, type RawRow } from './raw-row.js';
export {
  buildCategoryDictionary,
  type CategoricalOptions,
  type CriteoStream,
  categoricalEncoder,
  type ReadCriteoOptions,
  type ReadStats,
  readCriteo,
  readCriteoBatches,
} from './reader.js';
export { KAGGLE_CARDINALITIES, NUM_DENSE, NUM_FIELDS, NUM_SPARSE } from './schema.js';
export {
  countLines,
  type DataSplit,
  type IndexRange,
  type SplitOptions,
  splitTrainValidation,
  takeRange,
} from './split.js';
export {
  DEFAULT_CAP,
  PlantedModel,
  SyntheticCriteo,
  type SyntheticOptions,
  type SyntheticRange,
  syntheticBatches,
  syntheticCriteo,
  syntheticCriteoLines,
  TARGET_CLICK_RATE,
  tableSizes,
  writeSyntheticCriteo,
  ZipfSampler,
} from './synthetic/index.js';

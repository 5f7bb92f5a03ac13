/**
 * Reading and writing checkpoints in the safetensors format (Hugging Face): an 8-byte
 * little-endian header length, a JSON header naming each tensor's dtype, shape and byte range,
 * then the raw little-endian data.
 *
 * @module
 */
export {
  addChecksums,
  CHECKSUM_KEY_PREFIX,
  type ChecksumReport,
  METADATA_CHECKSUM_NAME,
  type Sha256,
  verifyChecksums,
} from './checksum.js';
export {
  type DecodeOptions,
  decodeSafetensors,
  MAX_HEADER_BYTES,
  parseHeader,
  readHeaderLength,
  type SafetensorsHeader,
  type TensorEntry,
} from './decode.js';
export {
  DTYPES,
  type DtypeInfo,
  HOST_LITTLE_ENDIAN,
  isSafetensorsDtype,
  SAFETENSORS_DTYPES,
  type SafetensorsDtype,
  type TensorData,
  type TensorDataConstructor,
} from './dtypes.js';
export { encodeSafetensors, METADATA_KEY } from './encode.js';
export {
  CheckpointError,
  type CheckpointErrorOptions,
  type CheckpointErrorReason,
} from './errors.js';
export {
  MAX_WRITE_BYTES,
  readSafetensors,
  sha256Hex,
  temporaryName,
  temporaryPattern,
  writeSafetensors,
} from './file.js';
export type { Checkpoint, Tensor } from './tensor.js';

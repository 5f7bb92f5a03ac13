// The slot map of the backend's scratch blocks (see Scratch), in one place so that no two
// kernels' operands share a block. A block keeps its size between calls, so a steady training
// loop allocates nothing.

// Slots 0-2 belong to the backend's WasmCodec (encode, decode, writeRows' nearest-even store).

/** Dense ops: the first operand (matmul's A, addBias' and sumRows' x, relu's x, the gradient). */
export const S_A = 3;
/** Dense ops: the second operand (B, the bias, reluBackward's x, sumRows' result). */
export const S_B = 4;
/** matmul's C. */
export const S_C = 5;
/** matmul's packed copy of B when `transB`. */
export const S_PACKED = 6;
/** matmul's row accumulator. */
export const S_ACC = 7;
/** The forward pass's batch: indices, offsets, per-sample weights (slots 8, 9, 10). */
export const S_FORWARD_BATCH = 8;
/** The forward pass's pooled output. */
export const S_FORWARD_OUT = 11;
/** The calling thread's work area of the fused update. */
export const S_UPDATE = 14;
/** The work area of part `p` (p >= 1) of a table's rows split across threads: S_WORKER + p. */
export const S_WORKER = 15;
/**
 * The slots of table `i` of a backward call: S_TABLE + 10 * i + (0..9), above the workers' (at
 * most 64 threads). Their use: TABLE_* below.
 */
export const S_TABLE = 1024;
/** Slots per table of a backward call. */
export const TABLE_SLOTS = 10;
/** Offsets within a table's slots: the batch (0-2: indices, offsets, weights) and gradient. */
export const TABLE_BATCH = 0;
/** The staged gradient, bags x dim values. */
export const TABLE_GRAD = 3;
/** The aggregation's sort keys, sort buffer and bag of each position (4, 5, 6). */
export const TABLE_SORT = 4;
/** The aggregated rows, gradients and flags when the calling thread runs the update. */
export const TABLE_AGGREGATED = 7;
/**
 * The table's update parameter block: kept until the call ends, so that a later table's refusal
 * can roll this one back.
 */
export const TABLE_PARAMS = 8;
/** The table's undo journal (policy 'error' at or after it in the call). */
export const TABLE_JOURNAL = 9;

// A hogwild worker's own Scratch holds one job while the worker runs it: the job descriptor, the
// work area, then three slots per table (aggregated rows and gradients, parameter block,
// journal).

/** A job's descriptor: the number of parameter blocks, then their addresses. */
export const J_DESCRIPTOR = 0;
/** A job's work area (sized for its widest table: its tables run one after another). */
export const J_WORK = 1;
/**
 * Table `i` of a job: J_TABLE + J_TABLE_SLOTS * i + (0: aggregated rows, 1: parameters, 2:
 * undo journal).
 */
export const J_TABLE = 2;
/** Slots per table of a job. */
export const J_TABLE_SLOTS = 3;

// The bound on what one command (or one MULTI/EXEC) may write: everything it writes must fit in one atomic
// engine batch, because a write is applied all or nothing. Both stores check it on the ops a mutation
// produced, before anything is written, so the engine never refuses a write for its size after other
// commands have already seen it (standalone) or after the write was logged (raft, where a refusal on apply
// would stop the node). FLUSHALL is exempt: it is written in chunks, which is safe because it is idempotent.
import { DEFAULT_OPTIONS } from '../engine/options.js';
import type { WriteOp } from '../engine/types.js';
import { ReplyError } from '../resp/reply.js';

export const ATOMIC_WRITE_OPS_MAX = DEFAULT_OPTIONS.batchOpsMax;
export const ATOMIC_WRITE_BYTES_MAX = DEFAULT_OPTIONS.batchBytesMax;
/** Engine bytes a record costs beyond its key and value, at most (header, sequence-number prefix). */
const RECORD_OVERHEAD_BYTES_MAX = 32;

/** The engine bytes one op takes, an upper bound of what the engine counts against a batch. */
export function opBytes(op: WriteOp): number {
  return op.key.length + (op.type === 'put' ? op.value.length : 0) + RECORD_OVERHEAD_BYTES_MAX;
}

export function writeBytes(ops: readonly WriteOp[]): number {
  let n = 0;
  for (const op of ops) n += opBytes(op);
  return n;
}

/** The error reply for a write over the bound, or undefined when it fits. */
export function atomicWriteError(ops: readonly WriteOp[], bytes = writeBytes(ops)): ReplyError | undefined {
  if (ops.length <= ATOMIC_WRITE_OPS_MAX && bytes <= ATOMIC_WRITE_BYTES_MAX) return undefined;
  return new ReplyError(
    `ERR write of ${bytes} bytes in ${ops.length} operations exceeds the limit of one atomic write (${ATOMIC_WRITE_BYTES_MAX} bytes, ${ATOMIC_WRITE_OPS_MAX} operations)`,
  );
}

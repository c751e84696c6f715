// Every operating-condition error caskdb raises, in one place. Callers branch on `code`, never on the
// message. Programmer mistakes are assertions (see assert.ts) and are not listed here.

export const ErrorCode = {
  /** A record or file failed its checksum or structure check; `file` and `offset` name the spot. */
  Corruption: 'CASKDB_CORRUPTION',
  /** Another process (or another Db in this process) holds the directory lock. */
  Locked: 'CASKDB_LOCKED',
  /** The database (or server, client) was closed. */
  Closed: 'CASKDB_CLOSED',
  /** A key is longer than `keyBytesMax`. */
  KeyTooLarge: 'CASKDB_KEY_TOO_LARGE',
  /** A value is longer than `valueBytesMax`. */
  ValueTooLarge: 'CASKDB_VALUE_TOO_LARGE',
  /** An option failed validation at open. */
  InvalidOption: 'CASKDB_INVALID_OPTION',
  /** An argument failed validation (outside options). */
  InvalidArgument: 'CASKDB_INVALID_ARGUMENT',
  /** A write batch exceeded `batchOpsMax` or `batchBytesMax`, or was used after commit. */
  BatchTooLarge: 'CASKDB_BATCH_TOO_LARGE',
  BatchCommitted: 'CASKDB_BATCH_COMMITTED',
  /** A merge is already running. */
  MergeInProgress: 'CASKDB_MERGE_IN_PROGRESS',
  /** Not enough free disk space for an operation (merge output, backup, a write). */
  NoSpace: 'CASKDB_NO_SPACE',
  /** An I/O call failed (fsync, write, rename, …); `cause` holds the system error. */
  Io: 'CASKDB_IO',
  /** A previous fatal I/O failure left the database read-only until reopened. */
  ReadOnly: 'CASKDB_READ_ONLY',
  /** Raft: this node is not the leader; `leaderHint` names the leader when known. */
  NotLeader: 'CASKDB_NOT_LEADER',
  /** Raft: no leader within the wait timeout. */
  NoLeader: 'CASKDB_NO_LEADER',
  /** A bounded resource (queue, buffer, in-flight limit) is full. */
  LimitExceeded: 'CASKDB_LIMIT_EXCEEDED',
  /** A request timed out. */
  Timeout: 'CASKDB_TIMEOUT',
  /** Client: no server is available to take a request. */
  NoServer: 'CASKDB_NO_SERVER',
  /** Configuration is invalid (unknown key, bad value). */
  Config: 'CASKDB_CONFIG',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface CaskErrorDetails {
  file?: string;
  offset?: number;
  leaderHint?: string;
  limit?: string;
  cause?: unknown;
}

export class CaskError extends Error {
  readonly code: ErrorCodeValue;
  readonly file: string | undefined;
  readonly offset: number | undefined;
  readonly leaderHint: string | undefined;
  readonly limit: string | undefined;

  constructor(code: ErrorCodeValue, message: string, details: CaskErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CaskError';
    this.code = code;
    this.file = details.file;
    this.offset = details.offset;
    this.leaderHint = details.leaderHint;
    this.limit = details.limit;
  }
}

export function isCaskError(error: unknown, code?: ErrorCodeValue): error is CaskError {
  return error instanceof CaskError && (code === undefined || error.code === code);
}

/** Wraps a system error from node:fs into a typed error, keeping ENOSPC distinguishable. */
export function ioError(operation: string, path: string, cause: unknown): CaskError {
  const sysCode = (cause as { code?: unknown } | null)?.code;
  if (sysCode === 'ENOSPC' || sysCode === 'EDQUOT') {
    return new CaskError(ErrorCode.NoSpace, `${operation} ${path}: no space left on device`, { file: path, cause });
  }
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new CaskError(ErrorCode.Io, `${operation} ${path} failed: ${detail}`, { file: path, cause });
}

// caskdb's public entry point for embedded use: the engine, its options and types, and the errors.
export { Db } from './engine/db.js';
export type { DbOptions, Logger, LogEntry, LogLevel, SyncThread } from './engine/options.js';
export { DEFAULT_OPTIONS } from './engine/options.js';
export type { Bytes, EngineStat, IterateOptions, KvEngine, SyncMode, WriteOp } from './engine/types.js';
export { CaskError, ErrorCode, isCaskError } from './util/errors.js';
export type { ErrorCodeValue } from './util/errors.js';

// Db options: one struct, exported defaults, and a validator run at open (the rosedb pattern).
// Every limit here is enforced with a typed error before anything is written.
import { FIELD_BYTES_MAX } from '../codec/record.js';
import type { FileSystem } from '../io/file-system.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import type { SyncMode } from './types.js';

export type SyncThread = 'thread-pool' | 'event-loop';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export interface LogEntry {
  level: LogLevel;
  msg: string;
  [field: string]: unknown;
}
export type Logger = (entry: LogEntry) => void;

export interface DbOptions {
  /** The data directory; created when missing. */
  dir: string;
  /**
   * When a write is acknowledged. 'always': after fdatasync (writes of one event-loop turn share one
   * fsync). 'everysec': after write(2), fsynced in the background once a second. 'none': after
   * write(2), fsync left to the OS. Every mode survives a killed process; only 'always' survives
   * power loss for every acknowledged write.
   */
  sync?: SyncMode;
  /**
   * Where the group fdatasync of 'always' runs (other modes always fsync on the pool). 'thread-pool' (default): on libuv's
   * pool, so the event loop keeps serving reads during the fsync. 'event-loop': on the event-loop
   * thread, blocking it for the fsync, as Redis does with `appendfsync always` — no thread hand-off,
   * so less CPU and latency per group (up to a third less server CPU per durable write on the 2-core
   * benchmark VM), at the price of a loop that stalls for as long as the disk takes.
   */
  syncThread?: SyncThread;
  /**
   * Bytes of values kept in memory by record position, so a repeated or recent `get` needs no read(2)
   * (0: off). Written values enter as they are written, others on their first `get`; the oldest bytes
   * are evicted first. Scans bypass it. The memory is touched only as the cache fills.
   */
  valueCacheBytes?: number;
  /**
   * Serve point reads (get, and scans of small values) by copying from read-only memory maps of the data
   * files instead of one pread(2) each — about 2 µs less per get on the benchmark VM. The price: the pages a
   * process has read count in its resident set (RSS) as long as the file is open, as with lmdb (they are
   * page cache, shared and reclaimable, not heap). Needs the native addon that `npm install` builds; without
   * it the engine logs a warning and reads with pread. Ignored when `fileSystem` is given. Default off.
   */
  mmapReads?: boolean;
  /**
   * Append to the active data file by copying into a shared memory map of it instead of one pwrite(2) per
   * write (about 3 µs less per awaited put on the benchmark VM; appends over 16 KiB still use pwrite). The
   * bytes are in the page cache when the copy returns, exactly as after pwrite, so every `sync` mode keeps its
   * promise, a killed process included. Disk space is reserved ahead (64 KiB–8 MiB) with posix_fallocate (a full disk
   * is CASKDB_NO_SPACE before anything is written); the zero-filled reservation is cut off when the file is
   * sealed or closed, and by recovery after a crash. On by default where the native addon is built (without
   * it, pwrite; a warning only when asked for explicitly), except under `sync: 'always'`: there every group
   * fsync cleans the pages under the map, so the next copy into the same page takes a write fault, and
   * pwrite into zero-filled space (`zeroFillAppends`) measured faster. Ignored when `fileSystem` is given.
   */
  mmapWrites?: boolean;
  /**
   * Reserve the active data file's space by writing zeros ahead of the data (1 MiB at a time at most)
   * instead of growing the file with each append or reserving with posix_fallocate. An fdatasync then has
   * only data pages to write — no new file size or extent state for the file system journal — which on the
   * benchmark VM made each group fsync of `sync: 'always'` ~40% quicker and cheaper in CPU. Costs a second
   * write of every byte (the zeros), so it is for `always`, where it is the default; the reservation is
   * cut off when the file is sealed or closed, and by recovery after a crash. Ignored when `fileSystem` is given.
   */
  zeroFillAppends?: boolean;
  /** Seal the active data file and start a new one when a record would grow it past this. */
  dataFileBytesMax?: number;
  /** With 'everysec' or 'none', also fsync after every this many bytes written (0: off). */
  bytesPerSync?: number;
  keyBytesMax?: number;
  valueBytesMax?: number;
  /** Bounds of one write batch. */
  batchOpsMax?: number;
  batchBytesMax?: number;
  /** Merge automatically when reclaimable / disk bytes exceeds this (0 disables auto merge). */
  mergeRatio?: number;
  /** ... and the data files hold at least this many bytes. */
  mergeBytesMin?: number;
  /**
   * Open even when the active file has damage followed by valid records, truncating at the damage.
   * Off by default: such damage is reported as CASKDB_CORRUPTION so nothing is dropped silently.
   */
  truncateCorruptTail?: boolean;
  /** The file system; tests inject faults through it. */
  fileSystem?: FileSystem;
  /**
   * Called at each step of a merge and of its install (a fault-injection seam for crash tests: a
   * test process kills itself at a chosen step). Steps are listed in MERGE_STEPS.
   */
  onMergeStep?: (step: MergeStep) => void;
  /** Structured log sink; by default warnings and errors go to stderr. */
  logger?: Logger;
}

export const MERGE_STEPS = [
  'sealed', // active file sealed, nothing written yet
  'copied', // live records copied, output not yet synced
  'hint-written', // data files and hint synced, merge-finished not yet written
  'finished-written', // merge-finished synced: the merge is complete
  'old-removed', // install: old files deleted, marker not yet written
  'marker-written', // install: marker written, nothing moved yet
  'some-moved', // install: the first merged data file moved
  'files-moved', // install: data files and hint moved, merge-finished not yet
  'installed', // install: merge directory removed
] as const;
export type MergeStep = (typeof MERGE_STEPS)[number];

export const DEFAULT_OPTIONS = {
  sync: 'everysec' as SyncMode,
  syncThread: 'thread-pool' as SyncThread,
  valueCacheBytes: 0,
  dataFileBytesMax: 256 * 1024 * 1024,
  bytesPerSync: 0,
  keyBytesMax: 64 * 1024,
  valueBytesMax: 64 * 1024 * 1024,
  batchOpsMax: 100_000,
  batchBytesMax: 256 * 1024 * 1024,
  mergeRatio: 0.5,
  mergeBytesMin: 64 * 1024 * 1024,
  truncateCorruptTail: false,
  mmapReads: false,
};

/** Offsets are kept in 32 bits of the index; a data file may not grow past 4 GiB. */
export const DATA_FILE_BYTES_LIMIT = 2 ** 32 - 1;

export type ResolvedOptions = Required<Omit<DbOptions, 'fileSystem' | 'logger' | 'onMergeStep'>> & {
  fileSystem: FileSystem;
  logger: Logger;
  onMergeStep: (step: MergeStep) => void;
};

function invalid(name: string, value: unknown, rule: string): CaskError {
  return new CaskError(ErrorCode.InvalidOption, `invalid option ${name}=${JSON.stringify(value)}: ${rule}`);
}

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw invalid(name, value, `must be an integer from ${min} to ${max}`);
  return value;
}

/** Largest value cache: one Buffer holds it. */
export const VALUE_CACHE_BYTES_MAX = 2 ** 32 - 1;

function booleanOption(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(name, value, 'must be true or false');
  return value;
}

function valueCacheBytesOf(value: number): number {
  if (value === 0) return 0;
  return integerIn('valueCacheBytes', value, 4096, VALUE_CACHE_BYTES_MAX);
}

export function defaultLogger(entry: LogEntry): void {
  if (entry.level !== 'warn' && entry.level !== 'error') return;
  const { level, msg, ...fields } = entry;
  const extra = Object.keys(fields).length > 0 ? ' ' + JSON.stringify(fields) : '';
  process.stderr.write(`caskdb ${level}: ${msg}${extra}\n`);
}

export function resolveOptions(options: DbOptions, fileSystem: FileSystem): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw invalid('options', options, 'must be an object');
  if (typeof options.dir !== 'string' || options.dir === '') throw invalid('dir', options.dir, 'must be a non-empty path');
  const sync = options.sync ?? DEFAULT_OPTIONS.sync;
  if (sync !== 'always' && sync !== 'everysec' && sync !== 'none') throw invalid('sync', sync, "must be 'always', 'everysec' or 'none'");
  const syncThread = options.syncThread ?? DEFAULT_OPTIONS.syncThread;
  if (syncThread !== 'thread-pool' && syncThread !== 'event-loop') throw invalid('syncThread', syncThread, "must be 'thread-pool' or 'event-loop'");
  const mergeRatio = options.mergeRatio ?? DEFAULT_OPTIONS.mergeRatio;
  if (typeof mergeRatio !== 'number' || !(mergeRatio >= 0 && mergeRatio <= 1)) throw invalid('mergeRatio', mergeRatio, 'must be a number from 0 to 1');
  return {
    dir: options.dir,
    sync,
    syncThread,
    valueCacheBytes: valueCacheBytesOf(options.valueCacheBytes ?? DEFAULT_OPTIONS.valueCacheBytes),
    dataFileBytesMax: integerIn('dataFileBytesMax', options.dataFileBytesMax ?? DEFAULT_OPTIONS.dataFileBytesMax, 64, DATA_FILE_BYTES_LIMIT),
    bytesPerSync: integerIn('bytesPerSync', options.bytesPerSync ?? DEFAULT_OPTIONS.bytesPerSync, 0, Number.MAX_SAFE_INTEGER),
    keyBytesMax: integerIn('keyBytesMax', options.keyBytesMax ?? DEFAULT_OPTIONS.keyBytesMax, 1, FIELD_BYTES_MAX - 10),
    valueBytesMax: integerIn('valueBytesMax', options.valueBytesMax ?? DEFAULT_OPTIONS.valueBytesMax, 0, FIELD_BYTES_MAX),
    batchOpsMax: integerIn('batchOpsMax', options.batchOpsMax ?? DEFAULT_OPTIONS.batchOpsMax, 1, 100_000_000),
    batchBytesMax: integerIn('batchBytesMax', options.batchBytesMax ?? DEFAULT_OPTIONS.batchBytesMax, 1, Number.MAX_SAFE_INTEGER),
    mergeRatio,
    mergeBytesMin: integerIn('mergeBytesMin', options.mergeBytesMin ?? DEFAULT_OPTIONS.mergeBytesMin, 0, Number.MAX_SAFE_INTEGER),
    truncateCorruptTail: options.truncateCorruptTail ?? DEFAULT_OPTIONS.truncateCorruptTail,
    mmapReads: booleanOption('mmapReads', options.mmapReads ?? DEFAULT_OPTIONS.mmapReads),
    mmapWrites: booleanOption('mmapWrites', options.mmapWrites ?? sync !== 'always'),
    zeroFillAppends: booleanOption('zeroFillAppends', options.zeroFillAppends ?? sync === 'always'),
    fileSystem,
    logger: options.logger ?? defaultLogger,
    onMergeStep: options.onMergeStep ?? (() => {}),
  };
}

// The Bitcask engine: an append-only log of records in numbered data files plus an in-memory ordered
// index from key to the latest record's position.
// Invariants:
// - every index entry points at an intact record of that key in a data file that is open here;
// - a write reaches the index only after its bytes are in the file (write(2) done); the returned
//   promise resolves when the write is durable per `sync` (see options.ts);
// - all appends, index updates and rotations happen synchronously on the event loop, which is the
//   database lock of the original design: nothing interleaves inside one write;
// - after a failed fsync or a failed rollback the Db refuses writes (CASKDB_READ_ONLY) until reopened.
import { join } from 'node:path';
import { encodeRecordInto, HeaderStatus, newHeaderFields, readHeaderInto, recordLength, recordCrcMatches, RecordType, BATCH_FINISHED_KEY } from '../codec/record.js';
import { uvarintLength } from '../codec/varint.js';
import { mmapUnavailableReason } from '../io/mmap.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import type { DirLock, FileSystem, RandomAccessFile } from '../io/file-system.js';
import type { KeyIndex, KeyRange } from '../index/key-index.js';
import { SCAN_CHUNK_ENTRIES } from '../index/key-index.js';
import { assert } from '../util/assert.js';
import { CaskError, ErrorCode, isCaskError } from '../util/errors.js';
import { dataFilePath, SEQ_NO_FILE_NAME, SEQ_NO_KEY } from './file-names.js';
import { indexKeyToBuffer, prefixSuccessor, toBuffer, toIndexKey } from './keys.js';
import { DEFAULT_OPTIONS, resolveOptions, type DbOptions, type ResolvedOptions } from './options.js';
import { copyBackup, type BackupResult } from './backup.js';
import { runMerge, type MergeHost, type MergeOutput } from './merge.js';
import { corruption, moveMergedFiles, recover, type RecoveredState } from './recovery.js';
import { WriteBatch } from './write-batch.js';
import { ValueCache } from '../cache/value-cache.js';
import type { Bytes, EngineStat, IterateOptions, KvEngine, SyncMode, WriteOp } from './types.js';

const RESOLVED: Promise<void> = Promise.resolve();
const AUTO_MERGE_CHECK_MS = 1000;
const READ_SCRATCH_BYTES = 64 * 1024;
const WRITE_SCRATCH_BYTES = 1024 * 1024;
const EVERYSEC_INTERVAL_MS = 1000;

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A group whose writers all went away must not become an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export class Db implements KvEngine {
  readonly dir: string;
  private readonly options: ResolvedOptions;
  private readonly fs: FileSystem;
  private lock: DirLock | undefined;
  private readonly index: KeyIndex;
  /** Every data file by id, the active one included. */
  private readonly files: Map<number, RandomAccessFile>;
  private activeFileId: number;
  private activeFile: RandomAccessFile;
  private activeOffset: number;
  /** Bytes of superseded, deleted and unfinished records per data file, and their sum. */
  private readonly garbageBytes: Map<number, number>;
  private reclaimableBytes = 0;
  private diskBytes: number;
  private lastSeq: number;
  private readonly openMs: number;

  private readScratch = Buffer.allocUnsafe(READ_SCRATCH_BYTES);
  /** Values by record position (see value-cache.ts); absent when `valueCacheBytes` is 0. */
  private readonly valueCache: ValueCache | undefined;
  /** Group fsyncs run on the event loop: 'always' with syncThread 'event-loop' (see datasyncActive). */
  private readonly fsyncOnEventLoop: boolean;
  private readonly readHeader = newHeaderFields();
  private writeScratch = Buffer.allocUnsafe(WRITE_SCRATCH_BYTES);

  private unsyncedBytes = 0;
  private syncInFlight = false;
  private pendingSyncGroup: Deferred | undefined;
  private everysecTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The running merge or backup: at most one at a time. */
  private maintenance: Promise<unknown> | undefined;
  private merging = false;
  private mergeTimer: NodeJS.Timeout | undefined;
  private lastMerge: { at: number; inputBytes: number; outputBytes: number; ms: number } | undefined;
  private closing: Promise<void> | undefined;
  /** Set after a fatal I/O failure; writes are refused with it until the Db is reopened. */
  private failure: CaskError | undefined;

  private constructor(options: ResolvedOptions, lock: DirLock, state: RecoveredState, openMs: number) {
    this.options = options;
    this.fs = options.fileSystem;
    this.dir = options.dir;
    this.lock = lock;
    this.index = state.index;
    this.files = state.files;
    this.activeFileId = state.activeFileId;
    const active = state.files.get(state.activeFileId);
    assert(active !== undefined, 'recovery returned no active file');
    this.activeFile = active;
    this.activeOffset = state.activeOffset;
    this.garbageBytes = state.garbageBytes;
    for (const bytes of state.garbageBytes.values()) this.reclaimableBytes += bytes;
    this.diskBytes = state.diskBytes;
    this.lastSeq = state.lastSeq;
    this.openMs = openMs;
    this.fsyncOnEventLoop = options.syncThread === 'event-loop' && options.sync === 'always';
    this.valueCache = options.valueCacheBytes > 0 ? new ValueCache(options.valueCacheBytes) : undefined;
    if (options.sync === 'everysec') {
      this.everysecTimer = setInterval(() => this.syncInBackground(), EVERYSEC_INTERVAL_MS);
      this.everysecTimer.unref();
    }
    if (options.mergeRatio > 0) {
      this.mergeTimer = setInterval(() => this.maybeMerge(), AUTO_MERGE_CHECK_MS);
      this.mergeTimer.unref();
    }
  }

  /** Opens (creating if needed) the database in `options.dir`; see DbOptions. */
  static async open(options: DbOptions): Promise<Db> {
    const started = performance.now();
    const sync = options.sync ?? DEFAULT_OPTIONS.sync;
    const resolved = resolveOptions(
      options,
      options.fileSystem ??
        new NodeFileSystem({
          mmapReads: options.mmapReads === true,
          mmapWrites: options.mmapWrites ?? sync !== 'always',
          zeroFillAppends: options.zeroFillAppends ?? sync === 'always',
        }),
    );
    const fs = resolved.fileSystem;
    if ((options.mmapReads === true || options.mmapWrites === true) && fs instanceof NodeFileSystem && !fs.mmapReads && !fs.mmapWrites) {
      resolved.logger({ level: 'warn', msg: 'mmapReads/mmapWrites asked for but memory maps are unavailable; using pread/pwrite', reason: mmapUnavailableReason() });
    }
    fs.mkdir(resolved.dir);
    const lock = await fs.lockDir(resolved.dir);
    try {
      const state = await recover(fs, resolved.dir, resolved.truncateCorruptTail, resolved.logger, resolved.onMergeStep);
      const db = new Db(resolved, lock, state, performance.now() - started);
      resolved.logger({ level: 'info', msg: 'opened', dir: resolved.dir, keys: state.index.size, ms: Math.round(db.openMs) });
      return db;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  get size(): number {
    return this.index.size;
  }

  get syncMode(): SyncMode {
    return this.options.sync;
  }

  // ---------------------------------------------------------------- reads

  get(key: Bytes): Buffer | undefined {
    this.assertOpen();
    const slot = this.slotOfKey(key);
    if (slot < 0) return undefined;
    const fileId = this.index.fileIdAt(slot);
    const offset = this.index.offsetAt(slot);
    const size = this.index.sizeAt(slot);
    const cache = this.valueCache;
    if (cache === undefined) return this.readValue(fileId, offset, size);
    const cached = cache.get(fileId, offset, size);
    if (cached !== undefined) return cached;
    const value = this.readValue(fileId, offset, size);
    cache.set(fileId, offset, size, value);
    return value;
  }

  has(key: Bytes): boolean {
    this.assertOpen();
    return this.slotOfKey(key) >= 0;
  }

  /** The index slot of a user key, or −1; bytes are looked up as they are, strings as their UTF-8 bytes. */
  private slotOfKey(key: Bytes): number {
    if (typeof key === 'string') return this.index.slotOf(toIndexKey(key));
    const bytes = toBuffer(key);
    return this.index.slotOfBytes(bytes, 0, bytes.length);
  }

  *iterate(options: IterateOptions = {}): IterableIterator<[Buffer, Buffer]> {
    for (const chunk of this.chunks(options, true)) yield* chunk as Array<[Buffer, Buffer]>;
  }

  *keys(options: IterateOptions = {}): IterableIterator<Buffer> {
    for (const chunk of this.chunks(options, false)) for (const entry of chunk) yield entry[0];
  }

  /**
   * Walks a range in chunks; each chunk (keys and values) is read in one synchronous step, and the
   * next chunk re-seeks past the last key, so writes between steps never break the walk.
   */
  private *chunks(options: IterateOptions, withValues: boolean): Generator<Array<[Buffer, Buffer | undefined]>> {
    const reverse = options.reverse === true;
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    if (!(remaining >= 0)) throw new CaskError(ErrorCode.InvalidArgument, `limit must be a non-negative number, got ${String(options.limit)}`);
    let range: KeyRange | undefined = rangeOf(options);
    while (range !== undefined && remaining > 0) {
      this.assertOpen();
      const wanted = Math.min(SCAN_CHUNK_ENTRIES, remaining);
      const found = this.index.scan(range, reverse, wanted);
      const chunk: Array<[Buffer, Buffer | undefined]> = found.map(([key, slot]) => [
        indexKeyToBuffer(key),
        withValues ? this.readValue(this.index.fileIdAt(slot), this.index.offsetAt(slot), this.index.sizeAt(slot)) : undefined,
      ]);
      if (chunk.length > 0) yield chunk;
      remaining -= found.length;
      const last = found[found.length - 1];
      if (found.length < wanted || last === undefined) return;
      range = reverse ? { ...range, high: last[0], highInclusive: false } : { ...range, low: last[0], lowInclusive: false };
    }
  }

  /** Reads and verifies the record at a position; returns a copy of its value. */
  private readValue(fileId: number, offset: number, size: number): Buffer {
    const file = this.files.get(fileId);
    if (file === undefined) {
      // Only a failed in-process merge install closes files the index still points into: the data is
      // intact on disk and a reopen finishes the install, so say that rather than report corruption.
      if (this.failure !== undefined) throw this.failure;
      throw corruption(dataFilePath(this.dir, fileId), offset, 'the index points into a data file that does not exist');
    }
    const buffer = size <= this.readScratch.length ? this.readScratch : Buffer.allocUnsafe(size);
    const read = file.read(buffer, 0, size, offset);
    if (read !== size) throw corruption(file.path, offset, `record of ${size} bytes cut short at ${read} bytes`);
    const header = this.readHeader;
    if (readHeaderInto(buffer, 0, size, header) !== HeaderStatus.Ok || header.headerLength + header.keyLength + header.valueLength !== size) {
      throw corruption(file.path, offset, 'record header does not match the indexed record size');
    }
    if (!recordCrcMatches(buffer, 0, size, header.crc)) throw corruption(file.path, offset, 'crc mismatch');
    const valueStart = header.headerLength + header.keyLength;
    if (buffer !== this.readScratch) return buffer.subarray(valueStart, size);
    const value = Buffer.allocUnsafe(size - valueStart);
    buffer.copy(value, 0, valueStart, size);
    return value;
  }

  // ---------------------------------------------------------------- writes

  put(key: Bytes, value: Bytes): Promise<void> {
    try {
      this.assertWritable();
      const keyBytes = this.checkKey(key);
      const valueBytes = this.checkValue(value);
      const size = recordLength(1 + keyBytes.length, valueBytes.length);
      const scratch = this.scratchFor(size);
      encodeRecordInto(scratch, 0, RecordType.Normal, 0, keyBytes, valueBytes);
      const offset = this.appendRun(scratch, size);
      this.addSuperseded(this.index.setBytes(keyBytes, 0, keyBytes.length, this.activeFileId, offset, size));
      this.valueCache?.set(this.activeFileId, offset, size, valueBytes);
      return this.acknowledge();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Deletes `key`; deleting a missing key writes nothing. */
  delete(key: Bytes): Promise<void> {
    try {
      this.assertWritable();
      const keyBytes = this.checkKey(key);
      if (this.index.slotOfBytes(keyBytes, 0, keyBytes.length) < 0) return RESOLVED;
      const size = recordLength(1 + keyBytes.length, 0);
      const scratch = this.scratchFor(size);
      encodeRecordInto(scratch, 0, RecordType.Deleted, 0, keyBytes, EMPTY);
      this.appendRun(scratch, size);
      this.addSuperseded(this.index.deleteBytes(keyBytes, 0, keyBytes.length));
      this.addGarbage(this.activeFileId, size);
      return this.acknowledge();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Applies `ops` atomically: one op is a plain record; several are a batch with a fresh seq and a
   * closing finish record, so recovery applies all of them or none.
   */
  write(ops: readonly WriteOp[]): Promise<void> {
    try {
      this.assertWritable();
      if (ops.length === 0) return RESOLVED;
      if (ops.length > this.options.batchOpsMax) {
        throw new CaskError(ErrorCode.BatchTooLarge, `a batch holds at most ${this.options.batchOpsMax} operations (batchOpsMax), got ${ops.length}`, { limit: 'batchOpsMax' });
      }
      if (ops.length === 1) {
        const op = ops[0]!;
        return op.type === 'put' ? this.put(op.key, op.value) : this.delete(op.key);
      }
      return this.writeBatch(ops);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private writeBatch(ops: readonly WriteOp[]): Promise<void> {
    const seq = this.lastSeq + 1;
    const seqBytes = uvarintLength(seq);
    const count = ops.length;
    const keys: Buffer[] = new Array<Buffer>(count);
    const values: Buffer[] = new Array<Buffer>(count);
    let total = recordLength(seqBytes + BATCH_FINISHED_KEY.length, 0);
    for (let i = 0; i < count; i++) {
      const op = ops[i]!;
      const key = this.checkKey(op.key);
      const value = op.type === 'put' ? this.checkValue(op.value) : EMPTY;
      keys[i] = key;
      values[i] = value;
      total += recordLength(seqBytes + key.length, value.length);
    }
    if (total > this.options.batchBytesMax) {
      throw new CaskError(ErrorCode.BatchTooLarge, `a batch holds at most ${this.options.batchBytesMax} bytes (batchBytesMax), got ${total}`, { limit: 'batchBytesMax' });
    }
    const buffer = total <= WRITE_SCRATCH_BYTES ? this.writeScratch : Buffer.allocUnsafe(total);
    const sizes: number[] = new Array<number>(count + 1);
    let cursor = 0;
    for (let i = 0; i < count; i++) {
      const next = encodeRecordInto(buffer, cursor, ops[i]!.type === 'put' ? RecordType.Normal : RecordType.Deleted, seq, keys[i]!, values[i]!);
      sizes[i] = next - cursor;
      cursor = next;
    }
    sizes[count] = encodeRecordInto(buffer, cursor, RecordType.BatchFinished, seq, BATCH_FINISHED_KEY, EMPTY) - cursor;

    // The seq is used up even if the append fails: records of a failed batch that span files stay on
    // disk without a finish record, and must never be completed by a later batch's finish record.
    this.lastSeq = seq;
    // Common case: the whole batch goes into one file with one write.
    let fileIds: number[] | undefined;
    let offsets: number[] | undefined;
    let offset = 0;
    if (total <= this.options.dataFileBytesMax) {
      if (this.activeOffset > 0 && this.activeOffset + total > this.options.dataFileBytesMax) this.rotate();
      offset = this.appendAt(buffer, 0, total);
    } else {
      ({ fileIds, offsets } = this.appendRecords(buffer, sizes));
    }
    const singleFileId = this.activeFileId;
    for (let i = 0; i < count; i++) {
      const fileId = fileIds === undefined ? singleFileId : fileIds[i]!;
      const recordOffset = offsets === undefined ? offset : offsets[i]!;
      const size = sizes[i]!;
      if (ops[i]!.type === 'put') {
        this.addSuperseded(this.index.setBytes(keys[i]!, 0, keys[i]!.length, fileId, recordOffset, size));
        this.valueCache?.set(fileId, recordOffset, size, values[i]!);
      } else {
        this.addSuperseded(this.index.deleteBytes(keys[i]!, 0, keys[i]!.length));
        this.addGarbage(fileId, size);
      }
      offset += size;
    }
    this.addGarbage(fileIds === undefined ? singleFileId : fileIds[count]!, sizes[count]!);
    return this.acknowledge();
  }

  /**
   * Appends consecutive records of `sizes` bytes each, rotating the active file wherever the next
   * record would not fit, and writing each run that fits in one file with one write. If a run fails,
   * the records already written stay as unreachable garbage (the batch has no finish record).
   */
  private appendRecords(buffer: Buffer, sizes: readonly number[]): { fileIds: number[]; offsets: number[] } {
    const fileIds: number[] = [];
    const offsets: number[] = [];
    let runStart = 0;
    let runBytes = 0;
    let runRecords = 0;
    const flushRun = (): void => {
      if (runBytes === 0) return;
      let recordOffset = this.appendAt(buffer, runStart, runBytes);
      for (let i = 0; i < runRecords; i++) {
        const size = sizes[fileIds.length]!;
        fileIds.push(this.activeFileId);
        offsets.push(recordOffset);
        recordOffset += size;
      }
      runStart += runBytes;
      runBytes = 0;
      runRecords = 0;
    };
    try {
      for (const size of sizes) {
        if (this.activeOffset + runBytes + size > this.options.dataFileBytesMax && (runBytes > 0 || this.activeOffset > 0)) {
          flushRun();
          if (this.activeOffset > 0) this.rotate();
        }
        runBytes += size;
        runRecords++;
      }
      flushRun();
    } catch (error) {
      this.addGarbage(this.activeFileId, runStart); // what earlier runs wrote is garbage now
      throw error;
    }
    return { fileIds, offsets };
  }

  /** Appends one record (or a run) held in `buffer[0, size)`; returns its offset in the active file. */
  private appendRun(buffer: Buffer, size: number): number {
    if (this.activeOffset > 0 && this.activeOffset + size > this.options.dataFileBytesMax) this.rotate();
    return this.appendAt(buffer, 0, size);
  }

  /** Writes `buffer[start, start+length)` at the end of the active file; rolls back a partial write. */
  private appendAt(buffer: Buffer, start: number, length: number): number {
    const offset = this.activeOffset;
    let written = 0;
    try {
      while (written < length) {
        const n = this.activeFile.write(buffer, start + written, length - written, offset + written);
        if (n <= 0) throw new CaskError(ErrorCode.NoSpace, `write to ${this.activeFile.path} made no progress (disk full?)`, { file: this.activeFile.path });
        written += n;
      }
    } catch (error) {
      if (written > 0) this.rollBackPartialWrite(offset);
      throw error;
    }
    this.activeOffset += length;
    this.diskBytes += length;
    this.unsyncedBytes += length;
    return offset;
  }

  private rollBackPartialWrite(offset: number): void {
    try {
      this.activeFile.truncate(offset);
    } catch (truncateError) {
      this.fail(new CaskError(ErrorCode.ReadOnly, `a partial write to ${this.activeFile.path} could not be rolled back; reopen the database (recovery cuts the torn tail)`, { file: this.activeFile.path, cause: truncateError }));
    }
  }

  /** Seals the active file (fsynced, so everything in it is durable) and starts the next one. */
  private rotate(): void {
    try {
      // Cut any reservation past the data first, so the fsync below makes the sealed length durable too.
      this.activeFile.seal();
      this.activeFile.datasyncSync();
    } catch (error) {
      // As for a failed group fsync: the file's writes may not be durable, and a later fsync could
      // report success for pages the kernel already dropped, so no write may be acknowledged after this.
      this.fail(new CaskError(ErrorCode.ReadOnly, `fsync failed while sealing ${this.activeFile.path}, so earlier writes may not be durable; the database refuses writes until reopened`, { cause: error }));
      throw error;
    }
    const nextId = this.activeFileId + 1;
    const next = this.fs.openFile(dataFilePath(this.dir, nextId), { writable: true, create: true, appendLog: true });
    try {
      this.fs.syncDir(this.dir);
    } catch (error) {
      next.close();
      throw error;
    }
    this.files.set(nextId, next);
    this.activeFileId = nextId;
    this.activeFile = next;
    this.activeOffset = 0;
    this.unsyncedBytes = 0;
  }

  private acknowledge(): Promise<void> {
    if (this.options.sync === 'always') return this.requestSync();
    if (this.options.bytesPerSync > 0 && this.unsyncedBytes >= this.options.bytesPerSync) this.syncInBackground();
    return RESOLVED;
  }

  // ---------------------------------------------------------------- durability

  /**
   * Group commit: the returned promise resolves after an fdatasync that started after this call.
   * Callers in the same event-loop turn (and while another fsync runs) share one fsync.
   */
  private requestSync(): Promise<void> {
    if (this.pendingSyncGroup === undefined) {
      this.pendingSyncGroup = deferred();
      if (!this.syncInFlight) setImmediate(this.fsyncOnEventLoop ? this.runSyncGroupNextTurn : this.runSyncGroupNow);
    }
    return this.pendingSyncGroup.promise;
  }

  private readonly runSyncGroupNow = (): void => this.runSyncGroup();
  /**
   * An fsync on the event loop blocks it, so it waits one more loop turn: writes read from sockets that
   * became readable meanwhile join it. Under redis-benchmark -c 50 -P 1 that made groups ~50% larger and
   * the server 15–20% faster; the pool's fsync does not block the loop and starts at once.
   */
  private readonly runSyncGroupNextTurn = (): void => void setImmediate(this.runSyncGroupNow);

  private runSyncGroup(): void {
    const group = this.pendingSyncGroup;
    if (this.syncInFlight || group === undefined) return;
    this.pendingSyncGroup = undefined;
    if (this.failure !== undefined) {
      group.reject(this.failure);
      return;
    }
    this.syncInFlight = true;
    const syncedBytes = this.unsyncedBytes;
    this.datasyncActive().then(
      () => {
        this.unsyncedBytes = Math.max(0, this.unsyncedBytes - syncedBytes);
        group.resolve();
      },
      (error: unknown) => {
        const failure = new CaskError(ErrorCode.ReadOnly, `fsync failed, so earlier writes may not be durable; the database refuses writes until reopened: ${(error as Error).message}`, { cause: error });
        this.fail(failure);
        group.reject(isCaskError(error) ? error : failure);
      },
    ).finally(() => {
      this.syncInFlight = false;
      if (this.pendingSyncGroup !== undefined) this.runSyncGroup();
    });
  }

  /**
   * One fdatasync of the active file; failures reject. On the event loop only for 'always' groups (one
   * turn's writes): the once-a-second fsync of 'everysec' may cover a second of writes, too long to block.
   */
  private datasyncActive(): Promise<void> {
    if (!this.fsyncOnEventLoop) return this.activeFile.datasync();
    try {
      this.activeFile.datasyncSync();
      return RESOLVED;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private syncInBackground(): void {
    if (this.unsyncedBytes === 0 || this.closed || this.failure !== undefined) return;
    this.requestSync().catch((error: unknown) => {
      this.options.logger({ level: 'error', msg: 'background fsync failed', error: (error as Error).message });
    });
  }

  /** Makes every write so far durable (whatever the sync mode). */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return this.requestSync();
  }

  private fail(error: CaskError): void {
    if (this.failure === undefined) {
      this.failure = error;
      this.options.logger({ level: 'error', msg: 'database is read-only after an I/O failure', error: error.message });
    }
  }

  /** Counts the record an index update superseded (its size is the update's result) as garbage. */
  private addSuperseded(supersededBytes: number): void {
    this.addGarbage(this.index.supersededFileId, supersededBytes);
  }

  private addGarbage(fileId: number, bytes: number): void {
    if (bytes <= 0) return;
    this.garbageBytes.set(fileId, (this.garbageBytes.get(fileId) ?? 0) + bytes);
    this.reclaimableBytes += bytes;
  }

  // ---------------------------------------------------------------- batches, merge, backup

  /** A new atomic write batch (see WriteBatch). */
  batch(): WriteBatch {
    this.assertOpen();
    return new WriteBatch({
      get: (key) => this.get(key),
      write: (ops) => this.write(ops),
      batchOpsMax: this.options.batchOpsMax,
      batchBytesMax: this.options.batchBytesMax,
    });
  }

  /**
   * Compacts every data file older than the active one (see merge.ts) and installs the result.
   * Reads and writes continue meanwhile. Fails with CASKDB_MERGE_IN_PROGRESS if a merge runs, and
   * with CASKDB_NO_SPACE when the disk lacks room for the output.
   */
  async merge(): Promise<{ inputBytes: number; outputBytes: number; keys: number } | undefined> {
    this.assertWritable();
    if (this.merging) throw new CaskError(ErrorCode.MergeInProgress, 'a merge is already running');
    // Wait out a running backup; a merge or backup that claims the slot first (synchronously, right
    // after the same wake-up) is waited out too, so two of them never overlap.
    while (this.maintenance !== undefined) {
      await this.maintenance.catch(() => {});
      this.assertWritable();
      if (this.merging) throw new CaskError(ErrorCode.MergeInProgress, 'a merge is already running');
    }
    this.merging = true;
    const started = performance.now();
    const run = runMerge(this.mergeHost()).then((output) => {
      if (output === undefined) return undefined;
      this.installMerge(output);
      this.lastMerge = { at: Date.now(), inputBytes: output.inputBytes, outputBytes: output.outputBytes, ms: performance.now() - started };
      return { inputBytes: output.inputBytes, outputBytes: output.outputBytes, keys: output.slots.length };
    });
    this.trackMaintenance(run, () => {
      this.merging = false;
    });
    return run;
  }

  private mergeHost(): MergeHost {
    return {
      dir: this.dir,
      fs: this.fs,
      index: this.index,
      dataFileBytesMax: this.options.dataFileBytesMax,
      logger: this.options.logger,
      onStep: this.options.onMergeStep,
      sealActiveFile: () => {
        if (this.activeOffset > 0) this.rotate();
        return this.activeFileId;
      },
      filesBelow: (boundary) =>
        [...this.files.entries()]
          .filter(([id]) => id < boundary)
          .sort((a, b) => a[0] - b[0])
          .map(([id, file]) => ({ id, file, bytes: file.size(), garbageBytes: this.garbageBytes.get(id) ?? 0 })),
      aborted: () => this.closing !== undefined || this.failure !== undefined,
    };
  }

  /**
   * Swaps the merged files in, synchronously so no read sees a half-installed state: close the old
   * files, install the merge directory (crash-safe, same code as open), open the merged files, and
   * move every key the merge copied — unless it was written again meanwhile — to its new position.
   */
  private installMerge(output: MergeOutput): void {
    // Merged files take the ids of old ones: cached positions would name other records.
    this.valueCache?.clear();
    try {
      for (const [id, file] of [...this.files.entries()]) {
        if (id >= output.boundary) continue;
        file.close();
        this.files.delete(id);
        this.garbageBytes.delete(id);
      }
      moveMergedFiles(this.fs, this.dir, output.boundary, this.options.logger, this.options.onMergeStep);
      for (const id of output.mergedFileIds) this.files.set(id, this.fs.openFile(dataFilePath(this.dir, id), { writable: false, create: false }));
    } catch (error) {
      this.fail(new CaskError(ErrorCode.ReadOnly, 'merge install failed; reopen the database to finish it', { cause: error }));
      throw error;
    }
    const { slots, oldFileIds, oldOffsets, newFileIds, newOffsets, newSizes } = output;
    for (let i = 0; i < slots.length; i++) {
      // Unless the key was written again or deleted during the merge (its slot no longer holds the old record).
      if (!this.index.relocateIfAt(slots[i]!, oldFileIds[i]!, oldOffsets[i]!, newFileIds[i]!, newOffsets[i]!, newSizes[i]!)) this.addGarbage(newFileIds[i]!, newSizes[i]!);
    }
    let reclaimable = 0;
    for (const bytes of this.garbageBytes.values()) reclaimable += bytes;
    this.reclaimableBytes = reclaimable;
    let diskBytes = 0;
    for (const file of this.files.values()) diskBytes += file === this.activeFile ? this.activeOffset : file.size();
    this.diskBytes = diskBytes;
  }

  private maybeMerge(): void {
    if (this.maintenance !== undefined || this.closing !== undefined || this.failure !== undefined) return;
    if (this.diskBytes < this.options.mergeBytesMin || this.reclaimableBytes < this.diskBytes * this.options.mergeRatio) return;
    this.options.logger({ level: 'info', msg: 'starting automatic merge', reclaimableBytes: this.reclaimableBytes, diskBytes: this.diskBytes });
    this.merge().catch((error: unknown) => {
      this.options.logger({ level: 'warn', msg: 'automatic merge failed', error: (error as Error).message });
    });
  }

  private trackMaintenance(run: Promise<unknown>, onSettled: () => void): void {
    const tracked: Promise<unknown> = run.then(
      () => {},
      () => {},
    ).finally(() => {
      onSettled();
      if (this.maintenance === tracked) this.maintenance = undefined;
    });
    this.maintenance = tracked;
  }

  /**
   * Copies a consistent snapshot to `targetDir` (which must be missing or empty) while the database
   * keeps serving: the active file is sealed and every file before it copied. Waits for a running merge.
   */
  async backup(targetDir: string): Promise<BackupResult> {
    this.assertWritable();
    // As in merge(): never overlap a merge (it deletes the files being copied) or another backup.
    while (this.maintenance !== undefined) {
      await this.maintenance.catch(() => {});
      this.assertWritable();
    }
    if (this.activeOffset > 0) this.rotate();
    const fileIds = [...this.files.keys()].filter((id) => id < this.activeFileId).sort((a, b) => a - b);
    let bytes = 0;
    for (const id of fileIds) bytes += this.files.get(id)!.size();
    const run = copyBackup({ dir: this.dir, fs: this.fs, fileIds, bytes, lastSeq: this.lastSeq }, targetDir);
    this.trackMaintenance(run, () => {});
    return run;
  }

  // ---------------------------------------------------------------- lifecycle and stats

  stat(): EngineStat {
    this.assertOpen();
    const indexBytes = this.index.estimateBytes();
    return {
      keys: this.index.size,
      dataFiles: this.files.size,
      activeFileId: this.activeFileId,
      diskBytes: this.diskBytes,
      reclaimableBytes: this.reclaimableBytes,
      indexBytes,
      indexBytesPerKey: this.index.size === 0 ? 0 : Math.round(indexBytes / this.index.size),
      lastSeq: this.lastSeq,
      merging: this.merging,
      openMs: Math.round(this.openMs * 10) / 10,
      sync: this.options.sync,
      mmapReads: this.fs instanceof NodeFileSystem && this.fs.mmapReads,
      mmapWrites: this.fs instanceof NodeFileSystem && this.fs.mmapWrites,
      zeroFillAppends: this.fs instanceof NodeFileSystem && this.fs.zeroFillAppends,
      ...(this.valueCache === undefined ? {} : { valueCache: this.valueCache.stats() }),
    };
  }

  /** Syncs, records the last seq in `seq-no`, closes every file and releases the directory lock. */
  close(): Promise<void> {
    if (this.closing === undefined) this.closing = this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    if (this.everysecTimer !== undefined) clearInterval(this.everysecTimer);
    if (this.mergeTimer !== undefined) clearInterval(this.mergeTimer);
    // A running merge sees `closing` and stops; a backup runs to its end.
    await this.maintenance?.catch(() => {});
    let firstError: unknown;
    if (this.failure === undefined) {
      try {
        await this.requestSync();
      } catch (error) {
        firstError = error;
      }
    }
    if (this.failure === undefined && firstError === undefined) {
      try {
        this.writeSeqNo();
      } catch (error) {
        // Everything written is durable by now. seq-no only carries the last batch seq forward; without it the
        // next open starts above the highest seq still in the data files, and reusing a seq that no record
        // holds any more is harmless. A full disk must not make close() look like a loss.
        if (!isCaskError(error, ErrorCode.NoSpace)) firstError = error;
        else this.options.logger({ level: 'warn', msg: 'seq-no not written at close: the disk is full; the next open takes the batch seq from the data files', error: error.message });
      }
    }
    this.closed = true;
    for (const file of this.files.values()) {
      try {
        file.close();
      } catch (error) {
        firstError ??= error;
      }
    }
    this.files.clear();
    this.index.clear();
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
    if (firstError !== undefined) throw firstError;
  }

  private writeSeqNo(): void {
    const value = Buffer.from(String(this.lastSeq));
    const record = Buffer.allocUnsafe(recordLength(SEQ_NO_KEY.length, value.length));
    encodeRecordInto(record, 0, RecordType.Normal, undefined, SEQ_NO_KEY, value);
    const finalPath = join(this.dir, SEQ_NO_FILE_NAME);
    const tempPath = `${finalPath}.tmp`;
    const file = this.fs.openFile(tempPath, { writable: true, create: true });
    try {
      file.truncate(0);
      if (file.write(record, 0, record.length, 0) !== record.length) throw new CaskError(ErrorCode.NoSpace, `short write to ${tempPath}`, { file: tempPath });
      file.datasyncSync();
    } finally {
      file.close();
    }
    this.fs.rename(tempPath, finalPath);
    this.fs.syncDir(this.dir);
  }

  // ---------------------------------------------------------------- checks

  private assertOpen(): void {
    if (this.closed || this.closing !== undefined) throw closedError();
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.failure !== undefined) throw this.failure;
  }

  private checkKey(key: Bytes): Buffer {
    const bytes = toBuffer(key);
    if (bytes.length > this.options.keyBytesMax) {
      throw new CaskError(ErrorCode.KeyTooLarge, `key of ${bytes.length} bytes exceeds keyBytesMax (${this.options.keyBytesMax})`, { limit: 'keyBytesMax' });
    }
    return bytes;
  }

  private checkValue(value: Bytes): Buffer {
    const bytes = toBuffer(value);
    if (bytes.length > this.options.valueBytesMax) {
      throw new CaskError(ErrorCode.ValueTooLarge, `value of ${bytes.length} bytes exceeds valueBytesMax (${this.options.valueBytesMax})`, { limit: 'valueBytesMax' });
    }
    return bytes;
  }

  private scratchFor(size: number): Buffer {
    return size <= this.writeScratch.length ? this.writeScratch : Buffer.allocUnsafe(size);
  }
}

const EMPTY = Buffer.alloc(0);

function closedError(): CaskError {
  return new CaskError(ErrorCode.Closed, 'the database is closed');
}

/** The index range selected by iterate options: the bounds intersected with the prefix range. */
function rangeOf(options: IterateOptions): KeyRange | undefined {
  const range: KeyRange = {};
  const raise = (low: string, inclusive: boolean): void => {
    if (range.low === undefined || low > range.low || (low === range.low && !inclusive)) {
      range.low = low;
      range.lowInclusive = inclusive;
    }
  };
  const lower = (high: string, inclusive: boolean): void => {
    if (range.high === undefined || high < range.high || (high === range.high && !inclusive)) {
      range.high = high;
      range.highInclusive = inclusive;
    }
  };
  if (options.gte !== undefined) raise(toIndexKey(options.gte), true);
  if (options.gt !== undefined) raise(toIndexKey(options.gt), false);
  if (options.lte !== undefined) lower(toIndexKey(options.lte), true);
  if (options.lt !== undefined) lower(toIndexKey(options.lt), false);
  if (options.prefix !== undefined) {
    const prefix = toIndexKey(options.prefix);
    raise(prefix, true);
    const successor = prefixSuccessor(prefix);
    if (successor !== undefined) lower(successor, false);
  }
  if (range.low !== undefined && range.high !== undefined) {
    if (range.low > range.high) return undefined;
    if (range.low === range.high && !(range.lowInclusive === true && range.highInclusive === true)) return undefined;
  }
  return range;
}

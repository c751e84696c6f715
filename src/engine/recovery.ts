// Open-time recovery, in the order DESIGN.md §2 fixes: install a finished merge (or discard an
// unfinished one), load the hint file, scan the data files it does not cover in id order, and
// position the active file at the end of its valid data.
// Invariants: batch records (seq ≥ 1) reach the index only with their finish record; a torn tail
// of the last file is cut off; damage anywhere else is CASKDB_CORRUPTION naming file and offset.
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { readPositionInto, RecordType, type RecordPosition } from '../codec/record.js';
import { getUvarintInto, type DecodedInt } from '../codec/varint.js';
import type { FileSystem, RandomAccessFile } from '../io/file-system.js';
import { KeyIndex } from '../index/key-index.js';
import { CaskError, ErrorCode, isCaskError } from '../util/errors.js';
import {
  FIRST_FILE_ID,
  HINT_FILE_NAME,
  MERGE_FINISHED_FILE_NAME,
  MERGE_FINISHED_KEY,
  MERGE_OLD_REMOVED_MARKER,
  SEQ_NO_FILE_NAME,
  SEQ_NO_KEY,
  dataFileIds,
  dataFileName,
  dataFilePath,
  mergeDirOf,
} from './file-names.js';
import type { Logger, MergeStep } from './options.js';
import { findIntactRecordAfter, scanRecords, type ScanResult } from './record-scanner.js';

export interface RecoveredState {
  index: KeyIndex;
  /** Every data file, the active one included, open for reading (the active one also for writing). */
  files: Map<number, RandomAccessFile>;
  activeFileId: number;
  activeOffset: number;
  /** Bytes of superseded, deleted or never-finished records, per data file id. */
  garbageBytes: Map<number, number>;
  diskBytes: number;
  lastSeq: number;
}

export function corruption(path: string, offset: number, reason: string): CaskError {
  return new CaskError(ErrorCode.Corruption, `corruption in ${path} at offset ${offset}: ${reason}`, { file: path, offset });
}

/** Reads the single raw-key record of `merge-finished` or `seq-no`; returns its decimal value. */
export async function readMarkerFile(fs: FileSystem, path: string, expectedKey: Buffer): Promise<number> {
  const file = fs.openFile(path, { writable: false, create: false });
  try {
    let value: number | undefined;
    const result = await scanRecords(file, (record) => {
      if (value !== undefined) return;
      const key = record.buffer.subarray(record.keyStart, record.keyEnd);
      const text = record.buffer.toString('latin1', record.keyEnd, record.valueEnd);
      if (!key.equals(expectedKey) || !/^[0-9]+$/.test(text)) return;
      value = Number(text);
    });
    if (result.damage !== undefined) throw corruption(path, result.damage.offset, result.damage.reason);
    if (value === undefined) throw corruption(path, 0, `no '${expectedKey.toString()}' record with a decimal value`);
    return value;
  } finally {
    file.close();
  }
}

/**
 * Installs a finished merge from `<dir>-merge`, or removes an unfinished one. Crash-safe at every step:
 * old files below the boundary are removed first, then a marker records that, then the merged files
 * move in (merge-finished last), then the merge directory goes. A rerun resumes where it stopped.
 */
export async function installMergeDirectory(fs: FileSystem, dir: string, logger: Logger, onStep: (step: MergeStep) => void = () => {}): Promise<void> {
  const mergeDir = mergeDirOf(dir);
  if (!fs.exists(mergeDir)) return;
  const finishedPath = join(mergeDir, MERGE_FINISHED_FILE_NAME);
  if (!fs.exists(finishedPath)) {
    logger({ level: 'warn', msg: 'discarding an unfinished merge', mergeDir });
    fs.removeTree(mergeDir);
    return;
  }
  let boundary: number;
  try {
    boundary = await readMarkerFile(fs, finishedPath, MERGE_FINISHED_KEY);
  } catch (error) {
    // merge-finished is the merge's last write; a crash during it leaves the file empty or torn. Until
    // the old-removed marker exists the old files are untouched and authoritative: discard the merge.
    if (!isCaskError(error, ErrorCode.Corruption) || fs.exists(join(mergeDir, MERGE_OLD_REMOVED_MARKER))) throw error;
    logger({ level: 'warn', msg: 'discarding a merge whose merge-finished record is incomplete', mergeDir, reason: error.message });
    fs.removeTree(mergeDir);
    return;
  }
  moveMergedFiles(fs, dir, boundary, logger, onStep);
}

/** The synchronous part of installing a finished merge whose boundary is known (see above). */
export function moveMergedFiles(fs: FileSystem, dir: string, boundary: number, logger: Logger, onStep: (step: MergeStep) => void): void {
  const mergeDir = mergeDirOf(dir);
  const finishedPath = join(mergeDir, MERGE_FINISHED_FILE_NAME);
  const markerPath = join(mergeDir, MERGE_OLD_REMOVED_MARKER);
  if (!fs.exists(markerPath)) {
    for (const id of dataFileIds(fs.readdir(dir))) if (id < boundary) fs.unlink(dataFilePath(dir, id));
    if (fs.exists(join(dir, HINT_FILE_NAME))) fs.unlink(join(dir, HINT_FILE_NAME));
    fs.syncDir(dir);
    onStep('old-removed');
    fs.openFile(markerPath, { writable: true, create: true }).close();
    fs.syncDir(mergeDir);
    onStep('marker-written');
  }
  for (const [position, id] of dataFileIds(fs.readdir(mergeDir)).entries()) {
    if (id >= boundary) throw corruption(join(mergeDir, dataFileName(id)), 0, `merged file id ${id} is not below the merge boundary ${boundary}`);
    fs.moveFile(dataFilePath(mergeDir, id), dataFilePath(dir, id));
    if (position === 0) onStep('some-moved');
  }
  if (fs.exists(join(mergeDir, HINT_FILE_NAME))) fs.moveFile(join(mergeDir, HINT_FILE_NAME), join(dir, HINT_FILE_NAME));
  fs.syncDir(dir);
  onStep('files-moved');
  fs.moveFile(finishedPath, join(dir, MERGE_FINISHED_FILE_NAME));
  fs.syncDir(dir);
  fs.removeTree(mergeDir);
  onStep('installed');
  logger({ level: 'info', msg: 'installed merge', boundary });
}

/**
 * The records of one batch seen so far, held until its finish record: user keys copied into one buffer,
 * positions in typed arrays. Reused from batch to batch (`reset`), so recovering a directory written in
 * batches allocates nothing per batch — growing arrays per batch was most of open's garbage, and the young
 * generation it made V8 grow stayed in the process's RSS.
 */
class PendingBatch {
  keyBytes = Buffer.allocUnsafe(1024);
  keyBytesUsed = 0;
  count = 0;
  keyEnds = new Uint32Array(64);
  types = new Uint8Array(64);
  fileIds = new Uint32Array(64);
  offsets = new Uint32Array(64);
  sizes = new Uint32Array(64);

  add(type: number, buffer: Buffer, keyStart: number, keyEnd: number, fileId: number, offset: number, size: number): void {
    const needed = this.keyBytesUsed + keyEnd - keyStart;
    if (needed > this.keyBytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.keyBytes.length * 2));
      this.keyBytes.copy(grown, 0, 0, this.keyBytesUsed);
      this.keyBytes = grown;
    }
    if (this.count === this.sizes.length) this.grow();
    // A loop for short keys: Buffer#copy costs more per call than copying 16 bytes (9% of open's time).
    const target = this.keyBytes;
    let used = this.keyBytesUsed;
    if (keyEnd - keyStart <= 64) for (let i = keyStart; i < keyEnd; i++) target[used++] = buffer[i]!;
    else used += buffer.copy(target, used, keyStart, keyEnd);
    this.keyBytesUsed = used;
    const at = this.count++;
    this.keyEnds[at] = this.keyBytesUsed;
    this.types[at] = type;
    this.fileIds[at] = fileId;
    this.offsets[at] = offset;
    this.sizes[at] = size;
  }

  /** Empties the batch for the next one, keeping its buffers. */
  reset(): void {
    this.keyBytesUsed = 0;
    this.count = 0;
  }

  private grow(): void {
    const capacity = this.sizes.length * 2;
    const widen = <T extends Uint32Array | Uint8Array>(from: T, to: T): T => {
      to.set(from);
      return to;
    };
    this.keyEnds = widen(this.keyEnds, new Uint32Array(capacity));
    this.types = widen(this.types, new Uint8Array(capacity));
    this.fileIds = widen(this.fileIds, new Uint32Array(capacity));
    this.offsets = widen(this.offsets, new Uint32Array(capacity));
    this.sizes = widen(this.sizes, new Uint32Array(capacity));
  }
}

/** Batch holders kept for reuse: enough for writers whose batches interleave, few enough to cost nothing. */
const SPARE_BATCHES_MAX = 8;

/** Applies decoded records to the index, holding batch records until their finish record. */
class RecordApplier {
  readonly garbageBytes = new Map<number, number>();
  lastSeq = 0;
  private readonly pendingBatches = new Map<number, PendingBatch>();
  /** Applied batches' holders, for the next batches (batches usually come one after another). */
  private readonly spareBatches: PendingBatch[] = [];

  constructor(private readonly index: KeyIndex) {}

  private addGarbage(fileId: number, bytes: number): void {
    if (bytes > 0) this.garbageBytes.set(fileId, (this.garbageBytes.get(fileId) ?? 0) + bytes);
  }

  /** Applies one record whose user key is `bytes[keyStart, keyEnd)`. */
  private apply(type: number, bytes: Buffer, keyStart: number, keyEnd: number, fileId: number, offset: number, size: number): void {
    const index = this.index;
    const superseded = type === RecordType.Normal ? index.setBytes(bytes, keyStart, keyEnd, fileId, offset, size) : index.deleteBytes(bytes, keyStart, keyEnd);
    this.addGarbage(index.supersededFileId, superseded);
    // A tombstone is itself garbage once applied.
    if (type !== RecordType.Normal) this.addGarbage(fileId, size);
  }

  private readonly seqScratch: DecodedInt = { value: 0, length: 0 };

  /** One record; its on-disk key, uvarint(seq) ++ userKey, is `buffer[keyStart, keyEnd)`. */
  onRecord(type: number, buffer: Buffer, keyStart: number, keyEnd: number, fileId: number, offset: number, size: number, path: string): void {
    getUvarintInto(buffer, keyStart, keyEnd, this.seqScratch);
    if (this.seqScratch.length <= 0) throw corruption(path, offset, 'record key lacks its batch sequence prefix');
    const seq = this.seqScratch.value;
    if (seq > this.lastSeq) this.lastSeq = seq;
    if (type === RecordType.BatchFinished) {
      const batch = this.pendingBatches.get(seq);
      this.pendingBatches.delete(seq);
      if (batch !== undefined) {
        for (let i = 0; i < batch.count; i++) {
          this.apply(batch.types[i]!, batch.keyBytes, i === 0 ? 0 : batch.keyEnds[i - 1]!, batch.keyEnds[i]!, batch.fileIds[i]!, batch.offsets[i]!, batch.sizes[i]!);
        }
        batch.reset();
        if (this.spareBatches.length < SPARE_BATCHES_MAX) this.spareBatches.push(batch);
      }
      this.addGarbage(fileId, size);
      return;
    }
    const userKeyStart = keyStart + this.seqScratch.length;
    // Plain records (seq 0), the bulk of most directories, go straight from the read buffer.
    if (seq === 0) {
      this.apply(type, buffer, userKeyStart, keyEnd, fileId, offset, size);
      return;
    }
    let batch = this.pendingBatches.get(seq);
    if (batch === undefined) this.pendingBatches.set(seq, (batch = this.spareBatches.pop() ?? new PendingBatch()));
    batch.add(type, buffer, userKeyStart, keyEnd, fileId, offset, size);
  }

  /** Records of batches that never finished are garbage. */
  finish(): void {
    for (const batch of this.pendingBatches.values()) for (let i = 0; i < batch.count; i++) this.addGarbage(batch.fileIds[i]!, batch.sizes[i]!);
    this.pendingBatches.clear();
  }
}

async function loadHintFile(fs: FileSystem, path: string, index: KeyIndex): Promise<void> {
  const file = fs.openFile(path, { writable: false, create: false });
  try {
    // A hint record of a 16-byte key takes about 30 bytes; sizing the index up front avoids rehashing.
    index.reserve(Math.floor(file.size() / 32));
    const position: RecordPosition = { fileId: 0, offset: 0, size: 0 };
    const scratch: DecodedInt = { value: 0, length: 0 };
    const result = await scanRecords(file, (record) => {
      if (
        !readPositionInto(record.buffer, record.keyEnd, record.valueEnd, position, scratch) ||
        position.offset > 0xffffffff ||
        position.fileId > 0xffffffff
      ) {
        throw corruption(path, record.offset, `hint record holds no valid position${HINT_REBUILD}`);
      }
      index.setBytes(record.buffer, record.keyStart, record.keyEnd, position.fileId, position.offset, position.size);
    });
    if (result.damage !== undefined) throw corruption(path, result.damage.offset, `${result.damage.reason}${HINT_REBUILD}`);
  } finally {
    file.close();
  }
}

/** What a damaged hint file's error adds: the way out, since the hint holds nothing the merged files do not. */
const HINT_REBUILD = ' (the hint file only indexes the merged data files: remove it and open again to index them by scanning)';

/** Decides what damage found by a scan means: a torn tail to cut, or corruption to report. */
function judgeDamage(
  file: RandomAccessFile,
  result: ScanResult,
  isLastFile: boolean,
  truncateCorruptTail: boolean,
  logger: Logger,
): void {
  const damage = result.damage;
  if (damage === undefined) return;
  if (!isLastFile) {
    // A record cut short at the end of a sealed file is how the reference design ends one; keep its rule.
    if (damage.kind === 'truncated') {
      logger({ level: 'warn', msg: 'sealed data file ends inside a record; ignoring the partial record', file: file.path, offset: damage.offset });
      return;
    }
    throw corruption(file.path, damage.offset, damage.reason);
  }
  const intact = findIntactRecordAfter(file, damage.offset, result.fileSize);
  if (intact !== undefined && !truncateCorruptTail) {
    throw corruption(file.path, damage.offset, `${damage.reason}; intact records follow at offset ${intact}, so this is not a torn write (open with truncateCorruptTail to cut the file here)`);
  }
  logger({
    level: 'warn',
    msg: 'truncating the torn tail of the active data file',
    file: file.path,
    offset: damage.offset,
    bytes: result.fileSize - damage.offset,
    reason: damage.reason,
  });
  file.truncate(damage.offset);
}

export async function recover(fs: FileSystem, dir: string, truncateCorruptTail: boolean, logger: Logger, onMergeStep: (step: MergeStep) => void = () => {}): Promise<RecoveredState> {
  await installMergeDirectory(fs, dir, logger, onMergeStep);
  const names = fs.readdir(dir);
  // A per-process hash seed, so keys chosen by a client cannot be made to collide on purpose.
  const index = new KeyIndex(randomInt(0x7fffffff));
  // Files below `boundary` are merged: never appended to again. Those below `hinted` are indexed from the
  // hint file instead of being scanned.
  let boundary = 0;
  let hinted = 0;
  if (names.includes(MERGE_FINISHED_FILE_NAME)) {
    boundary = await readMarkerFile(fs, join(dir, MERGE_FINISHED_FILE_NAME), MERGE_FINISHED_KEY);
    hinted = boundary;
    // The hint file is derived from the merged files (one position per record in them). Without it, scan
    // the merged files instead: skipping them, as the reference design does, would silently lose their keys.
    // A damaged hint file still fails the open (CASKDB_CORRUPTION), like damage anywhere else.
    if (names.includes(HINT_FILE_NAME)) await loadHintFile(fs, join(dir, HINT_FILE_NAME), index);
    else {
      if (dataFileIds(names).some((id) => id < boundary)) logger({ level: 'warn', msg: 'no hint file for the merged data files; scanning them instead', dir });
      hinted = 0;
    }
  }
  const applier = new RecordApplier(index);
  if (names.includes(SEQ_NO_FILE_NAME)) applier.lastSeq = await readMarkerFile(fs, join(dir, SEQ_NO_FILE_NAME), SEQ_NO_KEY);

  const ids = dataFileIds(names);
  const files = new Map<number, RandomAccessFile>();
  let diskBytes = 0;
  let activeOffset = 0;
  try {
    for (const [position, id] of ids.entries()) {
      const isLast = position === ids.length - 1;
      const path = dataFilePath(dir, id);
      const file = fs.openFile(path, { writable: isLast, create: false, appendLog: isLast });
      files.set(id, file);
      if (id < hinted) {
        diskBytes += file.size();
        continue;
      }
      const result = await scanRecords(file, (record) => {
        applier.onRecord(record.type, record.buffer, record.keyStart, record.keyEnd, id, record.offset, record.size, path);
      });
      // A merged file was fsynced whole before merge-finished: damage there is never a torn write.
      judgeDamage(file, result, isLast && id >= boundary, truncateCorruptTail, logger);
      if (isLast) {
        activeOffset = result.validEnd;
        if (result.stop === 'zero' && result.fileSize > result.validEnd) {
          // Zero padding after the data (pre-allocation or a crash): appends go where the data ends.
          file.truncate(result.validEnd);
        }
      }
      diskBytes += isLast ? activeOffset : result.fileSize;
    }
    applier.finish();
    let activeFileId = ids[ids.length - 1] ?? FIRST_FILE_ID;
    if (ids.length === 0) {
      files.set(activeFileId, fs.openFile(dataFilePath(dir, activeFileId), { writable: true, create: true, appendLog: true }));
      fs.syncDir(dir);
    } else if (activeFileId < boundary) {
      // Every file was merged: never append to a merged file, start the next one.
      activeFileId = boundary;
      files.set(activeFileId, fs.openFile(dataFilePath(dir, activeFileId), { writable: true, create: true, appendLog: true }));
      fs.syncDir(dir);
      activeOffset = 0;
    }
    return { index, files, activeFileId, activeOffset, garbageBytes: applier.garbageBytes, diskBytes, lastSeq: applier.lastSeq };
  } catch (error) {
    for (const file of files.values()) file.close();
    throw error;
  }
}

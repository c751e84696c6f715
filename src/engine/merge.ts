// Merge (compaction), in the original design's order: seal the active file and remember the new one's
// id as the boundary; read every older file in ascending id order; copy each record whose (file id,
// offset) is still the index's position for its key into `<dir>-merge` with seq 0; write a hint record
// for each; sync; write `merge-finished` last and sync it. The Db then installs the result in-process
// (installMergeDirectory, crash-safe); a crash anywhere before leaves the old files authoritative.
// Reads go to the thread pool and the loop yields between chunks, so the Db keeps serving meanwhile.
import { dirname, join } from 'node:path';
import { encodeRawRecordFromRanges, encodeRecordInto, recordLength, RecordType } from '../codec/record.js';
import { getUvarintInto, putVarint, varintLength, type DecodedInt } from '../codec/varint.js';
import type { FileSystem, RandomAccessFile } from '../io/file-system.js';
import type { KeyIndex } from '../index/key-index.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import { HINT_FILE_NAME, MERGE_FINISHED_FILE_NAME, MERGE_FINISHED_KEY, dataFilePath, mergeDirOf } from './file-names.js';
import type { Logger, MergeStep } from './options.js';
import { corruption } from './recovery.js';
import { scanRecords } from './record-scanner.js';

const OUTPUT_BUFFER_BYTES = 1024 * 1024;
/** Room kept free beyond the estimated merge output. */
const FREE_SPACE_MARGIN_BYTES = 16 * 1024 * 1024;

/** What the Db lends a merge. */
export interface MergeHost {
  readonly dir: string;
  readonly fs: FileSystem;
  readonly index: KeyIndex;
  readonly dataFileBytesMax: number;
  readonly logger: Logger;
  readonly onStep: (step: MergeStep) => void;
  /** Seals the active file and returns the id of the new active file: the merge boundary. */
  sealActiveFile(): number;
  /** Ids of the data files below `boundary`, ascending, with their sizes and garbage bytes. */
  filesBelow(boundary: number): Array<{ id: number; file: RandomAccessFile; bytes: number; garbageBytes: number }>;
  /** True once the Db is closing: the merge stops and discards its output. */
  aborted(): boolean;
}

/** Records the merge copied: index slot, old and new position of each, for the in-process install. */
export interface MergeOutput {
  boundary: number;
  /** Index slot of each copied key (see KeyIndex.relocateIfAt). */
  slots: number[];
  oldFileIds: number[];
  oldOffsets: number[];
  newFileIds: number[];
  newOffsets: number[];
  newSizes: number[];
  mergedFileIds: number[];
  inputBytes: number;
  outputBytes: number;
}

/** An append-only output file of the merge, written through one reusable buffer. */
class OutputFile {
  private buffer = Buffer.allocUnsafe(OUTPUT_BUFFER_BYTES);
  private buffered = 0;
  private written = 0;

  constructor(readonly file: RandomAccessFile) {}

  get size(): number {
    return this.written + this.buffered;
  }

  /** Room for `bytes` more bytes in the buffer (flushing it first when needed). */
  reserve(bytes: number): Buffer {
    if (this.buffered + bytes > this.buffer.length) this.flush();
    if (bytes > this.buffer.length) this.buffer = Buffer.allocUnsafe(bytes);
    return this.buffer;
  }

  get cursor(): number {
    return this.buffered;
  }

  advance(bytes: number): void {
    this.buffered += bytes;
  }

  flush(): void {
    let done = 0;
    while (done < this.buffered) {
      const n = this.file.write(this.buffer, done, this.buffered - done, this.written + done);
      if (n <= 0) throw new CaskError(ErrorCode.NoSpace, `merge output ${this.file.path}: write made no progress`, { file: this.file.path });
      done += n;
    }
    this.written += this.buffered;
    this.buffered = 0;
  }

  async finish(): Promise<void> {
    try {
      this.flush();
      await this.file.datasync();
    } finally {
      // Also on failure: the failed merge removes its directory, and an open descriptor would keep
      // the deleted file's space in use for as long as the process runs.
      this.file.close();
    }
  }
}

/** Appends the hint record of one copied key: raw user key, value varint(fileId, offset, size). */
function writeHintRecord(hint: OutputFile, source: Buffer, keyStart: number, keyEnd: number, fileId: number, offset: number, size: number): void {
  let valueLength = putVarint(positionScratch, 0, fileId);
  valueLength = putVarint(positionScratch, valueLength, offset);
  valueLength = putVarint(positionScratch, valueLength, size);
  const total = recordLength(keyEnd - keyStart, valueLength);
  const target = hint.reserve(total);
  encodeRawRecordFromRanges(target, hint.cursor, RecordType.Normal, source, keyStart, keyEnd, positionScratch, 0, valueLength);
  hint.advance(total);
}

const positionScratch = Buffer.alloc(32);

function abortedError(): CaskError {
  return new CaskError(ErrorCode.Closed, 'merge aborted: the database is closing');
}

export async function runMerge(host: MergeHost): Promise<MergeOutput | undefined> {
  const { fs, index } = host;
  const boundary = host.sealActiveFile();
  host.onStep('sealed');
  const inputs = host.filesBelow(boundary);
  if (inputs.length === 0) return undefined;
  const inputBytes = inputs.reduce((sum, input) => sum + input.bytes, 0);
  const liveEstimate = inputs.reduce((sum, input) => sum + Math.max(0, input.bytes - input.garbageBytes), 0);
  const mergeDir = mergeDirOf(host.dir);
  const freeBytes = fs.freeBytes(dirname(mergeDir));
  if (freeBytes < liveEstimate + FREE_SPACE_MARGIN_BYTES) {
    throw new CaskError(
      ErrorCode.NoSpace,
      `not enough free disk space to merge: about ${liveEstimate} bytes of live data need copying (plus a ${FREE_SPACE_MARGIN_BYTES}-byte margin), ${freeBytes} bytes are free`,
      { file: mergeDir },
    );
  }
  fs.removeTree(mergeDir);
  fs.mkdir(mergeDir);

  const output: MergeOutput = {
    boundary,
    slots: [],
    oldFileIds: [],
    oldOffsets: [],
    newFileIds: [],
    newOffsets: [],
    newSizes: [],
    mergedFileIds: [],
    inputBytes,
    outputBytes: 0,
  };
  const openOutput = (id: number): OutputFile => {
    if (id >= boundary) {
      throw new CaskError(ErrorCode.NoSpace, `merge needs more data files than ids below the boundary ${boundary}; raise dataFileBytesMax`);
    }
    output.mergedFileIds.push(id);
    return new OutputFile(fs.openFile(dataFilePath(mergeDir, id), { writable: true, create: true }));
  };
  let outputId = inputs[0]!.id;
  const seqScratch: DecodedInt = { value: 0, length: 0 };
  const sealed: Array<Promise<void>> = [];
  let data = openOutput(outputId);
  const hint = new OutputFile(fs.openFile(join(mergeDir, HINT_FILE_NAME), { writable: true, create: true }));
  try {
    for (const input of inputs) {
      const path = input.file.path;
      const result = await scanRecords(input.file, (record) => {
        if (record.type !== RecordType.Normal) return;
        const buffer = record.buffer;
        getUvarintInto(buffer, record.keyStart, record.keyEnd, seqScratch);
        if (seqScratch.length <= 0) throw corruption(path, record.offset, 'record key lacks its batch sequence prefix');
        const seq = seqScratch.value;
        const userKeyStart = record.keyStart + seqScratch.length;
        const slot = index.liveSlotOfBytes(buffer, userKeyStart, record.keyEnd, input.id, record.offset);
        if (slot < 0) return;
        const userKeyLength = record.keyEnd - userKeyStart;
        const valueLength = record.valueEnd - record.keyEnd;
        const size = seq === 0 ? record.size : recordLength(1 + userKeyLength, valueLength);
        if (data.size > 0 && data.size + size > host.dataFileBytesMax) {
          const finishing = data.finish();
          // Awaited after the scan (or settled on error); until then a failed fsync must not be an
          // unhandled rejection, which would end the process.
          finishing.catch(() => {});
          sealed.push(finishing);
          data = openOutput(++outputId);
        }
        const offset = data.size;
        const target = data.reserve(size);
        if (seq === 0) buffer.copy(target, data.cursor, record.start, record.start + record.size);
        else encodeRecordInto(target, data.cursor, RecordType.Normal, 0, buffer.subarray(userKeyStart, record.keyEnd), buffer.subarray(record.keyEnd, record.valueEnd));
        data.advance(size);
        output.slots.push(slot);
        output.oldFileIds.push(input.id);
        output.oldOffsets.push(record.offset);
        output.newFileIds.push(outputId);
        output.newOffsets.push(offset);
        output.newSizes.push(size);
        output.outputBytes += size;
        writeHintRecord(hint, buffer, userKeyStart, record.keyEnd, outputId, offset, size);
      });
      if (result.damage !== undefined) throw corruption(path, result.damage.offset, `${result.damage.reason} (found while merging)`);
      if (host.aborted()) throw abortedError();
    }
    host.onStep('copied');
    await Promise.all([...sealed, data.finish(), hint.finish()]);
    const finishedValue = Buffer.from(String(boundary));
    const finished = Buffer.allocUnsafe(recordLength(MERGE_FINISHED_KEY.length, finishedValue.length));
    encodeRecordInto(finished, 0, RecordType.Normal, undefined, MERGE_FINISHED_KEY, finishedValue);
    fs.syncDir(mergeDir);
    host.onStep('hint-written');
    // Written under a temporary name and renamed, so merge-finished exists only complete and synced.
    const finishedPath = join(mergeDir, MERGE_FINISHED_FILE_NAME);
    const finishedFile = fs.openFile(`${finishedPath}.tmp`, { writable: true, create: true });
    try {
      if (finishedFile.write(finished, 0, finished.length, 0) !== finished.length) {
        throw new CaskError(ErrorCode.NoSpace, `short write of ${finishedPath}.tmp`, { file: finishedPath });
      }
      await finishedFile.datasync();
    } finally {
      finishedFile.close();
    }
    fs.rename(`${finishedPath}.tmp`, finishedPath);
    fs.syncDir(mergeDir);
    host.onStep('finished-written');
    host.logger({ level: 'info', msg: 'merge finished', boundary, inputBytes, outputBytes: output.outputBytes, keys: output.slots.length });
    return output;
  } catch (error) {
    await Promise.allSettled(sealed);
    for (const output of [data, hint]) {
      try {
        output.file.close();
      } catch {
        // Already closed by finish(); the directory goes below either way.
      }
    }
    fs.removeTree(mergeDir);
    throw error;
  }
}

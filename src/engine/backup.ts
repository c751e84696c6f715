// Backup: a consistent copy while the database keeps serving. The Db seals the active file first, so
// every file below the new active id is immutable; those files, the hint file and merge-finished are
// copied (on the thread pool), fsynced, and a seq-no file is written. The copy opens to exactly the
// state at the moment of sealing. The Db keeps merges out while a backup runs.
import { dirname, join } from 'node:path';
import { encodeRecordInto, recordLength, RecordType } from '../codec/record.js';
import type { FileSystem } from '../io/file-system.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import { HINT_FILE_NAME, MERGE_FINISHED_FILE_NAME, SEQ_NO_FILE_NAME, SEQ_NO_KEY, dataFileName } from './file-names.js';

export interface BackupSource {
  readonly dir: string;
  readonly fs: FileSystem;
  /** Data file ids to copy (all immutable) and their total size. */
  fileIds: number[];
  bytes: number;
  lastSeq: number;
}

export interface BackupResult {
  dir: string;
  files: number;
  bytes: number;
}

const FREE_SPACE_MARGIN_BYTES = 16 * 1024 * 1024;

export async function copyBackup(source: BackupSource, targetDir: string): Promise<BackupResult> {
  const { fs } = source;
  if (fs.exists(targetDir) && fs.readdir(targetDir).length > 0) {
    throw new CaskError(ErrorCode.InvalidArgument, `backup target ${targetDir} exists and is not empty`);
  }
  fs.mkdir(targetDir);
  const free = fs.freeBytes(dirname(join(targetDir, '.')));
  if (free < source.bytes + FREE_SPACE_MARGIN_BYTES) {
    throw new CaskError(ErrorCode.NoSpace, `not enough free disk space for the backup: ${source.bytes} bytes to copy, ${free} bytes free`, { file: targetDir });
  }
  const names = source.fileIds.map(dataFileName);
  for (const extra of [HINT_FILE_NAME, MERGE_FINISHED_FILE_NAME]) if (fs.exists(join(source.dir, extra))) names.push(extra);
  let bytes = 0;
  for (const name of names) {
    await fs.copyFile(join(source.dir, name), join(targetDir, name));
    const copy = fs.openFile(join(targetDir, name), { writable: true, create: false });
    try {
      bytes += copy.size();
      await copy.datasync();
    } finally {
      copy.close();
    }
  }
  const value = Buffer.from(String(source.lastSeq));
  const record = Buffer.allocUnsafe(recordLength(SEQ_NO_KEY.length, value.length));
  encodeRecordInto(record, 0, RecordType.Normal, undefined, SEQ_NO_KEY, value);
  const seqFile = fs.openFile(join(targetDir, SEQ_NO_FILE_NAME), { writable: true, create: true });
  try {
    if (seqFile.write(record, 0, record.length, 0) !== record.length) throw new CaskError(ErrorCode.NoSpace, 'short write of the backup seq-no file');
    await seqFile.datasync();
  } finally {
    seqFile.close();
  }
  fs.syncDir(targetDir);
  return { dir: targetDir, files: names.length, bytes };
}

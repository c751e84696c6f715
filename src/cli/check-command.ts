// `caskdb check`: verifies a data directory without changing it. It takes the directory lock (so no
// writer runs meanwhile), opens every file read-only, scans every data file and the hint file with the
// record scanner, checks every CRC and the structure recovery relies on, and reports each damage with
// file and offset. Exit 0 when the directory is sound (a torn tail, which open cuts, is reported but
// is not damage unless --strict), 1 on damage, 2 on a usage error.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { decodeHeader, decodePosition, recordCrcMatches, RecordType, splitDiskKey, BATCH_FINISHED_KEY } from '../codec/record.js';
import {
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
} from '../engine/file-names.js';
import { findIntactRecordAfter, scanRecords, type ScanResult } from '../engine/record-scanner.js';
import { readMarkerFile } from '../engine/recovery.js';
import type { FileSystem, RandomAccessFile } from '../io/file-system.js';
import { NodeFileSystem } from '../io/node-file-system.js';
import { isCaskError } from '../util/errors.js';
import { command, EXIT_FAILURE, EXIT_OK, parseCommandArgs, ProgressLine, requireDir, UsageError, writeOut } from './data-commands.js';

const CHECK_HELP = `usage: caskdb check --dir DIR [--strict] [--json]

Verifies a data directory without modifying it: takes the directory lock (fails if a server or another
process has the database open; on a read-only file system, where nothing can write, it goes without),
then reads every data file, the hint file, merge-finished and seq-no, verifying every record's CRC and
the structure recovery relies on (the batch seq prefix of every key, batch finish records, hint positions
that point at intact records of the same key).
Each problem is printed with its file and byte offset:
  damage   data that recovery would refuse or lose (open fails with CASKDB_CORRUPTION)
  torn     a record cut short (or damaged) at the very end of the last data file, as a crash leaves it;
           open cuts it away, so it is not damage unless --strict
  warning  unusual but harmless (an unfinished batch, which recovery ignores; a pending merge)
A progress line is drawn on stderr only when stderr is a terminal.
Exit status: 0 sound, 1 damage found (or the check could not run), 2 usage error.

options:
  --dir DIR   the data directory
  --strict    treat a torn tail as damage
  --json      print the report as one JSON object
  -h, --help  this help
`;

export type ProblemKind = 'damage' | 'torn' | 'warning';

export interface CheckProblem {
  kind: ProblemKind;
  file: string;
  offset?: number;
  message: string;
}

export interface FileReport {
  file: string;
  records: number;
  bytes: number;
}

export interface CheckReport {
  dir: string;
  files: FileReport[];
  problems: CheckProblem[];
}

/** Records of a batch seen so far, to report batches that never finish. */
interface OpenBatch {
  records: number;
  file: string;
  offset: number;
}

/**
 * Checks `dir`; the caller holds the directory lock. Pure reading: nothing is written or truncated.
 * A finished merge waiting in `<dir>-merge` is checked too (`nested` marks that inner call).
 */
export async function checkDirectory(fs: FileSystem, dir: string, onProgress: (text: string) => void = () => {}, nested = false): Promise<CheckReport> {
  const report: CheckReport = { dir, files: [], problems: [] };
  const problem = (kind: ProblemKind, file: string, offset: number | undefined, message: string): void => {
    report.problems.push(offset === undefined ? { kind, file, message } : { kind, file, offset, message });
  };
  const names = fs.readdir(dir);

  const mergeDir = mergeDirOf(dir);
  if (nested === false && fs.exists(mergeDir)) {
    const finished = fs.exists(join(mergeDir, MERGE_FINISHED_FILE_NAME));
    problem('warning', mergeDir, undefined, finished ? 'a finished merge waits here; the next open installs it' : 'an unfinished merge directory; the next open discards it');
    if (finished && !fs.exists(join(mergeDir, MERGE_OLD_REMOVED_MARKER))) {
      // The next open moves these files in: check them as the directory they will become part of.
      const merged = await checkDirectory(fs, mergeDir, onProgress, true);
      for (const file of merged.files) report.files.push({ ...file, file: `${basename(mergeDir)}/${file.file}` });
      report.problems.push(...merged.problems);
    }
  }

  let boundary = 0;
  if (names.includes(MERGE_FINISHED_FILE_NAME)) {
    boundary = await readMarker(fs, join(dir, MERGE_FINISHED_FILE_NAME), MERGE_FINISHED_KEY, problem) ?? 0;
  }
  if (names.includes(SEQ_NO_FILE_NAME)) await readMarker(fs, join(dir, SEQ_NO_FILE_NAME), SEQ_NO_KEY, problem);

  const ids = dataFileIds(names);
  const files = new Map<number, RandomAccessFile>();
  const openBatches = new Map<number, OpenBatch>();
  const finishedSeqs = new Set<number>();
  let mergedRecords = 0;
  try {
    for (const [position, id] of ids.entries()) {
      const path = dataFilePath(dir, id);
      const file = fs.openFile(path, { writable: false, create: false });
      files.set(id, file);
      const isLast = position === ids.length - 1;
      const fileReport: FileReport = { file: dataFileName(id), records: 0, bytes: file.size() };
      report.files.push(fileReport);
      let startOffset = 0;
      for (;;) {
        const result: ScanResult = await scanRecords(file, (record) => {
          fileReport.records++;
          if (id < boundary) mergedRecords++;
          if (fileReport.records % 4096 === 0) onProgress(`check: ${dataFileName(id)} ${percent(record.offset, fileReport.bytes)}`);
          const diskKey = record.buffer.subarray(record.keyStart, record.keyEnd);
          const split = splitDiskKey(diskKey);
          if (split === undefined) {
            problem('damage', path, record.offset, 'the record key lacks its batch sequence prefix');
            return;
          }
          const { seq, userKey } = split;
          if (record.type === RecordType.BatchFinished) {
            if (seq === 0) problem('damage', path, record.offset, 'a batch finish record with seq 0');
            else if (!userKey.equals(BATCH_FINISHED_KEY)) problem('warning', path, record.offset, `a batch finish record whose key is not 'txn-fin'`);
            if (finishedSeqs.has(seq)) problem('warning', path, record.offset, `batch seq ${seq} is finished a second time`);
            finishedSeqs.add(seq);
            openBatches.delete(seq);
            return;
          }
          if (record.type === RecordType.Deleted && record.valueEnd > record.keyEnd) {
            problem('warning', path, record.offset, 'a tombstone that carries a value');
          }
          if (seq === 0) return;
          if (finishedSeqs.has(seq)) problem('warning', path, record.offset, `a record of batch seq ${seq} after that batch finished`);
          const batch = openBatches.get(seq);
          if (batch === undefined) openBatches.set(seq, { records: 1, file: path, offset: record.offset });
          else batch.records++;
        }, startOffset);
        const damage = result.damage;
        if (damage === undefined) break;
        const intact = findIntactRecordAfter(file, damage.offset, result.fileSize);
        if (intact === undefined) {
          const bytes = result.fileSize - damage.offset;
          // A finished merge's output was fsynced before merge-finished: nothing in it may be torn.
          if (isLast && !nested) problem('torn', path, damage.offset, `torn tail: ${damage.reason}; open will cut the last ${bytes} bytes`);
          else if (damage.kind === 'truncated' && !nested) problem('warning', path, damage.offset, `the sealed file ends inside a record (${damage.reason}); recovery ignores the last ${bytes} bytes`);
          else problem('damage', path, damage.offset, `${damage.reason} (the last ${bytes} bytes of a sealed file are unreadable)`);
          break;
        }
        problem('damage', path, damage.offset, `${damage.reason}; the next intact record is at offset ${intact}`);
        startOffset = intact;
      }
    }
    for (const [seq, batch] of openBatches) {
      problem('warning', batch.file, batch.offset, `batch seq ${seq} (${batch.records} records from here) has no finish record; recovery ignores it`);
    }
    if (boundary > 0) {
      const hintPath = join(dir, HINT_FILE_NAME);
      if (names.includes(HINT_FILE_NAME)) await checkHintFile(fs, hintPath, files, boundary, report, problem);
      else if (mergedRecords > 0) problem('warning', hintPath, undefined, `merge-finished says files below ${boundary} are merged, but the hint file that indexes them is missing; open scans the merged files instead`);
    }
  } finally {
    for (const file of files.values()) file.close();
  }
  return report;
}

function percent(offset: number, total: number): string {
  return total === 0 ? '100%' : `${Math.floor((offset / total) * 100)}%`;
}

async function readMarker(
  fs: FileSystem,
  path: string,
  key: Buffer,
  problem: (kind: ProblemKind, file: string, offset: number | undefined, message: string) => void,
): Promise<number | undefined> {
  try {
    return await readMarkerFile(fs, path, key);
  } catch (error) {
    if (!isCaskError(error)) throw error;
    problem('damage', path, error.offset, error.message);
    return undefined;
  }
}

/** Every hint must decode to a position of an intact put record of the same key in a merged file. */
async function checkHintFile(
  fs: FileSystem,
  path: string,
  files: ReadonlyMap<number, RandomAccessFile>,
  boundary: number,
  report: CheckReport,
  problem: (kind: ProblemKind, file: string, offset: number | undefined, message: string) => void,
): Promise<void> {
  const hint = fs.openFile(path, { writable: false, create: false });
  const fileReport: FileReport = { file: HINT_FILE_NAME, records: 0, bytes: hint.size() };
  report.files.push(fileReport);
  let scratch = Buffer.allocUnsafe(64 * 1024);
  try {
    const result = await scanRecords(hint, (record) => {
      fileReport.records++;
      const key = record.buffer.subarray(record.keyStart, record.keyEnd);
      const position = decodePosition(record.buffer.subarray(record.keyEnd, record.valueEnd));
      if (position === undefined) {
        problem('damage', path, record.offset, 'the hint record holds no valid position (remove the hint file and open again to rebuild the index from the merged files)');
        return;
      }
      const where = `hint for key ${key.toString('hex')} points at file ${position.fileId} offset ${position.offset}`;
      const target = files.get(position.fileId);
      if (target === undefined || position.fileId >= boundary) {
        problem('damage', path, record.offset, `${where}, which is not a merged data file`);
        return;
      }
      if (scratch.length < position.size) scratch = Buffer.allocUnsafe(position.size);
      const read = target.read(scratch, 0, position.size, position.offset);
      const header = decodeHeader(scratch, 0, read);
      if (read !== position.size || header.kind !== 'header' || header.headerLength + header.keyLength + header.valueLength !== position.size) {
        problem('damage', path, record.offset, `${where}, where no record of ${position.size} bytes starts`);
        return;
      }
      if (!recordCrcMatches(scratch, 0, position.size, header.crc)) {
        problem('damage', target.path, position.offset, `crc mismatch in the record of a hint (from ${HINT_FILE_NAME} offset ${record.offset})`);
        return;
      }
      const split = splitDiskKey(scratch.subarray(header.headerLength, header.headerLength + header.keyLength));
      if (header.type !== RecordType.Normal || split === undefined || !split.userKey.equals(key)) {
        problem('damage', path, record.offset, `${where}, which holds a different key or is not a put`);
      }
    });
    if (result.damage !== undefined) problem('damage', path, result.damage.offset, `hint file: ${result.damage.reason} (remove the hint file and open again to rebuild the index from the merged files)`);
  } finally {
    hint.close();
  }
}

/** The report as text lines. */
export function formatReport(report: CheckReport, strict: boolean): string {
  const lines: string[] = [`checked ${report.dir}`];
  const width = Math.max(14, ...report.files.map((f) => f.file.length));
  for (const file of report.files) lines.push(`  ${file.file.padEnd(width)}  ${String(file.records).padStart(9)} records  ${String(file.bytes).padStart(12)} bytes`);
  for (const p of report.problems) {
    const kind = p.kind === 'torn' && strict ? 'damage' : p.kind;
    lines.push(`${kind}: ${p.file}${p.offset === undefined ? '' : ` offset ${p.offset}`}: ${p.message}`);
  }
  const damaged = countDamage(report, strict);
  lines.push(damaged === 0 ? 'result: ok' : `result: damaged (${damaged} problem${damaged === 1 ? '' : 's'})`);
  return lines.join('\n') + '\n';
}

/** True when `dir` is on a file system mounted read-only (access(2) answers EROFS, for root too). */
function onReadOnlyFileSystem(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return false;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EROFS';
  }
}

function countDamage(report: CheckReport, strict: boolean): number {
  return report.problems.filter((p) => p.kind === 'damage' || (strict && p.kind === 'torn')).length;
}

export const checkCommand = command('check', CHECK_HELP, async (argv) => {
  const { values, positionals } = parseCommandArgs(argv, { dir: { type: 'string' }, strict: { type: 'boolean' }, json: { type: 'boolean' } });
  const dir = requireDir(values);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    process.stderr.write(`caskdb check: ${dir} is not a directory\n`);
    return EXIT_FAILURE;
  }
  const strict = values['strict'] === true;
  const fs = new NodeFileSystem();
  // On a read-only file system (a backup on read-only media) nothing can write the directory, and the lock
  // file cannot be made: check it without the lock.
  const lock = onReadOnlyFileSystem(dir) ? undefined : await fs.lockDir(dir);
  if (lock === undefined) process.stderr.write(`caskdb check: ${dir} is on a read-only file system; checking it without the directory lock\n`);
  let report: CheckReport;
  const progress = new ProgressLine();
  try {
    report = await checkDirectory(fs, dir, (text) => progress.update(text));
  } finally {
    progress.done();
    await lock?.release();
  }
  const damaged = countDamage(report, strict);
  await writeOut(values['json'] === true ? JSON.stringify({ ...report, ok: damaged === 0 }) + '\n' : formatReport(report, strict));
  return damaged === 0 ? EXIT_OK : EXIT_FAILURE;
});

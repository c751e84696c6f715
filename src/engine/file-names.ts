// Names of the files in a data directory (docs/format.md). Data files are `%09d.data`.
import { basename, dirname, join } from 'node:path';

export const DATA_FILE_SUFFIX = '.data';
export const HINT_FILE_NAME = 'hint-index';
export const MERGE_FINISHED_FILE_NAME = 'merge-finished';
export const SEQ_NO_FILE_NAME = 'seq-no';
export const LOCK_FILE_NAME = 'flock';
/** Written by caskdb inside `<dir>-merge` once the old files are gone, so an interrupted install resumes. */
export const MERGE_OLD_REMOVED_MARKER = 'merge-old-removed';
export const MERGE_FINISHED_KEY = Buffer.from('merge.finished');
export const SEQ_NO_KEY = Buffer.from('seq.no');
/** The first data file id of a new directory. */
export const FIRST_FILE_ID = 1;

export function dataFileName(fileId: number): string {
  return `${String(fileId).padStart(9, '0')}${DATA_FILE_SUFFIX}`;
}

export function dataFilePath(dir: string, fileId: number): string {
  return join(dir, dataFileName(fileId));
}

/** The id of a data file name, or undefined for any other name. */
export function parseDataFileName(name: string): number | undefined {
  if (!name.endsWith(DATA_FILE_SUFFIX)) return undefined;
  const digits = name.slice(0, -DATA_FILE_SUFFIX.length);
  if (!/^[0-9]+$/.test(digits)) return undefined;
  const id = Number(digits);
  return Number.isSafeInteger(id) && id <= 0xffffffff ? id : undefined;
}

/** Data file ids in a listing, ascending. */
export function dataFileIds(names: readonly string[]): number[] {
  const ids: number[] = [];
  for (const name of names) {
    const id = parseDataFileName(name);
    if (id !== undefined) ids.push(id);
  }
  return ids.sort((a, b) => a - b);
}

/** `<parent>/<name>-merge` for a directory `<parent>/<name>` (trailing slashes ignored). */
export function mergeDirOf(dir: string): string {
  const trimmed = dir.replace(/\/+$/, '') || '/';
  return join(dirname(trimmed), `${basename(trimmed)}-merge`);
}

// Helpers of the batch, merge, backup and crash tests: list the records of a data directory as they
// lie on disk (file, offset, type, batch seq, user key), and list this process's open descriptors.
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { splitDiskKey } from '../../src/codec/record.js';
import { dataFileIds, dataFilePath } from '../../src/engine/file-names.js';
import { scanRecords } from '../../src/engine/record-scanner.js';
import { NodeFileSystem } from '../../src/io/node-file-system.js';

export interface DiskRecord {
  fileId: number;
  offset: number;
  size: number;
  type: number;
  seq: number;
  key: string;
}

/** Every intact record of every data file in `dir`, in file and offset order. */
export async function diskRecords(dir: string): Promise<DiskRecord[]> {
  const fs = new NodeFileSystem();
  const records: DiskRecord[] = [];
  for (const fileId of dataFileIds(readdirSync(dir))) {
    const file = fs.openFile(dataFilePath(dir, fileId), { writable: false, create: false });
    try {
      await scanRecords(file, (record) => {
        const split = splitDiskKey(record.buffer.subarray(record.keyStart, record.keyEnd));
        if (split === undefined) throw new Error(`record without a seq prefix in file ${fileId} at ${record.offset}`);
        records.push({ fileId, offset: record.offset, size: record.size, type: record.type, seq: split.seq, key: split.userKey.toString('latin1') });
      });
    } finally {
      file.close();
    }
  }
  return records;
}

/** Targets of this process's open file descriptors (Linux /proc/self/fd). */
export function openFileTargets(): string[] {
  const targets: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      targets.push(readlinkSync(join('/proc/self/fd', fd)));
    } catch {
      // The descriptor of the readdir itself is gone by now.
    }
  }
  return targets;
}

export interface Scratch {
  /** A temporary parent directory; `dir` below it is the data directory (created by the Db). */
  parent: string;
  dir: string;
  /** Runs `close` when the test ends, before the directory is removed (latest first). */
  defer(close: () => unknown): void;
}

/**
 * A temporary directory whose cleanup first runs every deferred closer (closing Dbs, killing child
 * processes), then removes the whole tree: `<dir>`, `<dir>-merge` and any copies made beside them.
 */
export function scratchDir(t: TestContext, name = 'db'): Scratch {
  const parent = mkdtempSync(join(tmpdir(), 'caskdb-test-'));
  const closers: Array<() => unknown> = [];
  t.after(async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch {
        // Already closed by the test, or failed with the test's own error.
      }
    }
    rmSync(parent, { recursive: true, force: true });
  });
  return { parent, dir: join(parent, name), defer: (close) => closers.push(close) };
}

// Helpers of the batch, merge, backup and crash tests: list the records of a data directory as they
// lie on disk (file, offset, type, batch seq, user key), and list this process's open descriptors.
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { splitDiskKey } from '../../src/codec/record.js';
import { dataFileIds, dataFilePath } from '../../src/engine/file-names.js';
import { scanRecords } from '../../src/engine/record-scanner.js';
import type { KvEngine } from '../../src/engine/types.js';
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

/** A seeded PRNG (mulberry32): workloads replay exactly from their seed. */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform integer in [0, bound). */
  below(bound: number): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let x = this.state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return (((x ^ (x >>> 14)) >>> 0) % bound) >>> 0;
  }
}

export interface WorkloadOptions {
  keys: number;
  steps: number;
  valueBytesMax: number;
  seed: number;
}

/**
 * Random puts (most), deletes and multi-key batches over `keys` distinct string keys, applied to the Db
 * and to `model`; overwrites and deletes leave plenty for a merge to reclaim.
 */
export async function runWorkload(db: Pick<KvEngine, 'put' | 'delete' | 'write'>, model: Map<string, string>, options: WorkloadOptions): Promise<void> {
  const rng = new Prng(options.seed);
  const key = (): string => `key-${String(rng.below(options.keys)).padStart(6, '0')}`;
  const value = (step: number): string => `v${step}:`.padEnd(1 + rng.below(options.valueBytesMax), String.fromCharCode(97 + rng.below(26)));
  for (let step = 0; step < options.steps; step++) {
    const roll = rng.below(10);
    if (roll < 6) {
      const k = key();
      const v = value(step);
      await db.put(k, v);
      model.set(k, v);
    } else if (roll < 8) {
      const k = key();
      await db.delete(k);
      model.delete(k);
    } else {
      const ops: Array<{ type: 'put'; key: string; value: string } | { type: 'delete'; key: string }> = [];
      const count = 2 + rng.below(5);
      for (let i = 0; i < count; i++) ops.push(rng.below(4) === 0 ? { type: 'delete', key: key() } : { type: 'put', key: key(), value: value(step) });
      await db.write(ops);
      for (const op of ops) {
        if (op.type === 'put') model.set(op.key, op.value);
        else model.delete(op.key);
      }
    }
  }
}

/** A Map model as sorted [key, value] pairs (keys here are ASCII, so string order is byte order). */
export function sortedEntries(model: ReadonlyMap<string, string>): Array<[string, string]> {
  return [...model.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

// Shared helpers of the engine tests: temporary data directories that clean themselves up, a Db
// opened with a log sink the test can read, and byte helpers for comparing keys as unsigned bytes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Db } from '../../src/engine/db.js';
import type { DbOptions, LogEntry } from '../../src/engine/options.js';

/** A fresh empty directory under the OS temp dir; `<dir>` and `<dir>-merge` are removed after the test. */
export function tempDir(t: TestContext, name = 'db'): string {
  const parent = mkdtempSync(join(tmpdir(), 'caskdb-test-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  return join(parent, name);
}

export interface OpenedDb {
  db: Db;
  logs: LogEntry[];
}

/** Opens a Db whose log entries are collected instead of printed. */
export async function openDb(dir: string, options: Partial<DbOptions> = {}): Promise<OpenedDb> {
  const logs: LogEntry[] = [];
  const db = await Db.open({ dir, sync: 'none', logger: (entry) => logs.push(entry), ...options });
  return { db, logs };
}

/** Every live pair of a Db as [latin1 key, value] in iteration order. */
export function contentsOf(db: Db): Array<[string, Buffer]> {
  return [...db.iterate()].map(([key, value]) => [key.toString('latin1'), value]);
}

/** A Map model's contents sorted by unsigned bytes, in the same shape as contentsOf. */
export function sortedModel(model: ReadonlyMap<string, Buffer>): Array<[string, Buffer]> {
  return [...model.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')));
}

export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1');
}

/** Expects `promise` to reject with a CaskError of `code`; returns the error. */
export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<Error & { code: string; file?: string; offset?: number }> {
  try {
    await promise;
  } catch (error) {
    const typed = error as Error & { code: string };
    if (typed.code !== code) throw new Error(`expected ${code}, got ${typed.code}: ${typed.message}`, { cause: error });
    return typed;
  }
  throw new Error(`expected a rejection with ${code}, but it resolved`);
}

export function throwsWithCode(run: () => unknown, code: string): Error & { code: string; file?: string; offset?: number } {
  try {
    run();
  } catch (error) {
    const typed = error as Error & { code: string };
    if (typed.code !== code) throw new Error(`expected ${code}, got ${typed.code}: ${typed.message}`, { cause: error });
    return typed;
  }
  throw new Error(`expected a throw with ${code}`);
}

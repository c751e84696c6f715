// A data directory that is a mount point of its own (a dedicated disk): the merge writes `<dir>-merge`
// beside it, on the parent file system, as the format has it, so the install cannot rename the merged
// files in (EXDEV) and copies them instead. The merge keeps the contents, leaves no staging file or merge
// directory behind, and an install cut off after some files moved finishes at the next open.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataFileIds, MERGE_FINISHED_FILE_NAME, mergeDirOf } from '../../src/engine/file-names.js';
import { runWorkload, sortedEntries } from '../support/crash-records.js';
import { FaultyFileSystem } from '../support/faulty-file-system.js';
import { mountSmallDisk } from '../support/full-disk.js';
import { openDb } from './helpers.js';
import type { Db } from '../../src/engine/db.js';

function contents(db: Db): Array<[string, string]> {
  return [...db.iterate()].map(([k, v]) => [k.toString('latin1'), v.toString('latin1')]);
}

/**
 * A data directory that is a tmpfs mounted inside a temporary directory on another file system. When the
 * test ends (hooks run in the order added): the open Db is closed, the tmpfs unmounted, the parent removed.
 */
function mountedDataDir(t: TestContext, openDbs: Db[]): string {
  t.after(async () => {
    for (const db of openDbs) await db.close().catch(() => undefined);
  });
  const parent = mkdtempSync(join(tmpdir(), 'caskdb-xdev-'));
  const dir = join(parent, 'db');
  mountSmallDisk(t, 64, dir);
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  return dir;
}

test('merge into a data directory on its own file system copies the merged files in', async (t) => {
  const opened: Db[] = [];
  const dir = mountedDataDir(t, opened);
  const options = { dataFileBytesMax: 64 * 1024, mergeRatio: 0 };
  let { db } = await openDb(dir, options);
  opened.push(db);
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 400, steps: 4000, valueBytesMax: 200, seed: 7 });
  const filesBefore = dataFileIds(readdirSync(dir)).length;
  await db.merge();
  assert.deepEqual(contents(db), sortedEntries(model));
  assert.ok(dataFileIds(readdirSync(dir)).length < filesBefore, 'the merge replaced the old files');
  assert.equal(existsSync(mergeDirOf(dir)), false, 'the merge directory is gone');
  assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.moving')), [], 'no staging copy is left');
  assert.ok(existsSync(join(dir, MERGE_FINISHED_FILE_NAME)));
  // Still writable and readable across a reopen (the hint file came across too).
  await db.put('after-merge', 'yes');
  model.set('after-merge', 'yes');
  await db.close();
  ({ db } = await openDb(dir, options));
  opened.push(db);
  assert.deepEqual(contents(db), sortedEntries(model));
  await db.close();
});

test('an install across file systems cut off after the first file finishes at the next open', async (t) => {
  const opened: Db[] = [];
  const dir = mountedDataDir(t, opened);
  const options = { dataFileBytesMax: 16 * 1024, mergeRatio: 0 };
  const faulty = new FaultyFileSystem();
  let { db } = await openDb(dir, { ...options, fileSystem: faulty });
  opened.push(db);
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 300, steps: 3000, valueBytesMax: 200, seed: 11 });
  // The second move of the install fails: one merged file is in, the rest are still in <dir>-merge.
  faulty.inject({ operation: 'rename', nth: 2, code: 'EIO', path: mergeDirOf(dir) });
  await assert.rejects(db.merge());
  await db.close().catch(() => undefined);
  assert.ok(existsSync(mergeDirOf(dir)), 'the merge directory waits for the next open');
  ({ db } = await openDb(dir, options));
  opened.push(db);
  assert.deepEqual(contents(db), sortedEntries(model));
  assert.equal(existsSync(mergeDirOf(dir)), false);
  assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.moving')), []);
  await db.close();
});

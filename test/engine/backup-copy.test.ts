// Backup (issue 3): a consistent copy while the database keeps serving. The copy opens to exactly the
// state at the moment the backup sealed the active file, whatever is written meanwhile; a target that
// is not empty is refused and left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../../src/engine/db.js';
import { HINT_FILE_NAME, MERGE_FINISHED_FILE_NAME } from '../../src/engine/file-names.js';
import { runWorkload, scratchDir, sortedEntries } from '../support/crash-records.js';
import { FaultyFileSystem, type FaultOperation, type FaultRule } from '../support/faulty-file-system.js';
import { openDb, rejectsWithCode } from './helpers.js';

function contents(db: Db): Array<[string, string]> {
  return [...db.iterate()].map(([k, v]) => [k.toString('latin1'), v.toString('latin1')]);
}

/** Calls `onFirstCopy` when the backup copies its first file: the moment right after it sealed. */
class CopyWatchingFileSystem extends FaultyFileSystem {
  onFirstCopy: (() => void) | undefined;

  override check(operation: FaultOperation, path: string): FaultRule | undefined {
    if (operation === 'copyFile' && this.onFirstCopy !== undefined) {
      const run = this.onFirstCopy;
      this.onFirstCopy = undefined;
      run();
    }
    return super.check(operation, path);
  }
}

function setImmediatePromise(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

test('a backup opens to exactly the state when it started, while writes go on during the copy', async (t) => {
  const { dir, parent, defer } = scratchDir(t);
  const fileSystem = new CopyWatchingFileSystem();
  const options = { dataFileBytesMax: 16 * 1024, mergeRatio: 0 };
  const { db } = await openDb(dir, { ...options, fileSystem });
  defer(() => db.close());
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 2000, steps: 12_000, valueBytesMax: 200, seed: 11 });

  let atBackup: Array<[string, string]> | undefined;
  let seqAtBackup = -1;
  // Nothing runs between the seal and the first copy (one synchronous step), so this is the backup's state.
  fileSystem.onFirstCopy = () => {
    atBackup = sortedEntries(model);
    seqAtBackup = db.stat().lastSeq;
  };
  let done = false;
  const target = join(parent, 'backup');
  const backup = db.backup(target).finally(() => (done = true));
  let writesDuringCopy = 0;
  for (let i = 0; !done; i++) {
    const key = `key-${String((i * 7) % 2000).padStart(6, '0')}`;
    if (i % 4 === 3) {
      void db.delete(key);
      model.delete(key);
    } else if (i % 4 === 2) {
      void db.write([
        { type: 'put', key: `during-${i}-a`, value: 'a' },
        { type: 'put', key: `during-${i}-b`, value: 'b' },
      ]);
      model.set(`during-${i}-a`, 'a');
      model.set(`during-${i}-b`, 'b');
    } else {
      void db.put(key, `during-${i}`);
      model.set(key, `during-${i}`);
    }
    if (atBackup !== undefined) writesDuringCopy++;
    await setImmediatePromise();
  }
  const result = await backup;
  assert.ok(atBackup !== undefined, 'the backup copied files');
  assert.ok(writesDuringCopy >= 3, `${writesDuringCopy} writes while the backup copied`);
  assert.equal(result.dir, target);
  assert.ok(result.files >= 2 && result.bytes > 0);
  assert.deepEqual(contents(db), sortedEntries(model));

  const copy = (await openDb(target, options)).db;
  defer(() => copy.close());
  assert.deepEqual(contents(copy), atBackup);
  assert.equal(copy.stat().lastSeq, seqAtBackup);
  // The copy is a database of its own: writable, and independent of the original.
  await copy.put('only-in-copy', '1');
  assert.equal(db.get('only-in-copy'), undefined);
});

test('a backup of a merged database carries the hint file and opens to the same contents', async (t) => {
  const { dir, parent, defer } = scratchDir(t);
  const options = { dataFileBytesMax: 8 * 1024, mergeRatio: 0 };
  const { db } = await openDb(dir, options);
  defer(() => db.close());
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 300, steps: 2000, valueBytesMax: 100, seed: 12 });
  // A backup asked for while a merge runs waits for it.
  const merging = db.merge();
  const target = join(parent, 'backup');
  await Promise.all([merging, db.backup(target)]);
  const names = readdirSync(target);
  assert.ok(names.includes(HINT_FILE_NAME));
  assert.ok(names.includes(MERGE_FINISHED_FILE_NAME));
  const atFirstBackup = sortedEntries(model);
  await runWorkload(db, model, { keys: 300, steps: 800, valueBytesMax: 100, seed: 13 });
  // A merge asked for while a backup runs waits for it (it would delete files being copied).
  const second = join(parent, 'backup-2');
  const atSecondBackup = sortedEntries(model);
  await Promise.all([db.backup(second), db.merge()]);
  await runWorkload(db, model, { keys: 300, steps: 200, valueBytesMax: 100, seed: 14 });
  for (const [path, expected] of [[target, atFirstBackup], [second, atSecondBackup]] as const) {
    const copy = (await openDb(path, options)).db;
    defer(() => copy.close());
    assert.deepEqual(contents(copy), expected, path);
  }
  assert.deepEqual(contents(db), sortedEntries(model));
});

test('a backup into a directory that is not empty is refused and touches nothing', async (t) => {
  const { dir, parent, defer } = scratchDir(t);
  const { db } = await openDb(dir);
  defer(() => db.close());
  await db.put('k', 'v');
  const target = join(parent, 'occupied');
  mkdirSync(target);
  writeFileSync(join(target, 'precious.txt'), 'keep me');
  await rejectsWithCode(db.backup(target), 'CASKDB_INVALID_ARGUMENT');
  assert.deepEqual(readdirSync(target), ['precious.txt']);
  assert.equal(readFileSync(join(target, 'precious.txt'), 'utf8'), 'keep me');
  // The database is unharmed, and an empty existing directory is a fine target.
  await db.put('k2', 'v2');
  const empty = join(parent, 'empty');
  mkdirSync(empty);
  await db.backup(empty);
  const copy = (await openDb(empty)).db;
  defer(() => copy.close());
  assert.deepEqual(contents(copy), [['k', 'v'], ['k2', 'v2']]);
});

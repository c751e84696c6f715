// Injected I/O faults during merges and batches (issue 3), through the engine's file-system seam:
// the caller gets a typed error, the database stays consistent and reopenable, an unacknowledged
// batch stays invisible (now and after reopen), and no acknowledged write is ever lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Db } from '../../src/engine/db.js';
import { mergeDirOf } from '../../src/engine/file-names.js';
import type { DbOptions } from '../../src/engine/options.js';
import { openFileTargets, runWorkload, scratchDir, sortedEntries } from '../support/crash-records.js';
import { FaultyFileSystem, type FaultOperation, type FaultRule } from '../support/faulty-file-system.js';
import { openDb, rejectsWithCode } from './helpers.js';

function contents(db: Db): Array<[string, string]> {
  return [...db.iterate()].map(([k, v]) => [k.toString('latin1'), v.toString('latin1')]);
}

const SMALL: Partial<DbOptions> = { dataFileBytesMax: 1024, mergeRatio: 0, sync: 'always' };

/** A batch of `count` keys `<tag>-<i>` with values big enough to span several small data files. */
function bigBatch(db: Db, tag: string, count: number): { commit(): Promise<void>; written: Map<string, string> } {
  const batch = db.batch();
  const written = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const value = `${tag}:${i}:`.padEnd(300, 'z');
    batch.put(`${tag}-${i}`, value);
    written.set(`${tag}-${i}`, value);
  }
  return { commit: () => batch.commit(), written };
}

/** A disk that fills up: after `writesLeft` more writes, one write is cut short and every later one fails. */
class FillingDisk extends FaultyFileSystem {
  writesLeft: number | undefined;

  override check(operation: FaultOperation, path: string): FaultRule | undefined {
    if (operation !== 'write' || this.writesLeft === undefined) return super.check(operation, path);
    if (this.writesLeft > 0) {
      this.writesLeft--;
      return super.check(operation, path);
    }
    if (this.writesLeft === 0) {
      this.writesLeft = -1;
      return { operation: 'write', shortWriteBytes: 100 };
    }
    return { operation: 'write', code: 'ENOSPC' };
  }

  override heal(): void {
    this.writesLeft = undefined;
    super.heal();
  }
}

for (const fault of [
  { name: 'ENOSPC on a write in the middle of a batch spanning data files', keys: 8, arm: (fs: FillingDisk) => void fs.inject({ operation: 'write', code: 'ENOSPC', nth: 3 }) },
  { name: 'a short write as the disk fills up in the middle of a batch spanning data files', keys: 8, arm: (fs: FillingDisk) => void (fs.writesLeft = 1) },
  { name: 'ENOSPC creating the next data file in the middle of a batch spanning data files', keys: 8, arm: (fs: FillingDisk) => void fs.inject({ operation: 'open', code: 'ENOSPC', nth: 2 }) },
  { name: 'a short write as the disk fills up during a batch within one data file', keys: 2, arm: (fs: FillingDisk) => void (fs.writesLeft = 0) },
] as const) {
  test(`${fault.name}: typed error, batch invisible now and after reopen`, async (t) => {
    const { dir, defer } = scratchDir(t);
    const fileSystem = new FillingDisk();
    let { db } = await openDb(dir, { ...SMALL, fileSystem });
    defer(() => db.close());
    const model = new Map<string, string>();
    await runWorkload(db, model, { keys: 50, steps: 100, valueBytesMax: 100, seed: 21 });

    const failing = bigBatch(db, 'failed', fault.keys);
    fault.arm(fileSystem);
    const error = await rejectsWithCode(failing.commit(), 'CASKDB_NO_SPACE');
    assert.ok(error.message.length > 0);
    fileSystem.heal();
    assert.deepEqual(contents(db), sortedEntries(model), 'nothing of the failed batch is visible');

    // The database goes on: more acknowledged writes, including another batch of the same shape.
    await db.put('after', 'fault');
    model.set('after', 'fault');
    const next = bigBatch(db, 'next', 8);
    await next.commit();
    for (const [key, value] of next.written) model.set(key, value);
    assert.deepEqual(contents(db), sortedEntries(model));

    await db.close();
    ({ db } = await openDb(dir, SMALL));
    assert.deepEqual(contents(db), sortedEntries(model), 'after reopen: every acknowledged write, no key of the failed batch');
  });
}

test('an fsync failure during a merge is a typed error; the old files stay authoritative', async (t) => {
  const { dir, defer } = scratchDir(t);
  const fileSystem = new FaultyFileSystem();
  let { db } = await openDb(dir, { dataFileBytesMax: 4096, mergeRatio: 0, fileSystem });
  defer(() => db.close());
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 200, steps: 1500, valueBytesMax: 100, seed: 22 });
  const filesBefore = db.stat().dataFiles;
  fileSystem.inject({ operation: 'datasync', code: 'EIO', path: '-merge/' });
  await rejectsWithCode(db.merge(), 'CASKDB_IO');
  fileSystem.heal();
  assert.equal(existsSync(mergeDirOf(dir)), false, 'the failed merge output is removed');
  assert.deepEqual(openFileTargets().filter((target) => target.startsWith(mergeDirOf(dir)) || (target.startsWith(dir) && target.includes('(deleted)'))), [], 'no descriptor of the failed output is left open');
  assert.equal(db.stat().merging, false);
  assert.ok(db.stat().dataFiles >= filesBefore);
  assert.deepEqual(contents(db), sortedEntries(model));
  // Still writable, and a later merge succeeds.
  await db.put('after', 'fault');
  model.set('after', 'fault');
  await db.close();
  ({ db } = await openDb(dir, { dataFileBytesMax: 4096, mergeRatio: 0, fileSystem }));
  assert.deepEqual(contents(db), sortedEntries(model));
  await db.merge();
  assert.deepEqual(contents(db), sortedEntries(model));
});

test('a directory fsync failure while installing a merge makes the Db read-only; reopen finishes the install', async (t) => {
  const { dir, defer } = scratchDir(t);
  const fileSystem = new FaultyFileSystem();
  let { db } = await openDb(dir, {
    dataFileBytesMax: 4096,
    mergeRatio: 0,
    fileSystem,
    // The merge itself is complete; the first directory fsync of the install fails.
    onMergeStep: (step) => {
      if (step === 'finished-written') fileSystem.inject({ operation: 'syncDir', code: 'EIO', nth: 1 });
    },
  });
  defer(() => db.close());
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 200, steps: 1500, valueBytesMax: 100, seed: 23 });
  await rejectsWithCode(db.merge(), 'CASKDB_IO');
  fileSystem.heal();
  await rejectsWithCode(db.put('refused', 'x'), 'CASKDB_READ_ONLY');
  // Until the reopen, a read returns the right value or says the Db must be reopened; the files on
  // disk are sound, so it never reports corruption.
  for (const [key, value] of model) {
    let read: string | undefined;
    try {
      read = db.get(key)?.toString('latin1');
    } catch (error) {
      assert.equal((error as { code?: string }).code, 'CASKDB_READ_ONLY', (error as Error).message);
      continue;
    }
    assert.equal(read, value);
  }
  await db.close().catch(() => {});
  ({ db } = await openDb(dir, { dataFileBytesMax: 4096, mergeRatio: 0 }));
  assert.equal(existsSync(mergeDirOf(dir)), false);
  assert.deepEqual(contents(db), sortedEntries(model));
  await db.put('after', 'reopen');
  model.set('after', 'reopen');
  await db.close();
  ({ db } = await openDb(dir, { dataFileBytesMax: 4096, mergeRatio: 0 }));
  assert.deepEqual(contents(db), sortedEntries(model));
});

for (const where of [
  { name: 'sealing a full data file', keys: 6 },
  { name: 'the group commit', keys: 2 },
] as const) {
  test(`an fsync failure (${where.name}) on a batch commit rejects it and makes the Db read-only; reopen shows it all or not at all`, async (t) => {
    const { dir, defer } = scratchDir(t);
    const fileSystem = new FaultyFileSystem();
    let { db } = await openDb(dir, { ...SMALL, fileSystem });
    defer(() => db.close());
    const model = new Map<string, string>();
    await runWorkload(db, model, { keys: 50, steps: 100, valueBytesMax: 100, seed: 24 });
    fileSystem.inject({ operation: 'datasync', code: 'EIO' });
    const failing = bigBatch(db, 'unsynced', where.keys);
    await rejectsWithCode(failing.commit(), 'CASKDB_IO');
    fileSystem.heal();
    await rejectsWithCode(db.put('refused', 'x'), 'CASKDB_READ_ONLY');
    await rejectsWithCode(db.batch().put('a', '1').put('b', '2').commit(), 'CASKDB_READ_ONLY');
    await db.close().catch(() => {});
    ({ db } = await openDb(dir, SMALL));
    const actual = new Map(contents(db));
    const landed = [...failing.written.keys()].filter((key) => actual.has(key));
    assert.ok(landed.length === 0 || landed.length === failing.written.size, `${landed.length} of ${failing.written.size} keys of the batch are visible`);
    for (const key of landed) model.set(key, failing.written.get(key)!);
    assert.deepEqual(contents(db), sortedEntries(model));
  });
}

// Merge (issue 3): contents never change, space shrinks to the live data, the hint file loads the
// index on the next open, the database keeps serving meanwhile, and a merge that cannot run (one is
// already running, the disk is too full, the Db is closing) leaves everything as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { recordLength } from '../../src/codec/record.js';
import type { Db } from '../../src/engine/db.js';
import { dataFileIds, HINT_FILE_NAME, MERGE_FINISHED_FILE_NAME, mergeDirOf, parseDataFileName } from '../../src/engine/file-names.js';
import type { DbOptions } from '../../src/engine/options.js';
import { diskRecords, openFileTargets, runWorkload, scratchDir, sortedEntries } from '../support/crash-records.js';
import { FaultyFileSystem, type FaultOperation, type FaultRule } from '../support/faulty-file-system.js';
import { openDb, rejectsWithCode } from './helpers.js';

function contents(db: Db): Array<[string, string]> {
  return [...db.iterate()].map(([k, v]) => [k.toString('latin1'), v.toString('latin1')]);
}

function dataBytes(dir: string): number {
  return dataFileIds(readdirSync(dir)).reduce((sum, id) => sum + statSync(join(dir, `${String(id).padStart(9, '0')}.data`)).size, 0);
}

/** Bytes the live keys take as merged records (seq 0: one prefix byte before the key). */
function liveBytes(model: ReadonlyMap<string, string>): number {
  let bytes = 0;
  for (const [key, value] of model) bytes += recordLength(1 + Buffer.byteLength(key, 'latin1'), Buffer.byteLength(value, 'latin1'));
  return bytes;
}

const SMALL_FILES: Partial<DbOptions> = { dataFileBytesMax: 8 * 1024, mergeRatio: 0 };

test('merge keeps the contents exactly, in-process and after reopen, and shrinks the files to the live data', async (t) => {
  const { dir, defer } = scratchDir(t);
  let { db } = await openDb(dir, SMALL_FILES);
  defer(() => db.close());
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 300, steps: 3000, valueBytesMax: 120, seed: 1 });
  const before = contents(db);
  assert.deepEqual(before, sortedEntries(model));
  const filesBefore = db.stat().dataFiles;
  // The engine's count of data bytes: the active file on disk also holds the space reserved past its data.
  assert.ok(db.stat().reclaimableBytes > db.stat().diskBytes / 2, 'the workload leaves garbage to reclaim');

  const result = await db.merge();
  assert.ok(result !== undefined);
  assert.equal(result.keys, model.size);
  assert.deepEqual(contents(db), before);
  assert.equal(db.stat().merging, false);
  assert.ok(db.stat().dataFiles < filesBefore);
  assert.equal(db.stat().reclaimableBytes, 0);
  assert.equal(existsSync(mergeDirOf(dir)), false);
  assert.ok(existsSync(join(dir, HINT_FILE_NAME)));
  assert.ok(existsSync(join(dir, MERGE_FINISHED_FILE_NAME)));

  // Space: the data files now hold the live records and (almost) nothing else.
  const live = liveBytes(model);
  const onDisk = dataBytes(dir);
  assert.ok(onDisk >= live, `${onDisk} bytes on disk hold ${live} live bytes`);
  assert.ok(onDisk <= live * 1.05, `${onDisk} bytes on disk for ${live} live bytes is within 5%`);
  assert.equal(result.outputBytes, live);
  const hintBytes = statSync(join(dir, HINT_FILE_NAME)).size;
  assert.ok(hintBytes > 0 && hintBytes < onDisk);
  // Every merged record is a plain record (seq 0) and each live key appears once.
  const records = await diskRecords(dir);
  assert.ok(records.every((r) => r.seq === 0 && r.type === 0));
  assert.deepEqual(records.map((r) => r.key).sort(), [...model.keys()].sort());

  // Writes after the merge go on as usual, and everything survives reopen.
  await db.put('after', 'merge');
  model.set('after', 'merge');
  await db.close();
  ({ db } = await openDb(dir, SMALL_FILES));
  assert.deepEqual(contents(db), sortedEntries(model));
  // A second merge over merged files plus new ones is just as exact.
  await runWorkload(db, model, { keys: 300, steps: 500, valueBytesMax: 120, seed: 2 });
  await db.merge();
  assert.deepEqual(contents(db), sortedEntries(model));
  await db.close();
  ({ db } = await openDb(dir, SMALL_FILES));
  assert.deepEqual(contents(db), sortedEntries(model));
  assert.ok(dataBytes(dir) <= liveBytes(model) * 1.05);
});

/** Records which files each operation touched. */
class RecordingFileSystem extends FaultyFileSystem {
  readonly reads = new Map<string, number>();

  override check(operation: FaultOperation, path: string): FaultRule | undefined {
    if (operation === 'read') this.reads.set(path, (this.reads.get(path) ?? 0) + 1);
    return super.check(operation, path);
  }
}

test('with a value cache, gets after a merge return the merged records, not what the cache held at those positions', async (t) => {
  const { dir } = scratchDir(t);
  const { db } = await openDb(dir, { valueCacheBytes: 1 << 20 });
  try {
    // Same-sized records, so after the merge each survivor sits where an earlier record of that size was.
    for (const key of ['a', 'b', 'c', 'd']) await db.put(key, key.repeat(8));
    for (const key of ['a', 'b', 'c', 'd']) assert.equal(db.get(key)?.toString(), key.repeat(8));
    await db.delete('a');
    await db.delete('c');
    await db.merge();
    assert.equal(db.get('b')?.toString(), 'bbbbbbbb');
    assert.equal(db.get('d')?.toString(), 'dddddddd');
    assert.equal(db.get('a'), undefined);
    const stat = db.stat().valueCache!;
    assert.ok(stat.hits >= 4, `${stat.hits} hits before the merge`);
  } finally {
    await db.close();
  }
});

test('the next open loads the index from the hint file and reads no merged data file', async (t) => {
  const { dir, defer } = scratchDir(t);
  let { db } = await openDb(dir, SMALL_FILES);
  defer(() => db.close());
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 200, steps: 1500, valueBytesMax: 200, seed: 3 });
  await db.merge();
  const boundary = db.stat().activeFileId;
  // Writes after the merge land in files at or above the boundary: those are scanned.
  await db.put('late', 'write');
  model.set('late', 'write');
  await db.close();
  const mergedIds = dataFileIds(readdirSync(dir)).filter((id) => id < boundary);
  assert.ok(mergedIds.length >= 2, `${mergedIds.length} merged files`);

  const fileSystem = new RecordingFileSystem();
  ({ db } = await openDb(dir, { ...SMALL_FILES, fileSystem }));
  const readFiles = [...fileSystem.reads.keys()];
  assert.ok(readFiles.some((p) => p.endsWith(`/${HINT_FILE_NAME}`)), 'the hint file is read');
  const mergedRead = readFiles.filter((p) => {
    const id = parseDataFileName(p.slice(p.lastIndexOf('/') + 1));
    return id !== undefined && id < boundary;
  });
  assert.deepEqual(mergedRead, [], 'no merged data file is read at open');
  // The values are still there, read on demand.
  assert.deepEqual(contents(db), sortedEntries(model));
  assert.ok([...fileSystem.reads.keys()].some((p) => parseDataFileName(p.slice(p.lastIndexOf('/') + 1)) === mergedIds[0]));
});

function setImmediatePromise(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

test('reads and writes go on while a merge runs, and keys written meanwhile keep their newest value', async (t) => {
  const { dir, defer } = scratchDir(t);
  let { db } = await openDb(dir, { dataFileBytesMax: 64 * 1024, mergeRatio: 0 });
  defer(() => db.close());
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 4000, steps: 30_000, valueBytesMax: 300, seed: 4 });
  assert.ok(db.stat().dataFiles >= 30, `${db.stat().dataFiles} data files to merge`);
  const oldKeys = [...model.keys()];

  let settled = false;
  const merging = db.merge().finally(() => (settled = true));
  let writesDuringMerge = 0;
  let readsDuringMerge = 0;
  let i = 0;
  while (!settled) {
    // Overwrite and delete keys that live in the files being merged, and add new ones.
    const old = oldKeys[(i * 7919) % oldKeys.length]!;
    if (i % 5 === 4) {
      await db.delete(old);
      model.delete(old);
    } else {
      await db.put(old, `during-${i}`);
      model.set(old, `during-${i}`);
    }
    await db.put(`new-${i}`, `n${i}`);
    model.set(`new-${i}`, `n${i}`);
    const probe = oldKeys[(i * 31) % oldKeys.length]!;
    assert.equal(db.get(probe)?.toString('latin1'), model.get(probe));
    if (db.stat().merging) {
      writesDuringMerge += 2;
      readsDuringMerge++;
    }
    i++;
    await setImmediatePromise();
  }
  await merging;
  assert.ok(writesDuringMerge >= 10, `${writesDuringMerge} writes were made while the merge ran`);
  assert.ok(readsDuringMerge >= 5);
  assert.deepEqual(contents(db), sortedEntries(model));
  await db.close();
  ({ db } = await openDb(dir, { dataFileBytesMax: 64 * 1024, mergeRatio: 0 }));
  assert.deepEqual(contents(db), sortedEntries(model));
});

test('a second merge while one runs fails with CASKDB_MERGE_IN_PROGRESS', async (t) => {
  const { dir, defer } = scratchDir(t);
  const { db } = await openDb(dir, SMALL_FILES);
  defer(() => db.close());
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 200, steps: 2000, valueBytesMax: 100, seed: 5 });
  const first = db.merge();
  // Asked in the same turn and asked once the first is under way: both refused.
  await rejectsWithCode(db.merge(), 'CASKDB_MERGE_IN_PROGRESS');
  assert.equal(db.stat().merging, true);
  await rejectsWithCode(db.merge(), 'CASKDB_MERGE_IN_PROGRESS');
  await first;
  assert.equal(db.stat().merging, false);
  assert.deepEqual(contents(db), sortedEntries(model));
  // Once it is done, another merge may run.
  await db.put('x', 'y');
  model.set('x', 'y');
  await db.merge();
  assert.deepEqual(contents(db), sortedEntries(model));
});

test('after a merge the process holds no descriptor of a deleted or merge-directory file', async (t) => {
  const { dir, parent, defer } = scratchDir(t);
  const { db } = await openDb(dir, SMALL_FILES);
  defer(() => db.close());
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 300, steps: 2000, valueBytesMax: 100, seed: 6 });
  await db.merge();
  await db.put('after', 'a');
  await db.merge();
  const ours = openFileTargets().filter((target) => target.startsWith(parent));
  assert.deepEqual(ours.filter((target) => target.includes('(deleted)')), []);
  assert.deepEqual(ours.filter((target) => target.startsWith(mergeDirOf(dir))), []);
  for (const target of ours) assert.ok(existsSync(target), `${target} exists`);
  // Exactly one descriptor per data file on disk, plus the lock file.
  const dataTargets = ours.filter((target) => target.endsWith('.data')).sort();
  const onDisk = dataFileIds(readdirSync(dir)).map((id) => join(dir, `${String(id).padStart(9, '0')}.data`));
  assert.deepEqual(dataTargets, onDisk);
  assert.equal(db.stat().dataFiles, onDisk.length);
});

test('an automatic merge runs once reclaimable bytes reach mergeRatio of the disk above mergeBytesMin', async (t) => {
  const { parent, defer } = scratchDir(t);
  const eager = await openDb(join(parent, 'eager'), { dataFileBytesMax: 4096, mergeRatio: 0.4, mergeBytesMin: 16 * 1024 });
  const tooSmall = await openDb(join(parent, 'small'), { dataFileBytesMax: 4096, mergeRatio: 0.4, mergeBytesMin: 64 * 1024 * 1024 });
  defer(() => eager.db.close());
  defer(() => tooSmall.db.close());
  const models = [new Map<string, string>(), new Map<string, string>()];
  for (const [i, { db }] of [eager, tooSmall].entries()) {
    for (let round = 0; round < 4; round++) {
      for (let k = 0; k < 150; k++) await db.put(`k${k}`, `round-${round}-${'x'.repeat(40)}`);
    }
    for (let k = 0; k < 150; k++) models[i]!.set(`k${k}`, `round-3-${'x'.repeat(40)}`);
  }
  const ratio = eager.db.stat().reclaimableBytes / eager.db.stat().diskBytes;
  assert.ok(ratio >= 0.4 && eager.db.stat().diskBytes >= 16 * 1024, `ratio ${ratio.toFixed(2)} over ${eager.db.stat().diskBytes} bytes`);
  const deadline = Date.now() + 5000;
  while (!eager.logs.some((e) => e.msg === 'installed merge') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(eager.logs.some((e) => e.msg === 'starting automatic merge'));
  assert.ok(eager.logs.some((e) => e.msg === 'installed merge'));
  assert.ok(eager.db.stat().reclaimableBytes < eager.db.stat().diskBytes * 0.4);
  assert.deepEqual(contents(eager.db), sortedEntries(models[0]!));
  // The other directory had the same ratio but stayed below mergeBytesMin for over a check interval.
  assert.equal(tooSmall.logs.some((e) => e.msg === 'starting automatic merge'), false);
  assert.deepEqual(contents(tooSmall.db), sortedEntries(models[1]!));
});

/** A disk with a settable amount of free space. */
class SmallDisk extends FaultyFileSystem {
  free: number | undefined;

  override freeBytes(path: string): number {
    return this.free ?? super.freeBytes(path);
  }
}

test('merge refuses with CASKDB_NO_SPACE when the disk lacks room, and leaves the database intact', async (t) => {
  const { dir, defer } = scratchDir(t);
  const fileSystem = new SmallDisk();
  let { db } = await openDb(dir, { ...SMALL_FILES, fileSystem });
  defer(() => db.close());
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 200, steps: 1500, valueBytesMax: 100, seed: 7 });
  fileSystem.free = 64 * 1024;
  await rejectsWithCode(db.merge(), 'CASKDB_NO_SPACE');
  assert.equal(db.stat().merging, false);
  assert.equal(existsSync(mergeDirOf(dir)), false);
  assert.deepEqual(contents(db), sortedEntries(model));
  await db.put('still', 'writable');
  model.set('still', 'writable');
  // With room again, the merge runs.
  fileSystem.free = undefined;
  await db.merge();
  assert.deepEqual(contents(db), sortedEntries(model));
  await db.close();
  ({ db } = await openDb(dir, SMALL_FILES));
  assert.deepEqual(contents(db), sortedEntries(model));
});

test('closing the database during a merge aborts it cleanly', async (t) => {
  const { dir, defer } = scratchDir(t);
  let closing: Promise<void> | undefined;
  const holder: { db?: Db } = {};
  const { db } = await openDb(dir, {
    ...SMALL_FILES,
    onMergeStep: (step) => {
      // Close once the merge is under way (the step callback itself runs inside the merge).
      if (step === 'sealed') setImmediate(() => (closing = holder.db?.close()));
    },
  });
  holder.db = db;
  defer(() => db.close());
  const model = new Map<string, string>();
  await runWorkload(db, model, { keys: 300, steps: 3000, valueBytesMax: 200, seed: 8 });
  const expected = sortedEntries(model);
  await rejectsWithCode(db.merge(), 'CASKDB_CLOSED');
  assert.ok(closing !== undefined);
  await closing;
  assert.equal(existsSync(mergeDirOf(dir)), false);
  assert.deepEqual(openFileTargets().filter((target) => target.startsWith(dir)), [], 'a closed Db holds no descriptor, of its files or of the merge output');
  assert.equal(existsSync(join(dir, MERGE_FINISHED_FILE_NAME)), false);
  const reopened = (await openDb(dir, SMALL_FILES)).db;
  defer(() => reopened.close());
  assert.deepEqual(contents(reopened), expected);
  await reopened.merge();
  assert.deepEqual(contents(reopened), expected);
});

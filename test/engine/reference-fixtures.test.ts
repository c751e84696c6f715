// Directories written the way the Go reference design writes them (built by the independent writer in
// test/support/reference-format.ts) open to exactly the right contents: plain puts, tombstones, large
// values, binary keys, batches with and without their finish record, torn tails, merges finished,
// unfinished and half-installed, hint files, seq-no, and data files numbered from 0 as well as 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync, renameSync, readdirSync, unlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  RefDirWriter,
  refDataFileName,
  refReadDataFile,
  refReplay,
  refSplitDiskKey,
  refWriteHintFile,
  refWriteMergeFinished,
  refWriteSeqNo,
  REF_BATCH_FINISHED,
  type RefOp,
  type RefPosition,
} from '../support/reference-format.js';
import { contentsOf, latin1, openDb, sortedModel, tempDir } from './helpers.js';

/** A reference writer plus the Map model of what the directory must contain. */
class Fixture {
  readonly model = new Map<string, Buffer>();
  readonly writer: RefDirWriter;

  constructor(dir: string, options: { firstFileId?: number; fileBytesMax?: number } = {}) {
    this.writer = new RefDirWriter(dir, options);
  }

  put(key: Uint8Array | string, value: Uint8Array | string): RefPosition {
    const k = typeof key === 'string' ? Buffer.from(key) : Buffer.from(key);
    const v = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
    this.model.set(latin1(k), v);
    return this.writer.put(k, v);
  }

  del(key: Uint8Array | string): void {
    const k = typeof key === 'string' ? Buffer.from(key) : Buffer.from(key);
    this.model.delete(latin1(k));
    this.writer.del(k);
  }

  batch(ops: RefOp[], finish = true): void {
    this.writer.batch(ops, { finish });
    if (!finish) return;
    for (const op of ops) {
      if (op.type === 'put') this.model.set(latin1(op.key), Buffer.from(op.value));
      else this.model.delete(latin1(op.key));
    }
  }
}

const put = (key: string, value: string): RefOp => ({ type: 'put', key: Buffer.from(key), value: Buffer.from(value) });
const del = (key: string): RefOp => ({ type: 'delete', key: Buffer.from(key) });

async function assertOpensTo(dir: string, expected: ReadonlyMap<string, Buffer>): Promise<void> {
  const { db } = await openDb(dir);
  try {
    assert.deepEqual(contentsOf(db), sortedModel(expected));
    for (const [key, value] of expected) assert.deepEqual(db.get(Buffer.from(key, 'latin1')), value);
    assert.equal(db.size, expected.size);
  } finally {
    await db.close();
  }
}

test('plain puts, overwrites and tombstones of a reference directory open to the live pairs', async (t) => {
  const dir = tempDir(t);
  const f = new Fixture(dir);
  f.put('alpha', '1');
  f.put('beta', '2');
  f.put('alpha', 'one');
  f.del('beta');
  f.put('gamma', '');
  f.del('never-existed');
  f.writer.flush();
  assert.deepEqual(sortedModel(refReplay(dir)), sortedModel(f.model));
  await assertOpensTo(dir, f.model);
});

test('70 KB values, binary keys with 0x00 and 0xff bytes, across several data files', async (t) => {
  const dir = tempDir(t);
  const f = new Fixture(dir, { fileBytesMax: 200 * 1024 });
  const big = (seed: number): Buffer => Buffer.from(Array.from({ length: 70 * 1024 }, (_, i) => (i * 31 + seed) & 0xff));
  f.put(Buffer.from([0x00]), big(1));
  f.put(Buffer.from([0xff, 0xff]), big(2));
  f.put(Buffer.from([0x00, 0x00, 0x01]), 'zeros');
  f.put(Buffer.from([0x7f, 0x80, 0xff, 0x00]), big(3));
  f.put(Buffer.from([0xc3, 0x28]), 'invalid utf-8 key');
  f.put('text', big(4));
  f.del(Buffer.from([0xff, 0xff]));
  f.put(Buffer.from([0xff]), big(5));
  f.writer.flush();
  assert.ok(f.writer.files.size >= 2, 'the fixture spans several files');
  await assertOpensTo(dir, f.model);
  // Binary keys iterate in unsigned byte order.
  const { db } = await openDb(dir);
  try {
    const keys = [...db.keys()].map((k) => k.toString('hex'));
    assert.deepEqual(keys, ['00', '000001', '7f80ff00', 'c328', '74657874', 'ff'].sort());
    assert.deepEqual(keys[0], '00');
    assert.deepEqual(keys[keys.length - 1], 'ff');
  } finally {
    await db.close();
  }
});

test('data files numbered from 0 open like those numbered from 1', async (t) => {
  const dir = tempDir(t);
  const f = new Fixture(dir, { firstFileId: 0, fileBytesMax: 100 });
  for (let i = 0; i < 20; i++) f.put(`key-${i}`, `value-${i}`.repeat(3));
  f.del('key-3');
  f.writer.flush();
  assert.ok(existsSync(join(dir, refDataFileName(0))));
  await assertOpensTo(dir, f.model);
  const { db } = await openDb(dir);
  try {
    await db.put('after', 'reopen');
    assert.equal(db.stat().activeFileId, f.writer.activeFileId);
  } finally {
    await db.close();
  }
});

test('a batch with its finish record applies; a batch without it is ignored', async (t) => {
  const dir = tempDir(t);
  const f = new Fixture(dir);
  f.put('a', 'plain');
  f.batch([put('a', 'batched'), put('b', 'batched'), del('c')]);
  f.put('c', 'plain c');
  f.batch([put('a', 'lost'), del('c'), put('d', 'lost')], false);
  f.put('e', 'after the unfinished batch');
  f.batch([put('f', 'last'), del('e')]);
  f.batch([put('g', 'torn away')], false);
  f.writer.flush();
  assert.deepEqual(sortedModel(refReplay(dir)), sortedModel(f.model));
  await assertOpensTo(dir, f.model);
});

test('a batch split across a file rotation applies with its finish record in the next file', async (t) => {
  const dir = tempDir(t);
  const f = new Fixture(dir, { fileBytesMax: 120 });
  f.batch([put('k1', 'x'.repeat(40)), put('k2', 'y'.repeat(40)), put('k3', 'z'.repeat(40))]);
  f.writer.flush();
  assert.ok(f.writer.files.size >= 2, 'the batch spans two files');
  await assertOpensTo(dir, f.model);
});

test('the next batch seq is one above the highest seen, or the seq-no file when that is higher', async (t) => {
  const dir = tempDir(t);
  const f = new Fixture(dir);
  f.writer.batch([put('a', '1'), put('b', '2')], { seq: 7 });
  f.writer.flush();
  let opened = await openDb(dir);
  assert.equal(opened.db.stat().lastSeq, 7);
  await opened.db.close();

  refWriteSeqNo(dir, 41);
  opened = await openDb(dir);
  assert.equal(opened.db.stat().lastSeq, 41);
  await opened.db.write([
    { type: 'put', key: 'x', value: '1' },
    { type: 'put', key: 'y', value: '2' },
  ]);
  await opened.db.close();
  const records = refReadDataFile(dir, 1).records;
  const finish = records.filter((r) => r.type === REF_BATCH_FINISHED).map((r) => refSplitDiskKey(r.key).seq);
  assert.deepEqual(finish, [7, 42]);
});

test('a torn tail of the last file is cut away on open and logged; writes continue after it', async (t) => {
  const dir = tempDir(t);
  const f = new Fixture(dir);
  f.put('kept', 'yes');
  f.batch([put('batch', 'kept too'), put('b2', 'x')]);
  const model = new Map(f.model);
  const last = f.put('torn', 'this record loses its last bytes');
  f.writer.flush();
  const path = join(dir, refDataFileName(1));
  truncateSync(path, last.offset + last.size - 5);
  const { db, logs } = await openDb(dir);
  try {
    assert.deepEqual(contentsOf(db), sortedModel(model));
    assert.ok(logs.some((entry) => entry.level === 'warn' && /torn tail/.test(entry.msg)), 'the truncation is logged');
    assert.equal(statSync(path).size, last.offset);
    await db.put('new', 'after truncation');
  } finally {
    await db.close();
  }
  model.set('new', Buffer.from('after truncation'));
  await assertOpensTo(dir, model);
});

test('zero padding after the data of the active file ends it; appends start where the data ends', async (t) => {
  const dir = tempDir(t);
  const f = new Fixture(dir);
  const last = f.put('k', 'v');
  f.writer.flush();
  const path = join(dir, refDataFileName(1));
  writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.alloc(4096)]));
  const { db } = await openDb(dir);
  try {
    assert.deepEqual(contentsOf(db), sortedModel(f.model));
    await db.put('k2', 'v2');
  } finally {
    await db.close();
  }
  const decoded = refReadDataFile(dir, 1);
  assert.equal(decoded.stop, 'eof');
  assert.equal(decoded.records.length, 2);
  assert.equal(decoded.records[1]?.offset, last.offset + last.size);
});

/**
 * Builds the reference layout of a merge: old files 1..3 hold history; the merged output holds each
 * live key of files 1..2 (seq 0) in `<dir>-merge`, with one hint record per key and merge-finished = 3.
 */
function buildMerge(dir: string, mergeDir: string, options: { finished: boolean }): Map<string, Buffer> {
  const old = new Fixture(dir, { fileBytesMax: 150 });
  old.put('a', 'a1');
  old.put('b', 'b1');
  old.batch([put('c', 'c1'), put('d', 'd1')]);
  old.put('a', 'a2');
  old.del('b');
  old.put('e', 'e1'.repeat(20));
  old.put('f', 'f1');
  // Everything so far must sit in files 1 and 2, and file 3 is the first unmerged one.
  while (old.writer.activeFileId < 3) old.put('filler', 'x'.repeat(40));
  assert.equal(old.writer.activeFileId, 3);
  const mergedModel = new Map(old.model);
  old.put('a', 'a3 (after the merge boundary)');
  old.del('c');
  old.put('g', 'g1');
  old.writer.flush();

  const merged = new RefDirWriter(mergeDir, { firstFileId: 1 });
  const hints: Array<[Buffer, RefPosition]> = [];
  for (const [key, value] of sortedModel(mergedModel)) {
    const userKey = Buffer.from(key, 'latin1');
    hints.push([userKey, merged.put(userKey, value)]);
  }
  merged.flush();
  refWriteHintFile(join(mergeDir, 'hint-index'), hints);
  if (options.finished) refWriteMergeFinished(mergeDir, 3);
  return old.model;
}

test('a finished merge directory is installed on open: merged files replace those below the boundary', async (t) => {
  const dir = tempDir(t);
  const mergeDir = `${dir}-merge`;
  const expected = buildMerge(dir, mergeDir, { finished: true });
  const oldFile2 = readFileSync(join(dir, refDataFileName(2)));
  await assertOpensTo(dir, expected);
  assert.equal(existsSync(mergeDir), false, 'the merge directory is gone');
  assert.ok(existsSync(join(dir, 'hint-index')));
  assert.ok(existsSync(join(dir, 'merge-finished')));
  assert.equal(existsSync(join(dir, refDataFileName(2))), false, 'old file 2 was removed (the merge output is one file)');
  assert.notDeepEqual(readFileSync(join(dir, refDataFileName(1))), oldFile2);
  // The installed merge opens again to the same contents (hint + merge-finished already in place).
  await assertOpensTo(dir, expected);
});

test('an unfinished merge directory is discarded and the old files stay authoritative', async (t) => {
  const dir = tempDir(t);
  const mergeDir = `${dir}-merge`;
  const expected = buildMerge(dir, mergeDir, { finished: false });
  const before = readdirSync(dir).sort();
  await assertOpensTo(dir, expected);
  assert.equal(existsSync(mergeDir), false);
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.data')).sort(), before.filter((n) => n.endsWith('.data')));
  assert.equal(existsSync(join(dir, 'merge-finished')), false);
});

test('a hint file and merge-finished already installed: the hint covers files below the boundary', async (t) => {
  const dir = tempDir(t);
  const mergeDir = `${dir}-merge`;
  const expected = buildMerge(dir, mergeDir, { finished: true });
  // Install by hand, as the reference does: old files below 3 go, merged files and markers move in.
  for (const id of [1, 2]) unlinkSync(join(dir, refDataFileName(id)));
  renameSync(join(mergeDir, refDataFileName(1)), join(dir, refDataFileName(1)));
  renameSync(join(mergeDir, 'hint-index'), join(dir, 'hint-index'));
  renameSync(join(mergeDir, 'merge-finished'), join(dir, 'merge-finished'));
  rmSync(mergeDir, { recursive: true });
  await assertOpensTo(dir, expected);
});

test('an install interrupted after the old files were removed resumes from its merge-old-removed marker', async (t) => {
  const dir = tempDir(t);
  const mergeDir = `${dir}-merge`;
  const expected = buildMerge(dir, mergeDir, { finished: true });
  // The crash came after old files 1 and 2 were unlinked and the marker written, before the moves.
  for (const id of [1, 2]) unlinkSync(join(dir, refDataFileName(id)));
  writeFileSync(join(mergeDir, 'merge-old-removed'), '');
  await assertOpensTo(dir, expected);
  assert.equal(existsSync(mergeDir), false);
});

test('an install interrupted after some merged files moved in resumes and loses nothing', async (t) => {
  const dir = tempDir(t);
  const mergeDir = `${dir}-merge`;
  const expected = buildMerge(dir, mergeDir, { finished: true });
  for (const id of [1, 2]) unlinkSync(join(dir, refDataFileName(id)));
  writeFileSync(join(mergeDir, 'merge-old-removed'), '');
  renameSync(join(mergeDir, refDataFileName(1)), join(dir, refDataFileName(1)));
  await assertOpensTo(dir, expected);
  assert.equal(existsSync(mergeDir), false);
});

test('a merge-finished left empty or torn by a crash during its write counts as an unfinished merge', async (t) => {
  for (const damage of ['empty', 'torn'] as const) {
    const dir = tempDir(t, damage);
    const mergeDir = `${dir}-merge`;
    const expected = buildMerge(dir, mergeDir, { finished: true });
    const finishedPath = join(mergeDir, 'merge-finished');
    const whole = readFileSync(finishedPath);
    writeFileSync(finishedPath, damage === 'empty' ? Buffer.alloc(0) : whole.subarray(0, whole.length - 3));
    const { db, logs } = await openDb(dir);
    try {
      assert.deepEqual(contentsOf(db), sortedModel(expected));
      assert.ok(logs.some((entry) => /merge/.test(entry.msg) && entry.level === 'warn'));
    } finally {
      await db.close();
    }
    assert.equal(existsSync(mergeDir), false);
  }
});

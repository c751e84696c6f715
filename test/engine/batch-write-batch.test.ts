// Write batches (issue 3): a committed batch is visible and recovered all together or not at all;
// reads through a batch see its own pending writes, nobody else does; batches are bounded; every
// batch gets a fresh, strictly increasing seq that survives reopen with or without `seq-no`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { RecordType } from '../../src/codec/record.js';
import { SEQ_NO_FILE_NAME } from '../../src/engine/file-names.js';
import { diskRecords, scratchDir } from '../support/crash-records.js';
import { contentsOf, openDb, rejectsWithCode, throwsWithCode } from './helpers.js';

function text(value: Buffer | undefined): string | undefined {
  return value?.toString();
}

test('nothing of a batch is visible before commit, and all of it after', async (t) => {
  const { dir, defer } = scratchDir(t);
  const { db } = await openDb(dir);
  defer(() => db.close());
  await db.put('a', 'old-a');
  await db.put('gone', 'x');
  const b = db.batch();
  b.put('a', 'new-a').put('b', 'new-b').delete('gone');
  assert.equal(text(db.get('a')), 'old-a');
  assert.equal(db.get('b'), undefined);
  assert.equal(text(db.get('gone')), 'x');
  assert.equal(db.size, 2);
  const committing = b.commit();
  // The index update is synchronous inside commit: visible at once, durable when the promise resolves.
  await committing;
  assert.equal(text(db.get('a')), 'new-a');
  assert.equal(text(db.get('b')), 'new-b');
  assert.equal(db.get('gone'), undefined);
  assert.deepEqual(contentsOf(db).map(([k, v]) => [k, v.toString()]), [['a', 'new-a'], ['b', 'new-b']]);
});

test('a batch reads its own pending writes; the database and other batches do not see them', async (t) => {
  const { dir, defer } = scratchDir(t);
  const { db } = await openDb(dir);
  defer(() => db.close());
  await db.put('k', 'committed');
  await db.put('d', 'to-delete');
  const mine = db.batch();
  const other = db.batch();
  mine.put('k', 'pending').put('new', 'n').delete('d');
  assert.equal(text(mine.get('k')), 'pending');
  assert.equal(text(mine.get('new')), 'n');
  assert.equal(mine.get('d'), undefined);
  assert.equal(mine.has('d'), false);
  assert.equal(mine.has('new'), true);
  // A key the batch did not touch reads through to the database.
  await db.put('untouched', 'u');
  assert.equal(text(mine.get('untouched')), 'u');
  assert.equal(text(other.get('k')), 'committed');
  assert.equal(other.get('new'), undefined);
  assert.equal(text(other.get('d')), 'to-delete');
  assert.equal(text(db.get('k')), 'committed');
  // The last write of a key inside a batch wins.
  mine.put('k', 'first').put('k', 'last');
  assert.equal(mine.size, 3);
  await mine.commit();
  assert.equal(text(db.get('k')), 'last');
  assert.equal(text(other.get('k')), 'last');
});

test('a batch past batchOpsMax fails with CASKDB_BATCH_TOO_LARGE and writes nothing', async (t) => {
  const { dir, defer } = scratchDir(t);
  const { db } = await openDb(dir, { batchOpsMax: 3 });
  defer(() => db.close());
  const before = db.stat().diskBytes;
  const b = db.batch();
  b.put('a', '1').put('b', '2').put('c', '3');
  // Rewriting a key already in the batch adds no operation.
  b.put('a', '1b');
  const error = throwsWithCode(() => b.put('d', '4'), 'CASKDB_BATCH_TOO_LARGE');
  assert.equal((error as Error & { limit?: string }).limit, 'batchOpsMax');
  // Through the plain write API too: refused before a byte is written.
  await rejectsWithCode(
    db.write([1, 2, 3, 4].map((i) => ({ type: 'put' as const, key: `w${i}`, value: 'v' }))),
    'CASKDB_BATCH_TOO_LARGE',
  );
  assert.equal(db.stat().diskBytes, before);
  assert.equal(db.size, 0);
  // The batch is still usable within its bound.
  await b.commit();
  assert.deepEqual(contentsOf(db).map(([k, v]) => [k, v.toString()]), [['a', '1b'], ['b', '2'], ['c', '3']]);
});

test('a batch past batchBytesMax fails with CASKDB_BATCH_TOO_LARGE and writes nothing', async (t) => {
  const { dir, defer } = scratchDir(t);
  const { db } = await openDb(dir, { batchBytesMax: 100 });
  defer(() => db.close());
  const b = db.batch();
  b.put('k1', 'x'.repeat(40));
  const error = throwsWithCode(() => b.put('k2', 'y'.repeat(60)), 'CASKDB_BATCH_TOO_LARGE');
  assert.equal((error as Error & { limit?: string }).limit, 'batchBytesMax');
  assert.equal(b.get('k2'), undefined);
  await rejectsWithCode(
    db.write([
      { type: 'put', key: 'w1', value: 'x'.repeat(60) },
      { type: 'put', key: 'w2', value: 'y'.repeat(60) },
    ]),
    'CASKDB_BATCH_TOO_LARGE',
  );
  assert.equal(db.stat().diskBytes, 0);
  assert.equal(db.size, 0);
  await db.close();
  assert.deepEqual(await diskRecords(dir), []);
});

test('committing twice or using a batch after commit fails with CASKDB_BATCH_COMMITTED', async (t) => {
  const { dir, defer } = scratchDir(t);
  const { db } = await openDb(dir);
  defer(() => db.close());
  const b = db.batch();
  b.put('a', '1').put('b', '2');
  await b.commit();
  const lastSeq = db.stat().lastSeq;
  await rejectsWithCode(b.commit(), 'CASKDB_BATCH_COMMITTED');
  throwsWithCode(() => b.put('c', '3'), 'CASKDB_BATCH_COMMITTED');
  throwsWithCode(() => b.delete('a'), 'CASKDB_BATCH_COMMITTED');
  assert.equal(db.get('c'), undefined);
  assert.equal(db.stat().lastSeq, lastSeq);
  // A commit already under way cannot be started again either.
  const c = db.batch();
  c.put('x', '1').put('y', '2');
  const first = c.commit();
  await rejectsWithCode(c.commit(), 'CASKDB_BATCH_COMMITTED');
  await first;
  const discarded = db.batch();
  discarded.put('z', '1');
  discarded.discard();
  await rejectsWithCode(discarded.commit(), 'CASKDB_BATCH_COMMITTED');
  assert.equal(db.get('z'), undefined);
});

test('every batch gets a fresh, strictly increasing seq, across reopen with and without seq-no', async (t) => {
  const { dir, defer } = scratchDir(t);
  const seqs: number[] = [];
  const commitBatch = async (db: Awaited<ReturnType<typeof openDb>>['db'], tag: string): Promise<void> => {
    const b = db.batch();
    b.put(`${tag}-1`, tag).put(`${tag}-2`, tag);
    await b.commit();
    seqs.push(db.stat().lastSeq);
  };
  let { db } = await openDb(dir);
  defer(() => db.close());
  await commitBatch(db, 'a');
  await commitBatch(db, 'b');
  await db.put('plain', 'p'); // plain writes carry seq 0 and take no seq
  await commitBatch(db, 'c');
  await db.close();
  assert.ok(readdirSync(dir).includes(SEQ_NO_FILE_NAME), 'close writes seq-no');

  ({ db } = await openDb(dir));
  assert.equal(db.stat().lastSeq, seqs[seqs.length - 1]);
  await commitBatch(db, 'd');
  await db.close();

  // Without seq-no (as after a crash) the seq is recovered from the records themselves.
  rmSync(join(dir, SEQ_NO_FILE_NAME));
  ({ db } = await openDb(dir));
  assert.equal(db.stat().lastSeq, seqs[seqs.length - 1]);
  await commitBatch(db, 'e');
  await db.close();

  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `seqs ${seqs.join(',')} strictly increase`);
  assert.ok(seqs[0]! >= 1);
  // On disk: each batch's records and its finish record carry that batch's seq; plain records carry 0.
  const records = await diskRecords(dir);
  const finishSeqs = records.filter((r) => r.type === RecordType.BatchFinished).map((r) => r.seq);
  assert.deepEqual(finishSeqs, seqs);
  for (const [i, tag] of ['a', 'b', 'c', 'd', 'e'].entries()) {
    assert.deepEqual(records.filter((r) => r.key.startsWith(`${tag}-`)).map((r) => r.seq), [seqs[i], seqs[i]]);
  }
  assert.deepEqual(records.filter((r) => r.key === 'plain').map((r) => r.seq), [0]);
});

test('a batch spanning data file rotations is recovered whole, from a crash image too', async (t) => {
  const { dir, defer } = scratchDir(t);
  const { db } = await openDb(dir, { dataFileBytesMax: 128, sync: 'always' });
  defer(() => db.close());
  await db.put('before', 'b');
  const b = db.batch();
  const expected = new Map<string, string>([['before', 'b']]);
  for (let i = 0; i < 20; i++) {
    b.put(`key-${String(i).padStart(2, '0')}`, `value-${i}-${'v'.repeat(30)}`);
    expected.set(`key-${String(i).padStart(2, '0')}`, `value-${i}-${'v'.repeat(30)}`);
  }
  await b.commit();
  const records = await diskRecords(dir);
  const batchFiles = new Set(records.filter((r) => r.seq > 0).map((r) => r.fileId));
  assert.ok(batchFiles.size >= 3, `the batch spans ${batchFiles.size} files`);

  // The directory as a crash right now would leave it (no seq-no, no close).
  const image = join(dir, '..', 'crash-image');
  cpSync(dir, image, { recursive: true, filter: (src) => !src.endsWith('flock') });
  const copy = (await openDb(image, { dataFileBytesMax: 128 })).db;
  defer(() => copy.close());
  assert.deepEqual(new Map(contentsOf(copy).map(([k, v]) => [k, v.toString()])), expected);
  await copy.close();

  await db.close();
  const reopened = (await openDb(dir, { dataFileBytesMax: 128 })).db;
  defer(() => reopened.close());
  assert.deepEqual(new Map(contentsOf(reopened).map(([k, v]) => [k, v.toString()])), expected);
  await reopened.close();
});

test('recovery ignores a batch whose finish record was cut off, and never finishes it later', async (t) => {
  const { dir, defer } = scratchDir(t);
  let { db } = await openDb(dir);
  defer(() => db.close());
  await db.put('plain', 'p');
  const first = db.batch();
  first.put('a', '1').put('b', '1');
  await first.commit();
  const torn = db.batch();
  torn.put('a', '2').put('c', '2').delete('b');
  await torn.commit();
  const tornSeq = db.stat().lastSeq;
  await db.close();
  rmSync(join(dir, SEQ_NO_FILE_NAME));

  // Cut the file inside the finish record of the second batch, as a crash mid-write would.
  const records = await diskRecords(dir);
  const fin = records.at(-1)!;
  assert.equal(fin.type, RecordType.BatchFinished);
  assert.equal(fin.seq, tornSeq);
  const path = join(dir, `${String(fin.fileId).padStart(9, '0')}.data`);
  assert.equal(statSync(path).size, fin.offset + fin.size);
  truncateSync(path, fin.offset + fin.size - 3);

  ({ db } = await openDb(dir));
  const state = (): Array<[string, string]> => contentsOf(db).map(([k, v]) => [k, v.toString()]);
  assert.deepEqual(state(), [['a', '1'], ['b', '1'], ['plain', 'p']]);
  // The torn batch's seq is taken: the next batch must not reuse it (its finish record would then
  // complete the torn batch's records still lying in the file).
  const next = db.batch();
  next.put('d', '3').put('e', '3');
  await next.commit();
  assert.ok(db.stat().lastSeq > tornSeq);
  await db.close();
  rmSync(join(dir, SEQ_NO_FILE_NAME));
  ({ db } = await openDb(dir));
  assert.deepEqual(state(), [['a', '1'], ['b', '1'], ['d', '3'], ['e', '3'], ['plain', 'p']]);
  await db.close();
});

// What caskdb writes decodes under the independent reference reader to exactly the expected records:
// seq 0 for plain puts and deletes, a fresh seq and a txn-fin record per batch, rotation into 9-digit
// files at dataFileBytesMax, and a seq-no record on close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  REF_BATCH_FINISHED,
  REF_DELETED,
  REF_NORMAL,
  refDataFileIds,
  refReadDataFile,
  refReadMarker,
  refReplay,
  refSplitDiskKey,
  refWriteSeqNo,
  type RefRecord,
} from '../support/reference-format.js';
import { openDb, sortedModel, tempDir } from './helpers.js';

interface Decoded {
  fileId: number;
  type: number;
  seq: number;
  key: string;
  value: string;
}

function readAll(dir: string): Decoded[] {
  const out: Decoded[] = [];
  for (const fileId of refDataFileIds(dir)) {
    const decoded = refReadDataFile(dir, fileId);
    assert.equal(decoded.stop, 'eof', `file ${fileId} ends cleanly`);
    for (const record of decoded.records) out.push(describe(fileId, record));
  }
  return out;
}

function describe(fileId: number, record: RefRecord): Decoded {
  const { seq, userKey } = refSplitDiskKey(record.key);
  return { fileId, type: record.type, seq, key: userKey.toString('latin1'), value: record.value.toString('latin1') };
}

test('puts and deletes are written with seq 0; a multi-op write is a batch closed by txn-fin', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir);
  await db.put('a', '1');
  await db.put(Buffer.from([0x00, 0xff]), Buffer.from([0xfe]));
  await db.delete('a');
  await db.delete('missing'); // writes nothing
  await db.write([
    { type: 'put', key: 'b', value: '2' },
    { type: 'delete', key: Buffer.from([0x00, 0xff]) },
  ]);
  await db.write([{ type: 'put', key: 'single', value: 'op' }]); // one op: a plain record
  await db.write([
    { type: 'put', key: 'c', value: '3' },
    { type: 'put', key: 'd', value: '4' },
  ]);
  await db.close();
  assert.deepEqual(readAll(dir), [
    { fileId: 1, type: REF_NORMAL, seq: 0, key: 'a', value: '1' },
    { fileId: 1, type: REF_NORMAL, seq: 0, key: '\u0000\u00ff', value: '\u00fe' },
    { fileId: 1, type: REF_DELETED, seq: 0, key: 'a', value: '' },
    { fileId: 1, type: REF_NORMAL, seq: 1, key: 'b', value: '2' },
    { fileId: 1, type: REF_DELETED, seq: 1, key: '\u0000\u00ff', value: '' },
    { fileId: 1, type: REF_BATCH_FINISHED, seq: 1, key: 'txn-fin', value: '' },
    { fileId: 1, type: REF_NORMAL, seq: 0, key: 'single', value: 'op' },
    { fileId: 1, type: REF_NORMAL, seq: 2, key: 'c', value: '3' },
    { fileId: 1, type: REF_NORMAL, seq: 2, key: 'd', value: '4' },
    { fileId: 1, type: REF_BATCH_FINISHED, seq: 2, key: 'txn-fin', value: '' },
  ]);
  assert.deepEqual(refReadMarker(join(dir, 'seq-no')), { key: 'seq.no', value: '2' });
});

test('the active file rotates at dataFileBytesMax into 9-digit files, and every file stays within it', async (t) => {
  const dir = tempDir(t);
  const fileBytesMax = 1024;
  const { db } = await openDb(dir, { dataFileBytesMax: fileBytesMax });
  const model = new Map<string, Buffer>();
  for (let i = 0; i < 200; i++) {
    const key = `key-${i % 37}`;
    const value = Buffer.alloc(i % 90, i & 0xff);
    await db.put(key, value);
    model.set(key, value);
    if (i % 11 === 0) {
      await db.write([
        { type: 'put', key: `batch-${i}`, value: 'x'.repeat(50) },
        { type: 'delete', key: `key-${(i + 5) % 37}` },
      ]);
      model.set(`batch-${i}`, Buffer.from('x'.repeat(50)));
      model.delete(`key-${(i + 5) % 37}`);
    }
  }
  await db.close();
  const names = readdirSync(dir).filter((name) => name.endsWith('.data')).sort();
  assert.ok(names.length >= 5, `rotated into ${names.length} files`);
  names.forEach((name, i) => assert.equal(name, `${String(i + 1).padStart(9, '0')}.data`));
  for (const fileId of refDataFileIds(dir)) {
    const decoded = refReadDataFile(dir, fileId);
    assert.equal(decoded.stop, 'eof');
    assert.ok(decoded.validEnd <= fileBytesMax, `file ${fileId} holds ${decoded.validEnd} bytes`);
  }
  // The reference rules replay the directory to the model.
  assert.deepEqual(sortedModel(refReplay(dir)), sortedModel(model));
  const batches = readAll(dir).filter((r) => r.type === REF_BATCH_FINISHED).map((r) => r.seq);
  assert.deepEqual(batches, Array.from({ length: batches.length }, (_, i) => i + 1));
});

test('a batch larger than one file spans files and still ends with its txn-fin record', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir, { dataFileBytesMax: 256 });
  await db.write(Array.from({ length: 10 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: 'v'.repeat(60) })));
  await db.close();
  const records = readAll(dir);
  assert.ok(new Set(records.map((r) => r.fileId)).size >= 3);
  assert.equal(records.length, 11);
  assert.ok(records.every((r) => r.seq === 1));
  assert.equal(records[10]?.type, REF_BATCH_FINISHED);
  assert.equal(refReplay(dir).size, 10);
});

test('seq-no written on close holds the last batch seq, and survives reopen', async (t) => {
  const dir = tempDir(t);
  let { db } = await openDb(dir);
  await db.put('plain', 'only');
  await db.close();
  assert.deepEqual(refReadMarker(join(dir, 'seq-no')), { key: 'seq.no', value: '0' });
  ({ db } = await openDb(dir));
  for (let i = 0; i < 3; i++) await db.write([{ type: 'put', key: 'a', value: `${i}` }, { type: 'put', key: 'b', value: `${i}` }]);
  await db.close();
  assert.deepEqual(refReadMarker(join(dir, 'seq-no')), { key: 'seq.no', value: '3' });
});

test('batch seqs from 128 on take a two-byte uvarint prefix, on disk and through reopen', async (t) => {
  const dir = tempDir(t);
  let { db } = await openDb(dir);
  await db.put('seed', 'x');
  await db.close();
  refWriteSeqNo(dir, 127);
  ({ db } = await openDb(dir));
  await db.write([{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 'b', value: '2' }]);
  await db.close();
  const batch = refReadDataFile(dir, 1).records.slice(1);
  assert.deepEqual(batch.map((r) => [...r.key.subarray(0, 2)]), [[0x80, 0x01], [0x80, 0x01], [0x80, 0x01]]);
  assert.deepEqual(batch.map((r) => describe(1, r).key), ['a', 'b', 'txn-fin']);
  ({ db } = await openDb(dir));
  try {
    assert.equal(db.get('b')?.toString(), '2');
    assert.equal(db.stat().lastSeq, 128);
  } finally {
    await db.close();
  }
});

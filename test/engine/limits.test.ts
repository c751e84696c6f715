// Limits are enforced before anything is written: a key over keyBytesMax, a value over valueBytesMax, a
// batch over batchOpsMax or batchBytesMax each fail with their typed error, and the data file is byte for
// byte what it was. The empty key is not a limit: it is an ordinary key (Redis allows it too), through
// writes, batches, iteration, reopen, merge and the hint file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_OPTIONS } from '../../src/engine/options.js';
import { contentsOf, openDb, rejectsWithCode, tempDir } from './helpers.js';

test('the default limits are 64 KiB keys and 64 MiB values', () => {
  assert.equal(DEFAULT_OPTIONS.keyBytesMax, 64 * 1024);
  assert.equal(DEFAULT_OPTIONS.valueBytesMax, 64 * 1024 * 1024);
});

test('over-limit keys, values and batches fail with typed errors and write nothing', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir, { keyBytesMax: 16, valueBytesMax: 100, batchOpsMax: 4, batchBytesMax: 300 });
  try {
    await db.put('existing', 'value');
    const path = join(dir, '000000001.data');
    const size = statSync(path).size;
    const unchanged = (): void => assert.equal(statSync(path).size, size, 'nothing was written');

    const keyError = await rejectsWithCode(db.put('k'.repeat(17), 'v'), 'CASKDB_KEY_TOO_LARGE');
    assert.equal((keyError as { limit?: string }).limit, 'keyBytesMax');
    // Multi-byte characters count as their UTF-8 bytes.
    await rejectsWithCode(db.put('é'.repeat(9), 'v'), 'CASKDB_KEY_TOO_LARGE');
    await rejectsWithCode(db.delete('k'.repeat(17)), 'CASKDB_KEY_TOO_LARGE');
    await rejectsWithCode(db.put('k', Buffer.alloc(101)), 'CASKDB_VALUE_TOO_LARGE');
    unchanged();
    await rejectsWithCode(
      db.write(Array.from({ length: 5 }, (_, i) => ({ type: 'put' as const, key: `b${i}`, value: 'v' }))),
      'CASKDB_BATCH_TOO_LARGE',
    );
    await rejectsWithCode(
      db.write(Array.from({ length: 4 }, (_, i) => ({ type: 'put' as const, key: `b${i}`, value: Buffer.alloc(90) }))),
      'CASKDB_BATCH_TOO_LARGE',
    );
    // One bad op anywhere in a batch rejects the whole batch before a byte is written.
    await rejectsWithCode(
      db.write([
        { type: 'put', key: 'ok1', value: 'v' },
        { type: 'put', key: 'ok2', value: Buffer.alloc(101) },
      ]),
      'CASKDB_VALUE_TOO_LARGE',
    );
    await rejectsWithCode(
      db.write([
        { type: 'put', key: 'ok1', value: 'v' },
        { type: 'delete', key: 'k'.repeat(17) },
      ]),
      'CASKDB_KEY_TOO_LARGE',
    );
    unchanged();
    assert.equal(db.get('ok1'), undefined);
    assert.equal(db.size, 1);

    // Exactly at the limits is fine.
    await db.put('k'.repeat(16), Buffer.alloc(100));
    await db.write(Array.from({ length: 4 }, (_, i) => ({ type: 'put' as const, key: `b${i}`, value: 'v' })));
    assert.equal(db.size, 6);
  } finally {
    await db.close();
  }
});

test('options outside their ranges fail the open with CASKDB_INVALID_OPTION', async (t) => {
  const dir = tempDir(t);
  await rejectsWithCode(openDb(dir, { keyBytesMax: 0 }), 'CASKDB_INVALID_OPTION');
  await rejectsWithCode(openDb(dir, { valueBytesMax: -1 }), 'CASKDB_INVALID_OPTION');
  await rejectsWithCode(openDb(dir, { dataFileBytesMax: 2 ** 33 }), 'CASKDB_INVALID_OPTION');
  await rejectsWithCode(openDb(dir, { sync: 'sometimes' as 'none' }), 'CASKDB_INVALID_OPTION');
});

test('the empty key is an ordinary key: put, batch, delete, first in order, and kept across reopen, merge and hint', async (t) => {
  const dir = tempDir(t);
  let { db } = await openDb(dir, { dataFileBytesMax: 512, mergeRatio: 0 });
  await db.put('', 'first');
  await db.put(Buffer.alloc(0), 'second');
  assert.equal(db.get('')?.toString(), 'second');
  assert.equal(db.has(Buffer.alloc(0)), true);
  await db.write([
    { type: 'put', key: 'a', value: 'x' },
    { type: 'put', key: '', value: 'from a batch' },
  ]);
  for (let i = 0; i < 30; i++) await db.put(`k${i % 10}`, Buffer.alloc(60, i));
  const expected = contentsOf(db);
  assert.deepEqual(expected[0], ['', Buffer.from('from a batch')], 'the empty key sorts before every other key');
  assert.deepEqual([...db.keys({ lt: 'a' })].map((k) => k.length), [0]);
  assert.deepEqual([...db.keys({ gte: '', limit: 1 })].map((k) => k.length), [0]);
  assert.equal(db.stat().keys, 12);
  await db.close();
  ({ db } = await openDb(dir, { dataFileBytesMax: 512, mergeRatio: 0 }));
  assert.deepEqual(contentsOf(db), expected, 'replayed from the data files');
  await db.merge();
  await db.close();
  ({ db } = await openDb(dir, { dataFileBytesMax: 512, mergeRatio: 0 }));
  assert.deepEqual(contentsOf(db), expected, 'loaded from the hint file after a merge');
  await db.delete('');
  assert.equal(db.get(''), undefined);
  await db.close();
  ({ db } = await openDb(dir));
  assert.equal(db.get(''), undefined, 'the tombstone of the empty key is replayed');
  assert.deepEqual(contentsOf(db), expected.slice(1));
  await db.close();
});

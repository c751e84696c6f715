// The embedded API's contract on keys and values: strings are UTF-8, byte views are taken at their
// offset, inputs are copied on write and outputs are copies; closed databases refuse every call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDb, rejectsWithCode, tempDir, throwsWithCode } from './helpers.js';

test('string keys are their UTF-8 bytes, in iteration order and in prefix scans', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir);
  try {
    await db.put('é', 'e-acute');
    await db.put('z', 'zed');
    await db.put('日本', 'nihon');
    assert.equal(db.get('é')?.toString(), 'e-acute');
    assert.equal(db.get(Buffer.from([0xc3, 0xa9]))?.toString(), 'e-acute');
    // UTF-8 bytes: 'z' (7a) < 'é' (c3 a9) < '日' (e6 97 a5)
    assert.deepEqual([...db.keys()].map((k) => k.toString('utf8')), ['z', 'é', '日本']);
    assert.deepEqual([...db.keys({ prefix: '日' })].map((k) => k.toString('utf8')), ['日本']);
    assert.deepEqual([...db.keys({ gt: 'z', lt: '日' })].map((k) => k.toString('utf8')), ['é']);
  } finally {
    await db.close();
  }
});

test('byte views are read at their offset, copied on write, and get returns copies', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir);
  try {
    const backing = Buffer.from('xxKEYyyVALUEzz');
    const key = new Uint8Array(backing.buffer, backing.byteOffset + 2, 3);
    const value = new Uint8Array(backing.buffer, backing.byteOffset + 7, 5);
    await db.put(key, value);
    backing.fill(0x21); // the caller reuses its buffer
    assert.equal(db.get('KEY')?.toString(), 'VALUE');
    const first = db.get('KEY')!;
    first.fill(0);
    assert.equal(db.get('KEY')?.toString(), 'VALUE', 'mutating a returned value changes nothing');
    const big = Buffer.alloc(200_000, 7);
    await db.put('big', big);
    const gotBig = db.get('big')!;
    gotBig.fill(1);
    assert.deepEqual(db.get('big'), big);
    await db.put('empty', '');
    assert.deepEqual(db.get('empty'), Buffer.alloc(0));
    assert.equal(db.has('empty'), true);
  } finally {
    await db.close();
  }
});

test('a negative or NaN limit is an invalid argument; limit 0 yields nothing', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir);
  try {
    await db.put('a', '1');
    assert.deepEqual([...db.iterate({ limit: 0 })], []);
    throwsWithCode(() => [...db.iterate({ limit: -1 })], 'CASKDB_INVALID_ARGUMENT');
    throwsWithCode(() => [...db.keys({ limit: Number.NaN })], 'CASKDB_INVALID_ARGUMENT');
  } finally {
    await db.close();
  }
});

test('after close every call fails with CASKDB_CLOSED, and close is idempotent', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir);
  await db.put('a', '1');
  await Promise.all([db.close(), db.close()]);
  throwsWithCode(() => db.get('a'), 'CASKDB_CLOSED');
  throwsWithCode(() => db.has('a'), 'CASKDB_CLOSED');
  throwsWithCode(() => [...db.iterate()], 'CASKDB_CLOSED');
  throwsWithCode(() => db.stat(), 'CASKDB_CLOSED');
  await rejectsWithCode(db.put('a', '2'), 'CASKDB_CLOSED');
  await rejectsWithCode(db.delete('a'), 'CASKDB_CLOSED');
  await rejectsWithCode(db.write([{ type: 'put', key: 'a', value: '1' }]), 'CASKDB_CLOSED');
  await rejectsWithCode(db.sync(), 'CASKDB_CLOSED');
  await db.close();
});

test('writes issued before close are all durable once close resolves', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir, { sync: 'always' });
  const writes = Array.from({ length: 100 }, (_, i) => db.put(`k${i}`, `v${i}`));
  await db.close();
  await Promise.all(writes);
  const { db: reopened } = await openDb(dir);
  try {
    assert.equal(reopened.size, 100);
  } finally {
    await reopened.close();
  }
});

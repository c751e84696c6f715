// Injected file-system faults (test/support/faulty-file-system.ts): a full disk fails the write with
// CASKDB_NO_SPACE and leaves no half-written record, and the Db keeps working once space returns;
// a failed fsync rejects the write and makes the Db read-only until reopened, and reopening finds
// every write acknowledged before the failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { FaultyFileSystem } from '../support/faulty-file-system.js';
import { fillUntilNoSpace, mountSmallDisk } from '../support/full-disk.js';
import { refReadDataFile } from '../support/reference-format.js';
import { contentsOf, openDb, rejectsWithCode, tempDir } from './helpers.js';
import type { Db } from '../../src/engine/db.js';

const activePath = (dir: string, id = 1): string => join(dir, `${String(id).padStart(9, '0')}.data`);

test('ENOSPC on a write: CASKDB_NO_SPACE, nothing half-written, and the Db works once space returns', async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { fileSystem });
  try {
    await db.put('before', '1');
    const size = statSync(activePath(dir)).size;

    fileSystem.inject({ operation: 'write', code: 'ENOSPC', nth: 1 });
    await rejectsWithCode(db.put('lost', 'x'.repeat(100)), 'CASKDB_NO_SPACE');
    assert.equal(statSync(activePath(dir)).size, size);
    assert.equal(db.get('lost'), undefined);

    // A short write followed by ENOSPC: the partial record is rolled back.
    fileSystem.inject({ operation: 'write', shortWriteBytes: 7, nth: 1 });
    fileSystem.inject({ operation: 'write', code: 'ENOSPC', nth: 2 });
    await rejectsWithCode(db.put('lost too', 'y'.repeat(100)), 'CASKDB_NO_SPACE');
    assert.equal(statSync(activePath(dir)).size, size, 'the 7 bytes were truncated away');

    // A write that makes no progress at all is a full disk too.
    fileSystem.inject({ operation: 'write', shortWriteBytes: 0, nth: 1 });
    await rejectsWithCode(db.put('nothing', 'z'), 'CASKDB_NO_SPACE');

    // ENOSPC inside a batch: none of it applies.
    fileSystem.inject({ operation: 'write', code: 'ENOSPC', nth: 1 });
    await rejectsWithCode(db.write([{ type: 'put', key: 'b1', value: '1' }, { type: 'delete', key: 'before' }]), 'CASKDB_NO_SPACE');
    assert.equal(db.get('b1'), undefined);
    assert.equal(db.get('before')?.toString(), '1');
    assert.equal(statSync(activePath(dir)).size, size);

    fileSystem.heal();
    await db.put('after', '2');
    assert.equal(db.get('after')?.toString(), '2');
  } finally {
    await db.close();
  }
  const decoded = refReadDataFile(dir, 1);
  assert.equal(decoded.stop, 'eof', 'the file holds only whole records');
  const { db: reopened } = await openDb(dir);
  try {
    assert.deepEqual(contentsOf(reopened).map(([k, v]) => [k, v.toString()]), [['after', '2'], ['before', '1']]);
  } finally {
    await reopened.close();
  }
});

test('a short write that completes on retry is no error', async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { fileSystem });
  try {
    fileSystem.inject({ operation: 'write', shortWriteBytes: 3, nth: 1 });
    await db.put('key', 'value written in two parts');
    assert.equal(db.get('key')?.toString(), 'value written in two parts');
  } finally {
    await db.close();
  }
  assert.equal(refReadDataFile(dir, 1).records.length, 1);
});

test('a partial write that cannot be rolled back makes the Db read-only; reopen cuts the torn tail', async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { fileSystem });
  await db.put('acknowledged', 'yes');
  fileSystem.inject({ operation: 'write', shortWriteBytes: 5, nth: 1 });
  fileSystem.inject({ operation: 'write', code: 'ENOSPC', nth: 2 });
  fileSystem.inject({ operation: 'truncate', code: 'EIO', nth: 1 });
  await rejectsWithCode(db.put('torn', 'x'.repeat(50)), 'CASKDB_NO_SPACE');
  await rejectsWithCode(db.put('refused', 'v'), 'CASKDB_READ_ONLY');
  assert.equal(db.get('acknowledged')?.toString(), 'yes', 'reads still work');
  fileSystem.heal();
  await db.close();
  const { db: reopened, logs } = await openDb(dir);
  try {
    assert.deepEqual(contentsOf(reopened).map(([k]) => k), ['acknowledged']);
    assert.ok(logs.some((entry) => /torn tail/.test(entry.msg)));
    await reopened.put('writable again', 'yes');
  } finally {
    await reopened.close();
  }
});

for (const syncThread of ['thread-pool', 'event-loop'] as const) test(`a failed fsync (${syncThread}) rejects the write and makes the Db read-only; reopen has every acknowledged write`, async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { sync: 'always', syncThread, fileSystem });
  const acknowledged = new Map<string, string>();
  for (let i = 0; i < 10; i++) {
    await db.put(`k${i}`, `v${i}`);
    acknowledged.set(`k${i}`, `v${i}`);
  }
  fileSystem.inject({ operation: 'datasync', code: 'EIO' });
  const failed = await Promise.allSettled([db.put('unsure1', 'x'), db.put('unsure2', 'y')]);
  assert.ok(failed.every((r) => r.status === 'rejected'), 'every write of the failed group rejects');
  await rejectsWithCode(db.put('after', 'z'), 'CASKDB_READ_ONLY');
  await rejectsWithCode(db.delete('k1'), 'CASKDB_READ_ONLY');
  await rejectsWithCode(db.sync(), 'CASKDB_READ_ONLY');
  assert.equal(db.get('k3')?.toString(), 'v3', 'reads keep working');
  await db.close().catch(() => {});
  fileSystem.heal();
  const { db: reopened } = await openDb(dir, { sync: 'always', fileSystem });
  try {
    for (const [key, value] of acknowledged) assert.equal(reopened.get(key)?.toString(), value);
    assert.equal(reopened.get('after'), undefined);
    await reopened.put('after', 'z');
  } finally {
    await reopened.close();
  }
});

test('a failure to create the next data file on rotation fails that write only', async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { fileSystem, dataFileBytesMax: 256 });
  try {
    await db.put('a', Buffer.alloc(150));
    fileSystem.inject({ operation: 'open', code: 'ENOSPC', path: '000000002.data', nth: 1 });
    await rejectsWithCode(db.put('b', Buffer.alloc(150)), 'CASKDB_NO_SPACE');
    assert.equal(db.get('b'), undefined);
    fileSystem.heal();
    await db.put('b', Buffer.alloc(150));
    assert.equal(db.stat().activeFileId, 2);
  } finally {
    await db.close();
  }
  const { db: reopened } = await openDb(dir);
  try {
    assert.deepEqual([...reopened.keys()].map(String), ['a', 'b']);
  } finally {
    await reopened.close();
  }
});

test('a batch that fails part-way across files stays rejected after reopen, whatever is written next', async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { fileSystem, dataFileBytesMax: 256 });
  try {
    await db.put('seed', 'x');
    // A batch larger than a data file is written in runs; the run into file 2 fails.
    fileSystem.inject({ operation: 'write', code: 'ENOSPC', path: '000000002.data' });
    await rejectsWithCode(
      db.write(['a', 'b', 'c'].map((k) => ({ type: 'put' as const, key: `failed-${k}`, value: k.repeat(100) }))),
      'CASKDB_NO_SPACE',
    );
    fileSystem.heal();
    await db.write([
      { type: 'put', key: 'ok-1', value: '1' },
      { type: 'put', key: 'ok-2', value: '2' },
    ]);
    assert.deepEqual([...db.keys()].map(String), ['ok-1', 'ok-2', 'seed']);
  } finally {
    await db.close();
  }
  const { db: reopened } = await openDb(dir);
  try {
    assert.deepEqual([...reopened.keys()].map(String), ['ok-1', 'ok-2', 'seed'], 'the rejected batch did not come back');
  } finally {
    await reopened.close();
  }
});

for (const sync of ['none', 'always'] as const) {
  test(`sync '${sync}': a real disk filling up across file rotations loses nothing, and close() still succeeds`, async (t) => {
    // Hooks run in the order added: the Db must be closed before the disk is unmounted.
    let db: Db | undefined;
    t.after(() => db?.close().catch(() => undefined));
    const disk = mountSmallDisk(t, 2);
    const dir = join(disk.mountPoint, 'db');
    const warnings: string[] = [];
    const options = { sync, dataFileBytesMax: 64 * 1024, logger: (entry: { level: string; msg: string }) => void (entry.level === 'warn' && warnings.push(entry.msg)) };
    ({ db } = await openDb(dir, options));
    // 3 KB values: the disk fills at some write, on a rotation or inside a file.
    const value = Buffer.alloc(3000, 7);
    const acknowledged = await fillUntilNoSpace(db, value, 100);
    assert.ok(db.stat().dataFiles > 3, 'the writes crossed file rotations');
    // The same write keeps failing cleanly while the disk is full.
    await rejectsWithCode(db.put('more', value), 'CASKDB_NO_SPACE');
    // The data is durable; close() must not report the seq-no file it could not write as a failure.
    await db.close();
    disk.grow(8);
    ({ db } = await openDb(dir, options));
    assert.equal(db.size, acknowledged.length);
    for (const key of acknowledged) assert.deepEqual(db.get(key), value, key);
    assert.equal(db.get('more'), undefined);
    await db.put('after', 'room');
    assert.deepEqual(db.get('after'), Buffer.from('room'));
    await db.close();
    assert.ok(warnings.every((msg) => msg.startsWith('seq-no not written at close')), warnings.join('; '));
  });
}

// Corruption is reported, never swallowed: a damaged byte in a sealed file, or in the active file with
// intact records after it, fails the open with CASKDB_CORRUPTION naming the file and offset; a CRC
// mismatch found by a read fails that read the same way. Only truncateCorruptTail cuts such damage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, openSync, readFileSync, rmSync, statSync, writeSync, closeSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { refReadDataFile } from '../support/reference-format.js';
import { contentsOf, openDb, rejectsWithCode, tempDir, throwsWithCode } from './helpers.js';

function flipByte(path: string, offset: number): void {
  const bytes = readFileSync(path);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.from([bytes[offset]! ^ 0x40]), 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

/** Writes `count` records of ~100 bytes with small files, so several sealed files exist. */
async function fill(dir: string, count: number, dataFileBytesMax = 1024): Promise<void> {
  const { db } = await openDb(dir, { dataFileBytesMax });
  for (let i = 0; i < count; i++) await db.put(`key-${String(i).padStart(3, '0')}`, Buffer.alloc(90, i));
  await db.close();
}

test('a flipped byte in the middle of a sealed file fails the open with CASKDB_CORRUPTION naming file and offset', async (t) => {
  const dir = tempDir(t);
  await fill(dir, 40);
  const sealed = join(dir, '000000002.data');
  const records = refReadDataFile(dir, 2).records;
  const victim = records[Math.floor(records.length / 2)]!;
  flipByte(sealed, victim.offset + victim.size - 3); // inside the value
  const error = await rejectsWithCode(openDb(dir), 'CASKDB_CORRUPTION');
  assert.equal(error.file, sealed);
  assert.equal(error.offset, victim.offset);
  assert.match(error.message, /000000002\.data/);
  assert.match(error.message, new RegExp(`offset ${victim.offset}`));
  // Even truncateCorruptTail does not cut a sealed file.
  await rejectsWithCode(openDb(dir, { truncateCorruptTail: true }), 'CASKDB_CORRUPTION');
  assert.equal(statSync(sealed).size, records.reduce((sum, r) => sum + r.size, 0), 'nothing was cut');
});

test('damage in a record header of a sealed file is corruption too', async (t) => {
  const dir = tempDir(t);
  await fill(dir, 40);
  const victim = refReadDataFile(dir, 1).records[2]!;
  flipByte(join(dir, '000000001.data'), victim.offset + 5); // the key size varint
  const error = await rejectsWithCode(openDb(dir), 'CASKDB_CORRUPTION');
  assert.equal(error.offset, victim.offset);
});

test('a flipped byte in the active file followed by intact records is corruption, not a torn tail', async (t) => {
  const dir = tempDir(t);
  await fill(dir, 5, 1 << 20);
  const active = join(dir, '000000001.data');
  const records = refReadDataFile(dir, 1).records;
  const victim = records[1]!;
  const sizeBefore = statSync(active).size;
  flipByte(active, victim.offset + victim.size - 1);
  const error = await rejectsWithCode(openDb(dir), 'CASKDB_CORRUPTION');
  assert.equal(error.file, active);
  assert.equal(error.offset, victim.offset);
  assert.equal(statSync(active).size, sizeBefore, 'a failed open cuts nothing');

  // With truncateCorruptTail the open succeeds and keeps what precedes the damage.
  const { db, logs } = await openDb(dir, { truncateCorruptTail: true });
  try {
    assert.deepEqual(contentsOf(db).map(([k]) => k), ['key-000']);
    assert.equal(statSync(active).size, victim.offset);
    assert.ok(logs.some((entry) => entry.level === 'warn'));
  } finally {
    await db.close();
  }
});

test('a damaged last record of the active file with nothing after it is a torn tail and is cut', async (t) => {
  const dir = tempDir(t);
  await fill(dir, 5, 1 << 20);
  const records = refReadDataFile(dir, 1).records;
  const last = records[records.length - 1]!;
  flipByte(join(dir, '000000001.data'), last.offset + last.size - 1);
  const { db } = await openDb(dir);
  try {
    assert.equal(db.size, 4);
    assert.equal(db.get('key-004'), undefined);
  } finally {
    await db.close();
  }
});

test('a CRC mismatch found by a read fails the get with CASKDB_CORRUPTION; other keys stay readable', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir);
  try {
    await db.put('good', 'fine');
    await db.put('bad', 'this value will rot');
    await db.put('after', 'fine too');
    const records = refReadDataFile(dir, 1).records;
    const bad = records[1]!;
    const path = join(dir, '000000001.data');
    flipByte(path, bad.offset + bad.size - 2);
    const error = throwsWithCode(() => db.get('bad'), 'CASKDB_CORRUPTION');
    assert.equal(error.file, path);
    assert.equal(error.offset, bad.offset);
    assert.equal(db.get('good')?.toString(), 'fine');
    assert.equal(db.get('after')?.toString(), 'fine too');
    // Iteration reads values too, and reports the same damage rather than returning bad bytes.
    throwsWithCode(() => [...db.iterate()], 'CASKDB_CORRUPTION');
  } finally {
    await db.close();
  }
});

test('a damaged hint file or merge-finished marker fails the open with CASKDB_CORRUPTION', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir, { dataFileBytesMax: 512 });
  for (let i = 0; i < 30; i++) await db.put(`k${i % 10}`, Buffer.alloc(60, i));
  await db.merge();
  await db.close();
  const hint = join(dir, 'hint-index');
  flipByte(hint, statSync(hint).size - 1);
  const error = await rejectsWithCode(openDb(dir), 'CASKDB_CORRUPTION');
  assert.equal(error.file, hint);
  assert.match(error.message, /remove it and open again/);
  flipByte(hint, statSync(hint).size - 1);
  await (await openDb(dir)).db.close();

  const marker = join(dir, 'merge-finished');
  flipByte(marker, 6);
  const markerError = await rejectsWithCode(openDb(dir), 'CASKDB_CORRUPTION');
  assert.equal(markerError.file, marker);
});

test('without its hint file a merged directory opens by scanning the merged files: no key is lost', async (t) => {
  const dir = tempDir(t);
  let { db } = await openDb(dir, { dataFileBytesMax: 512, mergeRatio: 0 });
  for (let i = 0; i < 60; i++) await db.put(`k${i % 20}`, Buffer.alloc(60, i));
  await db.delete('k3');
  await db.merge();
  await db.put('k5', 'after the merge');
  const expected = contentsOf(db).map(([k, v]) => [k, v.toString('hex')]);
  await db.close();
  rmSync(join(dir, 'hint-index'));
  const warnings: string[] = [];
  ({ db } = await openDb(dir, { dataFileBytesMax: 512, mergeRatio: 0, logger: (entry) => void (entry.level === 'warn' && warnings.push(entry.msg)) }));
  assert.deepEqual(contentsOf(db).map(([k, v]) => [k, v.toString('hex')]), expected);
  assert.equal(db.size, 19);
  assert.deepEqual(warnings, ['no hint file for the merged data files; scanning them instead']);
  // Writes go on in a new file, never into a merged one; a merge then writes a new hint file.
  await db.put('k0', 'new');
  await db.merge();
  await db.close();
  assert.ok(existsSync(join(dir, 'hint-index')));
  ({ db } = await openDb(dir));
  assert.deepEqual(db.get('k0'), Buffer.from('new'));
  assert.equal(db.size, 19);
  await db.close();
});

test('a crash in the middle of a large random value is a torn tail, found in time linear in its size', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir);
  await db.put('small', 'kept');
  // Random bytes: many positions look like headers of long records, which once made this quadratic.
  const big = Buffer.alloc(16 * 1024 * 1024);
  let x = 2463534242;
  for (let i = 0; i < big.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    big.writeUInt32LE(x >>> 0, i);
  }
  await db.put('big', big);
  await db.close();
  const path = join(dir, '000000001.data');
  truncateSync(path, Math.floor(statSync(path).size * 0.6));
  const started = performance.now();
  const { db: reopened } = await openDb(dir);
  const openMs = performance.now() - started;
  try {
    assert.deepEqual(contentsOf(reopened).map(([k, v]) => [k, v.toString()]), [['small', 'kept']]);
  } finally {
    await reopened.close();
  }
  assert.ok(openMs < 6000, `open took ${Math.round(openMs)} ms`);
});

// Memory maps (src/io/mmap.ts, native/mmap). Reads: a mapped file reads exactly what pread reads, while it
// grows past its map and after it is truncated; pages cut off under the map become a typed CASKDB_IO error,
// not a crash; a Db with `mmapReads` reads everything back. Writes: a mapped append log holds exactly what
// was written, reserves space past it and cuts the reservation when sealed or closed; a crash image with the
// reservation opens to the same contents; a real full disk (a tmpfs) is CASKDB_NO_SPACE and loses nothing.
// Unmapped reads go through the addon's pread and read what fs.readSync reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileMapping, mmapAvailable, nativePread } from '../../src/io/mmap.js';
import { MMAP_READ_BYTES_MAX, NodeFileSystem } from '../../src/io/node-file-system.js';
import { CaskError, ErrorCode } from '../../src/util/errors.js';
import { openDb, tempDir } from '../engine/helpers.js';
import { fillUntilNoSpace, mountSmallDisk } from '../support/full-disk.js';
import { ensureMmapAddon } from '../support/native.js';
import { generator, randomBytes } from '../support/seeded-random.js';

ensureMmapAddon();


test('the addon is built and loads', () => {
  assert.equal(mmapAvailable(), true);
  assert.equal(new NodeFileSystem({ mmapReads: true }).mmapReads, true);
  assert.equal(new NodeFileSystem().mmapReads, false);
});

test('a growing writable file reads through its map exactly as the bytes written, across remaps and truncation', (t) => {
  const dir = tempDir(t);
  const fs = new NodeFileSystem({ mmapReads: true });
  fs.mkdir(dir);
  const file = fs.openFile(join(dir, 'grow.data'), { writable: true, create: true });
  const random = generator(7);
  // 80 MiB written in 1 MiB appends passes the first map (64 MiB of headroom) and forces a remap.
  const total = 80 * 1024 * 1024;
  const model = Buffer.alloc(total);
  let end = 0;
  const check = (count: number): void => {
    for (let i = 0; i < count; i++) {
      const length = 1 + Math.floor(random() * (random() < 0.1 ? 2 * MMAP_READ_BYTES_MAX : 300));
      const position = Math.floor(random() * end);
      const target = Buffer.alloc(length + 2, 0xee);
      const read = file.read(target, 1, length, position);
      const expected = Math.min(length, end - position); // short only at the end of the file
      assert.equal(read, expected, `read of ${length} at ${position} (end ${end})`);
      assert.ok(target.subarray(1, 1 + read).equals(model.subarray(position, position + read)), `bytes at ${position}`);
      assert.equal(target[0], 0xee);
      assert.equal(target[1 + length], 0xee);
    }
  };
  while (end < total) {
    const chunk = randomBytes(random, 1024 * 1024);
    assert.equal(file.write(chunk, 0, chunk.length, end), chunk.length);
    chunk.copy(model, end);
    end += chunk.length;
    check(200);
  }
  // Overwrites in place are seen at once (the map and pwrite share the page cache).
  const patch = Buffer.from('overwritten in place');
  file.write(patch, 0, patch.length, 12345);
  patch.copy(model, 12345);
  check(500);
  file.truncate(10_000);
  end = 10_000;
  check(500);
  file.close();

  const reopened = fs.openFile(join(dir, 'grow.data'), { writable: false, create: false });
  const target = Buffer.alloc(10_000);
  assert.equal(reopened.read(target, 0, 10_000, 0), 10_000);
  assert.ok(target.equals(model.subarray(0, 10_000)));
  reopened.close();
});

test('pages cut off under the map raise a typed CASKDB_IO error, and the process goes on', (t) => {
  const dir = tempDir(t);
  const fs = new NodeFileSystem({ mmapReads: true });
  fs.mkdir(dir);
  const path = join(dir, 'cut.data');
  writeFileSync(path, randomBytes(generator(3), 64 * 1024));
  const file = fs.openFile(path, { writable: false, create: false });
  const target = Buffer.alloc(100);
  assert.equal(file.read(target, 0, 100, 50_000), 100); // maps the whole file
  // Another process (here another descriptor) truncates the file: the map's tail pages now lie past the end.
  const other = openSync(path, 'r+');
  ftruncateSync(other, 4096);
  closeSync(other);
  assert.throws(
    () => file.read(target, 0, 100, 50_000),
    (error: unknown) => error instanceof CaskError && error.code === ErrorCode.Io && /SIGBUS/.test(error.message) && error.message.includes(path),
  );
  // Bytes still in the file read as before.
  const expected = Buffer.alloc(100);
  const fd = openSync(path, 'r');
  readSync(fd, expected, 0, 100, 1000);
  closeSync(fd);
  assert.equal(file.read(target, 0, 100, 1000), 100);
  assert.ok(target.equals(expected));
  file.close();
});

test('a mapping refuses copies outside itself and after close', (t) => {
  const dir = tempDir(t);
  const fs = new NodeFileSystem();
  fs.mkdir(dir);
  const path = join(dir, 'small.data');
  writeFileSync(path, Buffer.from('0123456789'));
  const fd = openSync(path, 'r');
  t.after(() => closeSync(fd));
  const mapping = FileMapping.map(fd, 10);
  const target = Buffer.alloc(4);
  assert.equal(mapping.copy(3, target, 0, 4), true);
  assert.equal(target.toString(), '3456');
  assert.throws(() => mapping.copy(8, target, 0, 4), /outside the mapping/);
  assert.throws(() => mapping.copy(0, target, 2, 4), /outside the mapping or the buffer/);
  mapping.close();
  assert.throws(() => mapping.copy(0, target, 0, 4), /closed mapping/);
});

test('a Db with mmapReads reads every value back, across rotation, merge and reopen', async (t) => {
  const dir = tempDir(t);
  const options = { mmapReads: true, dataFileBytesMax: 64 * 1024 };
  let { db } = await openDb(dir, options);
  assert.equal(db.stat().mmapReads, true);
  const random = generator(11);
  const model = new Map<string, Buffer>();
  for (let i = 0; i < 3000; i++) {
    const key = `key-${Math.floor(random() * 800)}`;
    if (random() < 0.15) {
      await db.delete(key);
      model.delete(key);
    } else {
      const value = randomBytes(random, Math.floor(random() * (random() < 0.05 ? 70_000 : 200)));
      await db.put(key, value);
      model.set(key, value);
    }
    const probe = `key-${Math.floor(random() * 800)}`;
    assert.deepEqual(db.get(probe), model.get(probe));
  }
  const readAll = (): void => {
    for (const [key, value] of model) assert.deepEqual(db.get(key), value, key);
    assert.equal([...db.keys()].length, model.size);
  };
  readAll();
  await db.merge();
  readAll();
  await db.close();
  ({ db } = await openDb(dir, options));
  readAll();
  await db.close();
});

test('mmapReads must be a boolean', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(openDb(dir, { mmapReads: 'yes' as unknown as boolean }), (error: unknown) => error instanceof CaskError && error.code === ErrorCode.InvalidOption && /mmapReads/.test(error.message));
});

test('a mapped append log writes what pread reads, reserves space past its data, and drops it when sealed or closed', (t) => {
  const dir = tempDir(t);
  const fs = new NodeFileSystem({ mmapWrites: true });
  assert.equal(fs.mmapWrites, true);
  fs.mkdir(dir);
  const path = join(dir, '000000001.data');
  const file = fs.openFile(path, { writable: true, create: true, appendLog: true });
  const random = generator(5);
  const model: Buffer[] = [];
  let end = 0;
  // 20 MiB of appends of random sizes: past the first reservation (8 MiB) and past the release distance.
  while (end < 20 * 1024 * 1024) {
    const chunk = randomBytes(random, 1 + Math.floor(random() * 70_000));
    assert.equal(file.write(chunk, 0, chunk.length, end), chunk.length);
    model.push(chunk);
    end += chunk.length;
  }
  const expected = Buffer.concat(model);
  assert.equal(file.size(), end, 'size() is the end of the data');
  assert.ok(statSync(path).size > end, 'space is reserved past the data while the file is written');
  // An independent descriptor reads exactly the bytes written (the map writes into the page cache).
  const fd = openSync(path, 'r');
  const seen = Buffer.alloc(end);
  assert.equal(readSync(fd, seen, 0, end, 0), end);
  closeSync(fd);
  assert.ok(seen.equals(expected));
  file.seal();
  assert.equal(statSync(path).size, end, 'sealing cuts the reservation');
  // Writing after seal maps again and reserves again; close cuts it once more.
  const tail = Buffer.from('after the seal');
  file.write(tail, 0, tail.length, end);
  file.close();
  assert.equal(statSync(path).size, end + tail.length);
  assert.ok(readFileSync(path).equals(Buffer.concat([expected, tail])));
});

test('a crash image of a mapped active file (zero-filled reservation past the data) opens to the same contents', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir, { mmapWrites: true });
  assert.equal(db.stat().mmapWrites, true);
  const model = new Map<string, Buffer>();
  const random = generator(9);
  for (let i = 0; i < 500; i++) {
    const value = randomBytes(random, Math.floor(random() * 300));
    await db.put(`k${i % 350}`, value);
    model.set(`k${i % 350}`, value);
  }
  // Copy the directory while the database is open and unsynced: what a SIGKILL would leave.
  const image = `${dir}-image`;
  t.after(() => rmSync(image, { recursive: true, force: true }));
  cpSync(dir, image, { recursive: true, filter: (src) => !src.endsWith('/flock') });
  await db.close();
  const active = join(image, '000000001.data');
  const withReservation = statSync(active).size;
  for (const mmap of [false, true]) {
    const copy = `${image}-${String(mmap)}`;
    t.after(() => rmSync(copy, { recursive: true, force: true }));
    cpSync(image, copy, { recursive: true });
    const { db: reopened, logs } = await openDb(copy, { mmapWrites: mmap, mmapReads: mmap });
    for (const [key, value] of model) assert.deepEqual(reopened.get(key), value, key);
    assert.equal(reopened.size, model.size);
    assert.ok(statSync(join(copy, '000000001.data')).size < withReservation, 'recovery cut the zero tail');
    assert.equal(logs.filter((entry) => entry.level === 'error').length, 0);
    await reopened.put('after', 'crash');
    await reopened.close();
    const { db: again } = await openDb(copy);
    assert.deepEqual(again.get('after'), Buffer.from('crash'));
    assert.equal(again.size, model.size + 1);
    await again.close();
  }
});

test('with mmapWrites a full disk is CASKDB_NO_SPACE before anything is written, and writes resume when space returns', async (t) => {
  const disk = mountSmallDisk(t, 12);
  const dir = join(disk.mountPoint, 'db');
  let { db } = await openDb(dir, { mmapWrites: true, dataFileBytesMax: 256 * 1024 * 1024 });
  const value = Buffer.alloc(64 * 1024, 7);
  const acknowledged = await fillUntilNoSpace(db, value, 100);
  await db.close();
  // Room again (a bigger disk): the same directory takes writes and keeps every acknowledged one.
  disk.grow(24);
  ({ db } = await openDb(dir, { mmapWrites: true, dataFileBytesMax: 256 * 1024 * 1024 }));
  for (const key of acknowledged) assert.deepEqual(db.get(key), value, key);
  await db.put('more', value);
  assert.deepEqual(db.get('more'), value);
  await db.close();
});

test("reads that are not mapped use the addon's pread: the bytes fs.readSync reads, short at the end, a typed error on a bad descriptor", (t) => {
  assert.notEqual(nativePread(), undefined, 'the addon provides pread');
  const dir = tempDir(t);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'file');
  const random = generator(17);
  const contents = randomBytes(random, 300_000);
  writeFileSync(path, contents);
  const fs = new NodeFileSystem();
  const file = fs.openFile(path, { writable: false, create: false });
  const fd = openSync(path, 'r');
  for (let i = 0; i < 2000; i++) {
    const length = 1 + Math.floor(random() * 5000);
    const position = Math.floor(random() * (contents.length + 100));
    const ours = Buffer.alloc(length + 3, 0xee);
    const theirs = Buffer.alloc(length + 3, 0xee);
    const read = file.read(ours, 3, length, position);
    assert.equal(read, readSync(fd, theirs, 3, length, position));
    assert.equal(read, Math.max(0, Math.min(length, contents.length - position)));
    assert.ok(ours.equals(theirs), `read of ${length} at ${position}`);
  }
  closeSync(fd);
  file.close();
  assert.throws(() => file.read(Buffer.alloc(10), 0, 10, 0), (error: unknown) => error instanceof CaskError && error.code === ErrorCode.Io && /EBADF/.test(error.message) && error.message.includes(path));
});

test('without the addon (CASKDB_NATIVE=off) asking for maps logs a warning and the engine works on node:fs alone', (t) => {
  const dir = tempDir(t);
  const child = spawnSync(process.execPath, [join(import.meta.dirname, 'fixtures', 'no-addon-child.js'), dir], {
    encoding: 'utf8',
    env: { ...process.env, CASKDB_NATIVE: 'off' },
    timeout: 60_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const report = JSON.parse(child.stdout) as { available: boolean; reason: string; mmapReads: boolean; mmapWrites: boolean; warnings: string[]; intact: boolean };
  assert.equal(report.available, false);
  assert.match(report.reason, /CASKDB_NATIVE=off/);
  assert.equal(report.mmapReads, false);
  assert.equal(report.mmapWrites, false);
  assert.equal(report.warnings.length, 1, JSON.stringify(report.warnings));
  assert.match(report.warnings[0]!, /memory maps are unavailable/);
  assert.equal(report.intact, true, 'every value read back through fs.readSync');
});

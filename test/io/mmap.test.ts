// Memory-mapped reads (src/io/mmap.ts, native/mmap): a mapped file reads exactly what pread reads, while it
// grows past its map and after it is truncated; pages cut off under the map become a typed CASKDB_IO error,
// not a crash; and a Db with `mmapReads` serves its reads from the map and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileMapping, mmapAvailable } from '../../src/io/mmap.js';
import { MMAP_READ_BYTES_MAX, NodeFileSystem } from '../../src/io/node-file-system.js';
import { CaskError, ErrorCode } from '../../src/util/errors.js';
import { openDb, tempDir } from '../engine/helpers.js';
import { ensureMmapAddon } from '../support/native.js';

ensureMmapAddon();

/** A deterministic pseudo-random generator, so a failure names a reproducible sequence. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function randomBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (random() * 256) | 0;
  return bytes;
}

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
  assert.throws(() => mapping.copy(0, target, 2, 4), /outside the mapping or the target/);
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

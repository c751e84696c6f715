// Zero-filled appends (`zeroFillAppends`, the default under sync 'always'): an append log reserves its
// space by writing zeros ahead, holds exactly what was written, and cuts the zeros when sealed or closed;
// a crash image (zeros past the data) opens to the same contents; a real full disk (a tmpfs) is
// CASKDB_NO_SPACE, loses no acknowledged write, and the directory takes writes again once there is room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, cpSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NodeFileSystem } from '../../src/io/node-file-system.js';
import { mmapAvailable } from '../../src/io/mmap.js';
import { CaskError, ErrorCode } from '../../src/util/errors.js';
import { openDb, tempDir } from '../engine/helpers.js';
import { fillUntilNoSpace, mountSmallDisk } from '../support/full-disk.js';
import { ensureMmapAddon } from '../support/native.js';
import { generator, randomBytes } from '../support/seeded-random.js';

ensureMmapAddon();


test("under sync 'always' appends are zero-filled pwrites by default; other modes keep mapped appends", async (t) => {
  const { db: always } = await openDb(tempDir(t), { sync: 'always' });
  assert.equal(always.stat().zeroFillAppends, true);
  assert.equal(always.stat().mmapWrites, false);
  await always.close();
  const { db: everysec } = await openDb(tempDir(t), { sync: 'everysec' });
  assert.equal(everysec.stat().zeroFillAppends, false);
  assert.equal(everysec.stat().mmapWrites, mmapAvailable());
  await everysec.close();
  // Either can be asked for explicitly in any mode.
  const { db: both } = await openDb(tempDir(t), { sync: 'always', mmapWrites: true, zeroFillAppends: false });
  assert.equal(both.stat().zeroFillAppends, false);
  assert.equal(both.stat().mmapWrites, true);
  await both.close();
  await assert.rejects(openDb(tempDir(t), { zeroFillAppends: 1 as unknown as boolean }), (error: unknown) => error instanceof CaskError && error.code === ErrorCode.InvalidOption && /zeroFillAppends/.test(error.message));
});

for (const mmapWrites of [false, true]) {
  test(`a zero-filled append log${mmapWrites ? ' written through a map' : ''} holds what was written, zeros past it, and drops them when sealed or closed`, (t) => {
    const dir = tempDir(t);
    const fs = new NodeFileSystem({ zeroFillAppends: true, mmapWrites });
    fs.mkdir(dir);
    const path = join(dir, '000000001.data');
    const file = fs.openFile(path, { writable: true, create: true, appendLog: true });
    const random = generator(mmapWrites ? 11 : 3);
    const chunks: Buffer[] = [];
    let end = 0;
    // 5 MiB of appends of random sizes: several steps of the reservation (at most 1 MiB each).
    while (end < 5 * 1024 * 1024) {
      const chunk = randomBytes(random, 1 + Math.floor(random() * 40_000));
      assert.equal(file.write(chunk, 0, chunk.length, end), chunk.length);
      chunks.push(chunk);
      end += chunk.length;
      assert.equal(file.size(), end, 'size() is the end of the data');
    }
    const onDisk = readFileSync(path);
    assert.ok(onDisk.length > end, 'space is reserved past the data while the file is written');
    assert.ok(onDisk.length - end <= 1024 * 1024 + 4096, `the reservation is at most about 1 MiB, got ${onDisk.length - end}`);
    assert.ok(onDisk.subarray(0, end).equals(Buffer.concat(chunks)), 'an independent reader sees exactly the bytes written');
    assert.ok(onDisk.subarray(end).every((byte) => byte === 0), 'the reservation is zeros');
    // Reads through the file itself see the data too.
    const probe = Buffer.alloc(chunks[0]!.length);
    assert.equal(file.read(probe, 0, probe.length, 0), probe.length);
    assert.ok(probe.equals(chunks[0]!));
    file.seal();
    assert.equal(statSync(path).size, end, 'sealing cuts the reservation');
    const tail = Buffer.from('after the seal');
    file.write(tail, 0, tail.length, end);
    assert.ok(statSync(path).size > end + tail.length, 'writing again reserves again');
    file.close();
    assert.equal(statSync(path).size, end + tail.length, 'close cuts the reservation');
    const fd = openSync(path, 'r');
    const last = Buffer.alloc(tail.length);
    readSync(fd, last, 0, tail.length, end);
    closeSync(fd);
    assert.ok(last.equals(tail));
  });
}

test('a crash image of a zero-filled active file opens to the same contents, and the zeros are cut', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir, { sync: 'always' });
  const model = new Map<string, Buffer>();
  const random = generator(21);
  for (let i = 0; i < 400; i++) {
    const value = randomBytes(random, Math.floor(random() * 400));
    const key = `k${i % 300}`;
    if (i % 7 === 6) {
      await db.write([{ type: 'put', key, value }, { type: 'delete', key: `k${(i + 1) % 300}` }]);
      model.set(key, value);
      model.delete(`k${(i + 1) % 300}`);
    } else {
      await db.put(key, value);
      model.set(key, value);
    }
  }
  // What a SIGKILL leaves: the directory as it is while the database is open.
  const image = `${dir}-image`;
  t.after(() => rmSync(image, { recursive: true, force: true }));
  cpSync(dir, image, { recursive: true, filter: (src) => !src.endsWith('/flock') });
  await db.close();
  const active = join(image, '000000001.data');
  const withZeros = statSync(active).size;
  assert.ok(readFileSync(active).subarray(-16).every((byte) => byte === 0), 'the image ends in the zero-filled reservation');
  const { db: reopened, logs } = await openDb(image, { sync: 'always' });
  for (const [key, value] of model) assert.deepEqual(reopened.get(key), value, key);
  assert.equal(reopened.size, model.size);
  assert.ok(statSync(active).size < withZeros, 'recovery cut the zero tail');
  assert.equal(logs.filter((entry) => entry.level === 'error').length, 0);
  await reopened.put('after', 'crash');
  await reopened.close();
  const { db: again } = await openDb(image, { sync: 'none' });
  assert.deepEqual(again.get('after'), Buffer.from('crash'));
  assert.equal(again.size, model.size + 1);
  await again.close();
});

test('with zero-filled appends a full disk is CASKDB_NO_SPACE, nothing acknowledged is lost, and writes resume when space returns', async (t) => {
  const disk = mountSmallDisk(t, 12);
  const dir = join(disk.mountPoint, 'db');
  const options = { sync: 'always' as const, dataFileBytesMax: 256 * 1024 * 1024 };
  let { db } = await openDb(dir, options);
  assert.equal(db.stat().zeroFillAppends, true);
  const value = Buffer.alloc(48 * 1024, 5);
  const acknowledged = await fillUntilNoSpace(db, value, 100);
  await db.close();
  disk.grow(24);
  ({ db } = await openDb(dir, options));
  for (const key of acknowledged) assert.deepEqual(db.get(key), value, key);
  assert.equal(db.size, acknowledged.length);
  await db.put('more', value);
  assert.deepEqual(db.get('more'), value);
  await db.close();
});

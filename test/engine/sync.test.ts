// Durability modes: with sync 'always' a write resolves only after its fdatasync, and every write of
// one event-loop turn shares one fsync (group commit); with 'everysec' and 'none' a write resolves
// after write(2) with no fsync on its path, 'everysec' fsyncs in the background, and bytesPerSync
// forces an fsync after that many bytes. syncThread 'event-loop' moves only the 'always' group fsync
// onto the event loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultyFileSystem } from '../support/faulty-file-system.js';
import { openDb, tempDir } from './helpers.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test("sync 'always': a put resolves only after its fsync has completed", async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { sync: 'always', fileSystem });
  try {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    fileSystem.beforeDatasync = () => gate;
    let resolved = false;
    const put = db.put('k', 'v').then(() => (resolved = true));
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(resolved, false, 'not acknowledged while the fsync is held back');
    assert.equal(db.get('k')?.toString(), 'v', 'visible to reads at once');
    release();
    await put;
    assert.equal(resolved, true);
  } finally {
    fileSystem.beforeDatasync = undefined;
    await db.close();
  }
});

test("sync 'always': writes issued in one event-loop turn share one fsync", async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { sync: 'always', fileSystem });
  try {
    fileSystem.resetCounters();
    await Promise.all([
      ...Array.from({ length: 50 }, (_, i) => db.put(`k${i}`, 'v')),
      db.delete('k3'),
      db.write([
        { type: 'put', key: 'a', value: '1' },
        { type: 'put', key: 'b', value: '2' },
      ]),
    ]);
    assert.equal(fileSystem.counters.datasync, 1);
    // Writes issued while that fsync runs share the next one.
    fileSystem.resetCounters();
    const first = Array.from({ length: 10 }, (_, i) => db.put(`x${i}`, 'v'));
    await tick();
    const second = Array.from({ length: 10 }, (_, i) => db.put(`y${i}`, 'v'));
    await Promise.all([...first, ...second]);
    assert.ok(fileSystem.counters.datasync <= 2, `${fileSystem.counters.datasync} fsyncs for two turns`);
    // Sequential awaited puts get one fsync each.
    fileSystem.resetCounters();
    for (let i = 0; i < 3; i++) await db.put(`z${i}`, 'v');
    assert.equal(fileSystem.counters.datasync, 3);
  } finally {
    await db.close();
  }
});

test("syncThread 'event-loop': 'always' groups fsync on the event loop, one per turn, before any put resolves", async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { sync: 'always', syncThread: 'event-loop', fileSystem });
  try {
    fileSystem.resetCounters();
    let resolvedBeforeFsync = 0;
    const puts = Array.from({ length: 40 }, (_, i) =>
      db.put(`k${i}`, 'v').then(() => {
        if (fileSystem.counters.datasyncSync === 0) resolvedBeforeFsync++;
      }),
    );
    assert.equal(fileSystem.counters.datasyncSync, 0, 'the fsync waits for the end of the turn');
    await Promise.all([...puts, db.write([{ type: 'put', key: 'a', value: '1' }, { type: 'delete', key: 'k2' }])]);
    assert.equal(resolvedBeforeFsync, 0, 'no put resolves before its fsync');
    assert.deepEqual([fileSystem.counters.datasyncSync, fileSystem.counters.datasync], [1, 0], 'one fsync, on the event loop');
    fileSystem.resetCounters();
    for (let i = 0; i < 3; i++) await db.put(`z${i}`, 'v');
    await db.sync();
    assert.equal(fileSystem.counters.datasyncSync, 4, 'awaited puts and db.sync() fsync one each');
  } finally {
    await db.close();
  }
  const { db: reopened } = await openDb(dir, { sync: 'always', syncThread: 'event-loop' });
  try {
    assert.equal(reopened.get('k39')?.toString(), 'v');
    assert.equal(reopened.get('k2'), undefined);
  } finally {
    await reopened.close();
  }
});

test("syncThread 'event-loop' leaves the background fsync of 'everysec' on the thread pool", async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { sync: 'everysec', syncThread: 'event-loop', fileSystem });
  try {
    fileSystem.resetCounters();
    await db.put('k', 'v');
    await db.sync();
    assert.deepEqual([fileSystem.counters.datasync, fileSystem.counters.datasyncSync], [1, 0]);
  } finally {
    await db.close();
  }
});

test('an unknown syncThread is refused at open', async (t) => {
  await assert.rejects(openDb(tempDir(t), { syncThread: 'main' as never }), /invalid option syncThread="main": must be 'thread-pool' or 'event-loop'/);
});

test("sync 'none' and 'everysec' acknowledge after write(2), with no fsync on the write path", async (t) => {
  for (const sync of ['none', 'everysec'] as const) {
    const dir = tempDir(t, sync);
    const fileSystem = new FaultyFileSystem();
    const { db } = await openDb(dir, { sync, fileSystem });
    try {
      fileSystem.resetCounters();
      for (let i = 0; i < 20; i++) await db.put(`k${i}`, 'v');
      await db.write([
        { type: 'put', key: 'a', value: '1' },
        { type: 'delete', key: 'k1' },
      ]);
      assert.equal(fileSystem.counters.datasync + fileSystem.counters.datasyncSync, 0, `${sync}: no fsync`);
      assert.ok(fileSystem.counters.write >= 21);
      // db.sync() makes everything durable on demand.
      await db.sync();
      assert.equal(fileSystem.counters.datasync, 1);
    } finally {
      await db.close();
    }
  }
});

test("sync 'everysec' fsyncs written data in the background within about a second", async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { sync: 'everysec', fileSystem });
  try {
    fileSystem.resetCounters();
    await db.put('k', 'v');
    assert.equal(fileSystem.counters.datasync, 0);
    const started = Date.now();
    while (fileSystem.counters.datasync === 0 && Date.now() - started < 3000) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(fileSystem.counters.datasync, 1);
    const took = Date.now() - started;
    assert.ok(took < 2500, `took ${took} ms`);
  } finally {
    await db.close();
  }
});

test('bytesPerSync fsyncs after that many bytes are written', async (t) => {
  const dir = tempDir(t);
  const fileSystem = new FaultyFileSystem();
  const { db } = await openDb(dir, { sync: 'none', bytesPerSync: 4096, fileSystem });
  try {
    fileSystem.resetCounters();
    await db.put('small', 'v');
    await tick();
    assert.equal(fileSystem.counters.datasync, 0);
    for (let i = 0; i < 5; i++) await db.put(`big${i}`, Buffer.alloc(1000));
    for (let i = 0; i < 5 && fileSystem.counters.datasync === 0; i++) await tick();
    assert.ok(fileSystem.counters.datasync >= 1, 'an fsync after 4 KiB');
  } finally {
    await db.close();
  }
});

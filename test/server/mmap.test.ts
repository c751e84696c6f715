// `mmap-reads yes` and `mmap-writes yes` reach the engine of a real server: INFO reports them, and values
// written through the map before a SIGKILL read back after a restart, from the map and, after a restart
// with `--mmap-writes no` and default reads, with pread and pwrite (INFO then says neither is in use). With
// `--sync always` the default is write(2) into zero-filled space, and acknowledged writes survive a SIGKILL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { removeDir, startServer, type RunningServer } from './harness.js';
import { ensureMmapAddon } from '../support/native.js';

ensureMmapAddon();

/** A client that never retries, so a failed assertion leaves no client reconnecting forever. */
function connect(port: number): Redis {
  return new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
}

/** SIGKILLs the server (its client dropped first) and starts a new one on the same directory, with a client. */
async function killAndRestart(server: RunningServer, redis: Redis, args: string[]): Promise<{ server: RunningServer; redis: Redis }> {
  redis.disconnect();
  await server.kill();
  const next = await startServer(args, { dir: server.dir });
  return { server: next, redis: connect(next.port) };
}

test('a server with --mmap-reads yes --mmap-writes yes keeps every acknowledged write across a kill and restart', async () => {
  // No value cache, so every GET after the restart goes to the data file.
  const args = ['--mmap-reads', 'yes', '--mmap-writes', 'yes', '--value-cache-bytes', '0'];
  let server = await startServer(args);
  const dir = server.dir;
  // A client is dropped in `finally` too, so a failed assertion leaves no client reconnecting forever.
  let redis: Redis | undefined;
  try {
    redis = connect(server.port);
    assert.match(await redis.info('caskdb'), /^mmap_reads:1\r?$/m);
    assert.match(await redis.info('caskdb'), /^mmap_writes:1\r?$/m);
    const values = new Map<string, string>();
    for (let i = 0; i < 2000; i++) values.set(`k${i}`, `value-${i}-`.repeat(1 + (i % 40)));
    await redis.mset(Object.fromEntries(values));
    ({ server, redis } = await killAndRestart(server, redis, args));
    const keys = [...values.keys()];
    assert.deepEqual(await redis.mget(...keys), keys.map((k) => values.get(k)));
    redis.disconnect();
    assert.equal(await server.stop(), 0);
    server = await startServer(['--mmap-writes', 'no'], { dir });
    redis = connect(server.port);
    assert.match(await redis.info('caskdb'), /^mmap_reads:0\r?$/m);
    assert.match(await redis.info('caskdb'), /^mmap_writes:0\r?$/m);
    assert.deepEqual(await redis.mget(...keys), keys.map((k) => values.get(k)));
    await redis.set('plain', 'pwrite');
    assert.equal(await redis.get('plain'), 'pwrite');
    redis.disconnect();
    assert.equal(await server.stop(), 0);
  } finally {
    redis?.disconnect();
    await server.kill();
    removeDir(dir);
  }
});

test("with --sync always the default is write(2) into zero-filled space, and an acknowledged write survives SIGKILL", async () => {
  let server = await startServer(['--sync', 'always']);
  const dir = server.dir;
  let redis: Redis | undefined;
  try {
    redis = connect(server.port);
    const info = await redis.info('caskdb');
    assert.match(info, /^mmap_writes:0\r?$/m);
    assert.match(info, /^zero_fill_appends:1\r?$/m);
    // Many clients' writes in flight at once share fsyncs; every acknowledged one must be there after the kill.
    const acknowledged = await Promise.all(Array.from({ length: 500 }, (_, i) => redis!.set(`k${i}`, `v${i}`.repeat(20)).then(() => i)));
    ({ server, redis } = await killAndRestart(server, redis, ['--sync', 'everysec']));
    const after = await redis.info('caskdb');
    assert.match(after, /^zero_fill_appends:0\r?$/m);
    const keys = acknowledged.map((i) => `k${i}`);
    assert.deepEqual(await redis.mget(...keys), acknowledged.map((i) => `v${i}`.repeat(20)));
    redis.disconnect();
    assert.equal(await server.stop(), 0);
  } finally {
    redis?.disconnect();
    await server.kill();
    removeDir(dir);
  }
});

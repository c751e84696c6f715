// `mmap-reads yes` reaches the engine of a real server: INFO reports it, and values written before a
// SIGKILL read back after a restart (from the map; the default server reads with pread and says so).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { removeDir, startServer } from './harness.js';
import { ensureMmapAddon } from '../support/native.js';

ensureMmapAddon();

test('a server with --mmap-reads yes serves reads from memory maps across a kill and restart', async () => {
  // No value cache, so every GET after the restart goes to the data file.
  const args = ['--mmap-reads', 'yes', '--value-cache-bytes', '0'];
  let server = await startServer(args);
  const dir = server.dir;
  try {
    let redis = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    assert.match(await redis.info('caskdb'), /^mmap_reads:1\r?$/m);
    const values = new Map<string, string>();
    for (let i = 0; i < 2000; i++) values.set(`k${i}`, `value-${i}-`.repeat(1 + (i % 40)));
    await redis.mset(Object.fromEntries(values));
    redis.disconnect();
    await server.kill();
    server = await startServer(args, { dir });
    redis = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    const keys = [...values.keys()];
    assert.deepEqual(await redis.mget(...keys), keys.map((k) => values.get(k)));
    redis.disconnect();
    assert.equal(await server.stop(), 0);
    server = await startServer([], { dir });
    redis = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    assert.match(await redis.info('caskdb'), /^mmap_reads:0\r?$/m);
    assert.equal(await redis.get('k1999'), values.get('k1999'));
    redis.disconnect();
    assert.equal(await server.stop(), 0);
  } finally {
    await server.kill();
    removeDir(dir);
  }
});

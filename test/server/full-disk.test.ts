// A full disk under a running server: writes get a RESP error naming CASKDB_NO_SPACE, the failed write is
// not visible, reads and other clients go on, writes work again once there is room, and every
// acknowledged write survives a clean stop on the full disk (exit 0), a SIGKILL and restarts. The disk is a
// real tmpfs of a few MiB (tests run as root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { mountSmallDisk } from '../support/full-disk.js';
import { startServer } from './harness.js';

for (const sync of ['everysec', 'always'] as const) {
  test(`sync ${sync}: a full disk fails writes with CASKDB_NO_SPACE and loses nothing acknowledged`, async (t) => {
    const disk = mountSmallDisk(t, 12);
    const dir = join(disk.mountPoint, 'data');
    let server = await startServer(['--sync', sync], { dir });
    const clients: Redis[] = [];
    const connect = async (): Promise<Redis> => {
      const client = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
      clients.push(client);
      await client.connect();
      return client;
    };
    try {
      const writer = await connect();
      const reader = await connect();
      const value = (i: number): string => `${i}:`.padEnd(48 * 1024, String.fromCharCode(97 + (i % 26)));

      const acknowledged: number[] = [];
      let failure: Error | undefined;
      let failedAt = -1;
      for (let i = 0; i < 2_000 && failure === undefined; i++) {
      try {
          assert.equal(await writer.set(`k${i}`, value(i)), 'OK');
          acknowledged.push(i);
        } catch (error) {
          failure = error as Error;
          failedAt = i;
        }
      }
      assert.ok(failure !== undefined, 'the disk never filled up');
      assert.match(failure.message, /^ERR write failed \(CASKDB_NO_SPACE\): .*no space left on device/, failure.message);
      assert.ok(acknowledged.length > 50, `${acknowledged.length} writes fit before the disk was full`);

      // The failed write is not visible; the server, its reads and the other connection go on.
      assert.equal(await reader.get(`k${failedAt}`), null);
      assert.equal(await reader.ping(), 'PONG');
      assert.equal(await writer.get(`k${acknowledged.at(-1)!}`), value(acknowledged.at(-1)!));
      assert.equal(await reader.dbsize(), acknowledged.length);
      const stillFull = (e: Error): boolean => /^ERR write failed \(CASKDB_NO_SPACE\)/.test(e.message);
      await assert.rejects(writer.set('still-full', value(0)), stillFull);
      // INFO counts both failed SETs, though the failure arrives after the command ran (at its group write).
      const commandStats = (await reader.info('commandstats')) as string;
      assert.match(commandStats, /^cmdstat_set:calls=\d+,usec=\d+,usec_per_call=[\d.]+,rejected_calls=0,failed_calls=2\r$/m, commandStats);
      assert.match((await reader.info('errorstats')) as string, /^errorstat_ERR:count=2\r$/m);
      // A transaction that cannot be written fails as a whole, with the same error as EXEC's reply.
      assert.equal(await writer.call('multi'), 'OK');
      assert.equal(await writer.call('set', 'tx-a', value(1)), 'QUEUED');
      assert.equal(await writer.call('set', 'tx-b', value(2)), 'QUEUED');
      await assert.rejects(writer.call('exec'), stillFull);
      assert.equal(await reader.exists('tx-a', 'tx-b'), 0);

      // A clean stop on the full disk exits 0, and a restart there serves the data.
      writer.disconnect();
      reader.disconnect();
      assert.equal(await server.stop(), 0, server.stderr());
      server = await startServer(['--sync', sync], { dir });
      const restarted = await connect();
      assert.equal(await restarted.dbsize(), acknowledged.length);
      assert.equal(await restarted.get(`k${acknowledged[0]!}`), value(acknowledged[0]!));
      await assert.rejects(restarted.set('still-full', value(0)), stillFull);

      // Room again (the same disk, bigger): writes work without a restart.
      disk.grow(24);
      assert.equal(await restarted.set('after', 'room again'), 'OK');
      assert.equal(await restarted.get('after'), 'room again');

      // Every acknowledged write survives a SIGKILL.
      await server.kill();
      server = await startServer(['--sync', sync], { dir });
      const again = await connect();
      assert.equal(await again.dbsize(), acknowledged.length + 1);
      for (const i of acknowledged) assert.equal(await again.get(`k${i}`), value(i), `k${i}`);
      assert.equal(await again.get('after'), 'room again');
      assert.equal(await again.get(`k${failedAt}`), null);
    } finally {
      // Before the disk's own cleanup (unmount), which needs the server gone.
      for (const client of clients) client.disconnect();
      await server.kill();
    }
  });
}

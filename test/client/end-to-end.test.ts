// End to end with real processes: `caskdb server`s registering in a real ZooKeeper, and the client
// discovering them there. Crash (SIGKILL) → gone after the session timeout and no longer routed to;
// restart → back; graceful shutdown → gone at once; ZooKeeper restart → servers stay registered and the
// client keeps serving throughout.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '../../src/client/index.js';
import { ZooKeeperRegistry } from '../../src/registry/index.js';
import { startZooKeeper, type ZooKeeperServer } from '../support/zookeeper.js';
import { runCaskdb } from '../support/cli.js';
import { waitFor } from '../registry/conformance.js';
import { startCaskdb, type CaskdbProcess } from './caskdb-servers.js';

let zk: ZooKeeperServer;
let registry: ZooKeeperRegistry;
const processes: CaskdbProcess[] = [];
before(async () => {
  zk = await startZooKeeper();
  registry = new ZooKeeperRegistry({ connect: zk.connect, sessionTimeoutMs: 2_000, operationTimeoutMs: 15_000, log: () => undefined });
});
after(async () => {
  await Promise.all(processes.map((p) => p.destroy()));
  await registry?.close();
  await zk?.destroy();
});

async function servers(cluster: string, count: number, weight?: number): Promise<CaskdbProcess[]> {
  const started = await Promise.all(Array.from({ length: count }, () => startCaskdb({ zookeeper: zk.connect, cluster, ...(weight === undefined ? {} : { weight }) })));
  processes.push(...started);
  return started;
}

const addressesIn = async (cluster: string): Promise<string[]> => (await registry.list(cluster)).map((s) => s.address);

test('a started server registers /caskdb/<cluster>/<host:port> with weight, role, version and startedAt', async () => {
  const [server] = await servers('e2e-reg', 1, 42);
  assert.ok(server !== undefined);
  await waitFor('the registration', async () => (await addressesIn('e2e-reg')).includes(server.address));
  const [record] = await registry.list('e2e-reg');
  assert.equal(record?.data.weight, 42);
  assert.equal(record?.data.role, 'standalone');
  assert.match(record?.data.version ?? '', /^\d+\.\d+\.\d+/);
  assert.ok(Math.abs(Date.parse(record?.data.startedAt ?? '') - Date.now()) < 60_000);

  const ls = await runCaskdb(['cluster', 'ls', '--zookeeper', zk.connect, '--cluster', 'e2e-reg']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, new RegExp(`${server.address.replace(/\./g, '\\.')}\\s+42\\s+standalone`));
});

test('graceful shutdown removes the registration at once', async () => {
  const [server] = await servers('e2e-term', 1);
  assert.ok(server !== undefined);
  await waitFor('the registration', async () => (await addressesIn('e2e-term')).length === 1);
  assert.equal(await server.terminate(), 0);
  assert.deepEqual(await addressesIn('e2e-term'), [], 'gone as soon as the process has exited');
});

test('SIGKILL: gone after the session timeout, the client stops routing to it; a restart registers it again', async (t) => {
  const cluster = 'e2e-kill';
  const group = await servers(cluster, 3);
  await waitFor('three registrations', async () => (await addressesIn(cluster)).length === 3);
  const client = createClient({ zookeeper: zk.connect, cluster }, { balancer: 'round-robin', reconnectBaseMs: 50, reconnectMaxMs: 300 });
  t.after(() => client.close());
  await waitFor('the client to know three servers', async () => { await client.ready(); return client.serverStates().length === 3; });
  for (let i = 0; i < 30; i++) await client.set(`e2e:${i}`, String(i));
  assert.ok(client.serverStates().every((s) => s.served > 0));

  const victim = group[0];
  assert.ok(victim !== undefined);
  // The crash happens when SIGKILL is sent, so measure from then: `kill()` also waits for the exit to be
  // reported, which under load can take a good part of the margin below.
  const killedAt = Date.now();
  await victim.kill();
  await waitFor('the node to vanish (session timeout)', async () => !(await addressesIn(cluster)).includes(victim.address), 15_000);
  const outlived = Date.now() - killedAt;
  assert.ok(outlived >= 500, `an ephemeral node outlives its crashed owner until the session times out (gone ${outlived} ms after SIGKILL)`);
  await waitFor('the client to drop it', () => !client.serverStates().some((s) => s.address === victim.address));
  for (let i = 0; i < 30; i++) assert.equal(await client.get(`e2e:after:${i}`), undefined);
  assert.equal(client.serverStates().length, 2);

  await victim.start();
  await waitFor('the re-registration', async () => (await addressesIn(cluster)).includes(victim.address));
  await waitFor('the client to route to it again', async () => {
    await client.get('e2e:probe');
    return (client.serverStates().find((s) => s.address === victim.address)?.served ?? 0) > 0;
  });
});

test('ZooKeeper restart: servers stay registered, the client keeps serving throughout', async (t) => {
  const cluster = 'e2e-zk-restart';
  await servers(cluster, 2);
  await waitFor('two registrations', async () => (await addressesIn(cluster)).length === 2);
  const client = createClient({ zookeeper: zk.connect, cluster }, { balancer: 'round-robin' });
  t.after(() => client.close());
  await client.ready();
  await waitFor('the client to know both', () => client.serverStates().length === 2);

  let ok = 0;
  const errors: unknown[] = [];
  let running = true;
  const load = (async () => {
    for (let i = 0; running; i++) {
      try { await client.set(`zk-restart:${i % 50}`, String(i)); await client.get(`zk-restart:${i % 50}`); ok++; } catch (e) { errors.push(e); }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await new Promise((r) => setTimeout(r, 300));
  const before = ok;
  await zk.stop();
  await new Promise((r) => setTimeout(r, 2_500)); // longer than the servers' 1 s session timeout
  const duringOutage = ok - before;
  await zk.start();
  await waitFor('both registrations after the restart', async () => (await addressesIn(cluster)).length === 2, 20_000);
  // The client learns of the re-registrations through its own (reconnected) watches, a round trip or two later.
  await waitFor('the client to know both again', () => client.serverStates().length === 2, 10_000);
  await new Promise((r) => setTimeout(r, 300));
  running = false;
  await load;
  assert.deepEqual(errors, []);
  assert.ok(duringOutage > 20, `requests served while ZooKeeper was down: ${duringOutage}`);
  assert.equal(client.serverStates().length, 2);
});

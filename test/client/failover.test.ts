// Failover rules: a down server is skipped and retried in the background; an unsent request may move
// anywhere; a sent read may be retried elsewhere, a sent write may not (typed error); attempts are bounded.
// Also: least-active steers away from a slowed server; in Raft mode writes go to the leader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, isCaskError } from '../../src/client/index.js';
import { MemoryRegistryHub } from '../../src/registry/index.js';
import { freePort } from '../support/zookeeper.js';
import { direct, startDelayProxy, startServer, startSwallowingServer } from './servers.js';
import { waitFor } from '../registry/conformance.js';

test('a killed server is marked down, requests go to the others, and it is used again once back', async (t) => {
  const backends = await Promise.all([startServer(), startServer(), startServer()]);
  const client = createClient({ servers: backends.map((b) => b.address) }, { balancer: 'round-robin', reconnectBaseMs: 50, reconnectMaxMs: 200 });
  t.after(async () => { await client.close(); await Promise.all(backends.map((b) => b.stop())); });
  for (let i = 0; i < 9; i++) await client.set(`fo:${i}`, 'v');
  const victim = backends[1];
  assert.ok(victim !== undefined);
  await victim.kill();
  await waitFor('the victim to be marked down', () => client.serverStates().find((s) => s.address === victim.address)?.health === 'down');
  const servedBefore = client.serverStates().find((s) => s.address === victim.address)?.served ?? 0;
  for (let i = 0; i < 30; i++) await client.set(`fo:after:${i}`, 'v');
  assert.equal(client.serverStates().find((s) => s.address === victim.address)?.served, servedBefore, 'nothing routed to the dead server');

  await victim.restart();
  await waitFor('the victim to be up again', () => client.serverStates().find((s) => s.address === victim.address)?.health === 'up');
  for (let i = 0; i < 30; i++) await client.get(`fo:after:${i}`);
  assert.ok((client.serverStates().find((s) => s.address === victim.address)?.served ?? 0) > servedBefore);
});

test('a write whose connection drops after it was sent fails with CASKDB_IO and is not retried', async (t) => {
  const swallow = await startSwallowingServer();
  const healthy = await startServer();
  const client = createClient({ servers: [swallow.address, healthy.address] }, { balancer: 'round-robin' });
  t.after(async () => { await client.close(); await swallow.close(); await healthy.stop(); });
  await assert.rejects(client.set('fo:w', 'v'), (e) => isCaskError(e, 'CASKDB_IO') && /may or may not have been applied/.test(e.message));
  assert.equal(swallow.received(), 1);
  assert.deepEqual(client.serverStates().map((s) => [s.address, s.inFlight, s.served]), [[swallow.address, 0, 1], [healthy.address, 0, 0]]);
  const viaHealthy = await direct(healthy.address);
  try {
    assert.equal(await viaHealthy.exists('fo:w'), 0, 'the write was not retried on another server');
  } finally {
    viaHealthy.disconnect();
  }
});

test('a read whose connection drops after it was sent is retried on another server', async (t) => {
  const swallow = await startSwallowingServer();
  const healthy = await startServer();
  const seed = await direct(healthy.address);
  await seed.set('fo:r', 'from-healthy');
  seed.disconnect();
  const client = createClient({ servers: [swallow.address, healthy.address] }, { balancer: 'round-robin' });
  t.after(async () => { await client.close(); await swallow.close(); await healthy.stop(); });
  assert.equal(await client.get('fo:r'), 'from-healthy');
  assert.equal(swallow.received(), 1, 'the read went to the swallowing server first');
  // Each attempt is accounted on its own server and nothing stays in flight.
  assert.deepEqual(client.serverStates().map((s) => [s.address, s.inFlight, s.served]), [[swallow.address, 0, 1], [healthy.address, 0, 1]]);
});

test('a write to a server that refuses connections moves to another server (nothing was sent)', async (t) => {
  const deadPort = await freePort();
  const healthy = await startServer();
  const client = createClient({ servers: [`127.0.0.1:${deadPort}`, healthy.address] }, { balancer: 'round-robin' });
  t.after(async () => { await client.close(); await healthy.stop(); });
  assert.equal(await client.set('fo:moved', 'v'), true);
  assert.equal(await client.get('fo:moved'), 'v');
});

test('with every server down a request fails with CASKDB_NO_SERVER after bounded attempts', async (t) => {
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const client = createClient({ servers: ports.map((p) => `127.0.0.1:${p}`) }, { maxAttempts: 2 });
  t.after(() => client.close());
  const started = Date.now();
  await assert.rejects(client.get('k'), (e) => isCaskError(e, 'CASKDB_NO_SERVER') && /4 known, [12] tried/.test(e.message));
  await assert.rejects(client.set('k', 'v'), (e) => isCaskError(e, 'CASKDB_NO_SERVER'));
  const took = Date.now() - started;
  assert.ok(took < 3_000, `took ${took} ms`);
});

test('a read that times out moves on; a write that times out fails with CASKDB_TIMEOUT', async (t) => {
  const slow = await startServer();
  const fast = await startServer();
  const proxy = await startDelayProxy(slow.port, 1_000);
  const client = createClient({ servers: [proxy.address, fast.address] }, { balancer: 'round-robin', commandTimeoutMs: 200 });
  const slowOnly = createClient({ servers: [proxy.address, fast.address] }, { balancer: { name: 'always-first', pick: (_r, list) => list[0] as never }, commandTimeoutMs: 200 });
  t.after(async () => { await client.close(); await slowOnly.close(); await proxy.close(); await slow.stop(); await fast.stop(); });
  const fastDirect = await direct(fast.address);
  await fastDirect.set('fo:t', 'fast');
  fastDirect.disconnect();
  const started = Date.now();
  assert.equal(await client.get('fo:t'), 'fast'); // the proxy first (times out after 200 ms), then the fast server
  const waited = Date.now() - started;
  assert.ok(waited >= 190, `answered after ${waited} ms, so the 200 ms timeout on the slow server was not waited`);
  await assert.rejects(slowOnly.set('fo:t', 'v'), (e) => isCaskError(e, 'CASKDB_TIMEOUT'));
});

test('least-active steers away from a deliberately slowed server; round robin does not', async (t) => {
  const backends = await Promise.all([startServer(), startServer(), startServer()]);
  const proxy = await startDelayProxy(backends[2]?.port ?? 0, 20);
  const addresses = [backends[0]?.address ?? '', backends[1]?.address ?? '', proxy.address];
  t.after(async () => { await proxy.close(); await Promise.all(backends.map((b) => b.stop())); });
  const run = async (balancer: 'least-active' | 'round-robin'): Promise<number> => {
    const client = createClient({ servers: addresses }, { balancer, seed: 3 });
    try {
      await client.ping();
      let next = 0;
      const worker = async (): Promise<void> => { while (next < 600) { const i = next++; await client.get(`la:${i}`); } };
      await Promise.all(Array.from({ length: 12 }, worker));
      const states = client.serverStates();
      const total = states.reduce((a, s) => a + s.served, 0);
      return (states.find((s) => s.address === proxy.address)?.served ?? 0) / total;
    } finally {
      await client.close();
    }
  };
  const leastActiveShare = await run('least-active');
  const roundRobinShare = await run('round-robin');
  assert.ok(leastActiveShare < 0.12, `least-active gave the slow server ${leastActiveShare}`);
  assert.ok(roundRobinShare > 0.3, `round robin gave the slow server ${roundRobinShare}`);
});

test('in Raft mode writes go to the leader and reads spread; without a leader writes fail CASKDB_NO_LEADER', async (t) => {
  const backends = await Promise.all([startServer(), startServer(), startServer()]);
  const hub = new MemoryRegistryHub();
  const servers = hub.connect();
  const roles = ['follower', 'leader', 'follower'];
  const registrations = backends.map((b, i) => servers.register('raft', b.address, { weight: 100, role: roles[i] ?? 'follower', version: '', startedAt: '' }));
  const client = createClient({ registry: hub.connect(), cluster: 'raft' }, { balancer: 'round-robin' });
  t.after(async () => { await client.close(); await servers.close(); await Promise.all(backends.map((b) => b.stop())); });
  for (let i = 0; i < 12; i++) await client.set(`raft:${i}`, 'v');
  const leader = await direct(backends[1]?.address ?? '');
  try {
    assert.equal((await leader.keys('raft:*')).length, 12);
  } finally {
    leader.disconnect();
  }
  for (let i = 0; i < 12; i++) await client.get(`raft:${i}`);
  assert.ok(client.serverStates().every((s) => s.served > 0), 'reads reach followers too');

  await registrations[1]?.update({ role: 'candidate' });
  await waitFor('the role change', () => client.serverStates().every((s) => s.role !== 'leader'));
  await assert.rejects(client.set('raft:x', 'v'), (e) => isCaskError(e, 'CASKDB_NO_LEADER'));
  await registrations[0]?.update({ role: 'leader' });
  await waitFor('the new leader', () => client.serverStates().some((s) => s.role === 'leader'));
  assert.equal(await client.set('raft:x', 'v'), true);
});

test('servers registered or unregistered later are picked up or dropped', async (t) => {
  const backends = await Promise.all([startServer(), startServer()]);
  const hub = new MemoryRegistryHub();
  const servers = hub.connect();
  const first = servers.register('grow', backends[0]?.address ?? '', { weight: 100, role: 'standalone', version: '', startedAt: '' });
  const client = createClient({ registry: hub.connect(), cluster: 'grow' }, { balancer: 'round-robin' });
  t.after(async () => { await client.close(); await servers.close(); await Promise.all(backends.map((b) => b.stop())); });
  await client.set('g', '1');
  servers.register('grow', backends[1]?.address ?? '', { weight: 100, role: 'standalone', version: '', startedAt: '' });
  await waitFor('the second server', () => client.serverStates().length === 2);
  await first.unregister();
  await waitFor('the first server to go', () => client.serverStates().length === 1);
  for (let i = 0; i < 5; i++) await client.get('g');
  assert.deepEqual(client.serverStates().map((s) => s.address), [backends[1]?.address]);
});

test('a registry that suddenly lists no server is taken as no news: the known servers keep serving', async (t) => {
  const backends = await Promise.all([startServer(), startServer()]);
  const hub = new MemoryRegistryHub();
  const servers = hub.connect();
  const record = { weight: 100, role: 'standalone', version: '', startedAt: '' };
  const registrations = backends.map((b) => servers.register('empty', b.address, record));
  const client = createClient({ registry: hub.connect(), cluster: 'empty' }, { balancer: 'round-robin' });
  t.after(async () => { await client.close(); await servers.close(); await Promise.all(backends.map((b) => b.stop())); });
  await waitFor('both servers', async () => { await client.ready(); return client.serverStates().length === 2; });
  // Every registration goes at once (as when all sessions expire in a ZooKeeper outage), then one comes back.
  await Promise.all(registrations.map((r) => r.unregister()));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(client.serverStates().length, 2, 'the empty list did not drop the known servers');
  for (let i = 0; i < 10; i++) assert.equal(await client.set(`empty:${i}`, 'v'), true);
  servers.register('empty', backends[1]?.address ?? '', record);
  await waitFor('the re-registered server alone', () => client.serverStates().length === 1);
  assert.deepEqual(client.serverStates().map((s) => s.address), [backends[1]?.address]);
  assert.equal(await client.set('empty:after', 'v'), true);
  assert.equal(await client.get('empty:after'), 'v');
});

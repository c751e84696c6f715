// The ZooKeeper registry against a real ZooKeeper (standalone, loopback, temp dataDir): the shared
// conformance suite, plus what only ZooKeeper has — the znode layout and JSON, foreign data, a restart.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZooKeeperRegistry } from '../../src/registry/index.js';
import { abandonZkClient, createZkClient, zkCreate, zkErrorCode, zkGetData, zkMkdirp, zkExists, ZkCode, ZkState } from '../../src/registry/zk-client.js';
import { startTcpProxy, startZooKeeper, type TcpProxy, type ZooKeeperServer } from '../support/zookeeper.js';
import { data, registryConformance, waitFor } from './conformance.js';
import type { ZkClient } from '../../src/registry/zk-client.js';

let zk: ZooKeeperServer;
const proxies = new Map<ZooKeeperRegistry, Promise<TcpProxy>>();
before(async () => { zk = await startZooKeeper(); });
after(async () => {
  for (const proxy of proxies.values()) await (await proxy).close();
  await zk?.destroy();
});

const quiet = (): void => undefined;
const openRegistry = (): ZooKeeperRegistry => new ZooKeeperRegistry({ connect: zk.connect, sessionTimeoutMs: 2_000, operationTimeoutMs: 10_000, log: quiet });

/** A session whose connection to ZooKeeper goes through its own proxy, so that a partition can expire it. */
async function openPartitionable(): Promise<ZooKeeperRegistry> {
  const proxy = startTcpProxy(zk.port);
  const registry = new ZooKeeperRegistry({ connect: `127.0.0.1:${(await proxy).port}`, sessionTimeoutMs: 1_000, operationTimeoutMs: 10_000, log: quiet });
  proxies.set(registry, proxy);
  return registry;
}

/** Expires a session the way production sees it: a partition longer than the session timeout. */
async function expireSession(registry: ZooKeeperRegistry): Promise<void> {
  const proxy = proxies.get(registry);
  assert.ok(proxy !== undefined);
  await (await proxy).partition(2_500);
}

async function rawClient(): Promise<ZkClient> {
  const client = createZkClient(zk.connect, { sessionTimeout: 2_000, spinDelay: 100, retries: 0 });
  await new Promise<void>((resolve) => { client.once('connected', () => resolve()); client.connect(); });
  return client;
}

registryConformance('zookeeper registry', () => ({
  open: openPartitionable,
  expire: (session) => expireSession(session as ZooKeeperRegistry),
  outage: async (whileDown) => {
    await zk.stop();
    try { await whileDown(); } finally { await zk.start(); }
  },
}));

test('zookeeper registry: the node is the ephemeral znode /<root>/<cluster>/<host:port> holding the JSON data', async () => {
  const registry = new ZooKeeperRegistry({ connect: zk.connect, root: '/caskdb-layout/nested', sessionTimeoutMs: 2_000, log: quiet });
  const client = await rawClient();
  try {
    await registry.register('blue', '127.0.0.1:7001', data({ weight: 5, role: 'follower' })).registered;
    const { data: bytes, stat } = await zkGetData(client, '/caskdb-layout/nested/blue/127.0.0.1:7001');
    assert.deepEqual(JSON.parse(bytes?.toString('utf8') ?? ''), { weight: 5, role: 'follower', version: '0.1.0', startedAt: '2026-01-01T00:00:00.000Z' });
    assert.ok(!stat.ephemeralOwner.equals(Buffer.alloc(8)), 'ephemeral');
    await registry.close();
    assert.equal(await zkExists(client, '/caskdb-layout/nested/blue/127.0.0.1:7001'), undefined);
  } finally {
    await registry.close();
    client.close();
  }
});

test('zookeeper registry: nodes with foreign or broken data are listed with defaults, bad names skipped', async () => {
  const registry = openRegistry();
  const client = await rawClient();
  try {
    await zkMkdirp(client, '/caskdb/foreign');
    await zkCreate(client, '/caskdb/foreign/127.0.0.1:9001', Buffer.from('not json'), true);
    await zkCreate(client, '/caskdb/foreign/127.0.0.1:9002', Buffer.from('{"weight":"heavy","role":3}'), true);
    await zkCreate(client, '/caskdb/foreign/not-an-address', Buffer.from('{}'), true);
    const list = await registry.list('foreign');
    assert.deepEqual(list.map((s) => [s.address, s.data.weight, s.data.role]), [['127.0.0.1:9001', 100, 'unknown'], ['127.0.0.1:9002', 100, 'unknown']]);
  } finally {
    await registry.close();
    client.close();
  }
});

test('zookeeper registry: with ZooKeeper down at start, registration happens once it comes up', async () => {
  await zk.stop();
  const lines: string[] = [];
  const registry = new ZooKeeperRegistry({ connect: zk.connect, sessionTimeoutMs: 2_000, log: (l) => lines.push(l) });
  try {
    const reg = registry.register('late', '127.0.0.1:7005', data());
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(lines.filter((l) => l.includes('unreachable')).length, 1, 'the outage is logged exactly once');
    await zk.start();
    await reg.registered;
    await waitFor('the node', async () => (await registry.list('late')).length === 1);
  } finally {
    await zk.start();
    await registry.close();
  }
});

test('zookeeper registry: a request queued while disconnected fails when its expired session is abandoned (it never hangs)', async (t) => {
  // node-zookeeper-client keeps unsent requests for a reconnection that an expired session never makes;
  // a registration or watch loop awaiting one would stall for good (seen as a hung outage test).
  const proxy = await startTcpProxy(zk.port);
  const client = createZkClient(`127.0.0.1:${proxy.port}`, { sessionTimeout: 1_000, spinDelay: 100, retries: 0 });
  t.after(async () => { abandonZkClient(client); await proxy.close(); });
  await new Promise<void>((resolve) => { client.once('connected', () => resolve()); client.connect(); });
  const expired = new Promise<void>((resolve) => client.on('state', (state) => {
    if (state.code === ZkState.EXPIRED.code) { abandonZkClient(client); resolve(); }
  }));
  const partition = proxy.partition(2_500);
  await waitFor('the client to see the disconnection', () => client.getState().code === ZkState.DISCONNECTED.code);
  const queued = zkExists(client, '/caskdb');
  await partition;
  await expired;
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 2_000)));
  const outcome = await Promise.race([queued.then(() => 'answered', (error: unknown) => error), hung]);
  clearTimeout(timer);
  assert.equal(zkErrorCode(outcome), ZkCode.sessionExpired, `the queued request settles with SESSION_EXPIRED, got ${String(outcome)}`);
});

test('zookeeper registry: a server that accepts the connection but never answers the handshake is dropped and tried again', async (t) => {
  // The first connection is accepted and then ignored (like a server starting or stopping: the kernel
  // completes TCP from the listen backlog); later ones reach ZooKeeper. node-zookeeper-client alone would
  // wait on the first socket for good.
  const proxy = await startTcpProxy(zk.port, { silentConnections: 1 });
  const registry = new ZooKeeperRegistry({ connect: `127.0.0.1:${proxy.port}`, sessionTimeoutMs: 3_000, operationTimeoutMs: 8_000, log: quiet });
  t.after(async () => { await registry.close(); await proxy.close(); });
  const startedAt = Date.now();
  assert.deepEqual(await registry.list('never-answered'), []);
  assert.ok(proxy.connections() >= 2, `the silent connection was dropped and another made (${proxy.connections()} connections)`);
  const waited = Date.now() - startedAt;
  assert.ok(waited >= 900, `the first connection was given the handshake timeout (answered after ${waited} ms)`);
});

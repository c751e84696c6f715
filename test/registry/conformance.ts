// One conformance suite for every Registry implementation (in-memory and ZooKeeper): registration,
// listing, watching (add, update, remove), session close and expiry, takeover of a stale node, cluster
// isolation, and an outage of the registry. Each test uses its own cluster name so they can share a backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Registry, RegistrationData, ServerRecord } from '../../src/registry/index.js';

export interface RegistryFixture {
  /** A new session on the shared backend. */
  open(): Promise<Registry>;
  /** Forces `session`'s session to expire (its nodes vanish; the implementation re-registers). */
  expire(session: Registry): Promise<void>;
  /** Makes the backend unreachable, then reachable again (for ZooKeeper: stop and restart the server). */
  outage(whileDown: () => Promise<void>): Promise<void>;
}

let clusterSeq = 0;
const uniqueCluster = (): string => `c${process.pid}-${Date.now() % 100000}-${clusterSeq++}`;

export function data(patch: Partial<RegistrationData> = {}): RegistrationData {
  return { weight: 100, role: 'standalone', version: '0.1.0', startedAt: '2026-01-01T00:00:00.000Z', ...patch };
}

export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Collects every list a watch delivers. */
function recorder(): { lists: Array<readonly ServerRecord[]>; last(): readonly ServerRecord[] | undefined; addresses(): string[] } {
  const lists: Array<readonly ServerRecord[]> = [];
  return {
    lists,
    last: () => lists[lists.length - 1],
    addresses: () => (lists[lists.length - 1] ?? []).map((s) => s.address),
  };
}

export function registryConformance(name: string, fixture: () => RegistryFixture): void {
  const sessions: Registry[] = [];
  const open = async (): Promise<Registry> => { const r = await fixture().open(); sessions.push(r); return r; };
  const closeAll = async (): Promise<void> => { await Promise.all(sessions.splice(0).map((s) => s.close())); };

  test(`${name}: a registration appears in list() with its data`, async (t) => {
    t.after(closeAll);
    const server = await open();
    const reader = await open();
    const cluster = uniqueCluster();
    const r = server.register(cluster, '127.0.0.1:7001', data({ weight: 7, role: 'leader' }));
    await r.registered;
    assert.deepEqual(await reader.list(cluster), [{ address: '127.0.0.1:7001', data: data({ weight: 7, role: 'leader' }) }]);
  });

  test(`${name}: list() of a cluster nobody registered in is empty`, async (t) => {
    t.after(closeAll);
    assert.deepEqual(await (await open()).list(uniqueCluster()), []);
  });

  test(`${name}: a watch delivers the current list, then additions, data changes and removals`, async (t) => {
    t.after(closeAll);
    const cluster = uniqueCluster();
    const a = await open();
    const b = await open();
    await a.register(cluster, '127.0.0.1:7001', data()).registered;
    const seen = recorder();
    const watch = (await open()).watch(cluster, (list) => seen.lists.push(list));
    await waitFor('the initial list', () => seen.lists.length === 1);
    assert.deepEqual(seen.addresses(), ['127.0.0.1:7001']);
    assert.deepEqual(watch.current, seen.last());

    const rb = b.register(cluster, '127.0.0.1:7002', data({ weight: -1 }));
    await waitFor('the addition', () => seen.addresses().length === 2);
    assert.deepEqual(seen.last(), [
      { address: '127.0.0.1:7001', data: data() },
      { address: '127.0.0.1:7002', data: data({ weight: -1 }) },
    ]);

    await rb.update({ role: 'leader' });
    await waitFor('the data change', () => seen.last()?.[1]?.data.role === 'leader');
    await rb.update({ role: 'follower' });
    await waitFor('the second data change (watch re-armed)', () => seen.last()?.[1]?.data.role === 'follower');

    await rb.unregister();
    await waitFor('the removal', () => seen.addresses().length === 1);
    assert.deepEqual(seen.addresses(), ['127.0.0.1:7001']);
    watch.close();
  });

  test(`${name}: unregister removes the node at once`, async (t) => {
    t.after(closeAll);
    const cluster = uniqueCluster();
    const s = await open();
    const r = s.register(cluster, '127.0.0.1:7001', data());
    await r.registered;
    await r.unregister();
    assert.deepEqual(await (await open()).list(cluster), []);
  });

  test(`${name}: closing a session removes its registrations and nobody else's`, async (t) => {
    t.after(closeAll);
    const cluster = uniqueCluster();
    const a = await open();
    const b = await open();
    await a.register(cluster, '127.0.0.1:7001', data()).registered;
    await b.register(cluster, '127.0.0.1:7002', data()).registered;
    await a.close();
    assert.deepEqual((await b.list(cluster)).map((s) => s.address), ['127.0.0.1:7002']);
  });

  test(`${name}: clusters are isolated`, async (t) => {
    t.after(closeAll);
    const one = uniqueCluster();
    const two = uniqueCluster();
    const s = await open();
    await s.register(one, '127.0.0.1:7001', data()).registered;
    await s.register(two, '127.0.0.1:7002', data()).registered;
    assert.deepEqual((await s.list(one)).map((x) => x.address), ['127.0.0.1:7001']);
    assert.deepEqual((await s.list(two)).map((x) => x.address), ['127.0.0.1:7002']);
  });

  test(`${name}: a new session takes over the node of its address left by an older session`, async (t) => {
    t.after(closeAll);
    const cluster = uniqueCluster();
    const old = await open();
    await old.register(cluster, '127.0.0.1:7001', data({ startedAt: 'old' })).registered;
    const fresh = await open();
    await fresh.register(cluster, '127.0.0.1:7001', data({ startedAt: 'new' })).registered;
    assert.deepEqual((await fresh.list(cluster)).map((s) => s.data.startedAt), ['new']);
    await old.close();
    assert.deepEqual((await fresh.list(cluster)).map((s) => s.data.startedAt), ['new']);
  });

  test(`${name}: after a session expiry registrations come back and watches keep working`, async (t) => {
    t.after(closeAll);
    const f = fixture();
    const cluster = uniqueCluster();
    const server = await open();
    const reg = server.register(cluster, '127.0.0.1:7001', data());
    await reg.registered;
    const watcher = await open();
    const seen = recorder();
    watcher.watch(cluster, (list) => seen.lists.push(list));
    await waitFor('the initial list', () => seen.addresses().length === 1);

    await f.expire(server);
    await waitFor('the re-registration', async () => (await watcher.list(cluster)).length === 1);
    assert.ok(seen.lists.some((list) => list.length === 0), 'the expired node vanished before it came back');
    await reg.update({ role: 'leader' });
    await waitFor('an update through the new session', () => seen.last()?.[0]?.data.role === 'leader');

    const before = seen.lists.length;
    await f.expire(watcher);
    await server.register(cluster, '127.0.0.1:7002', data()).registered;
    await waitFor('the watcher to see a change after its own expiry', () => seen.lists.length > before && seen.addresses().length === 2);
  });

  test(`${name}: during an outage watches keep the last list; afterwards registrations made meanwhile appear`, async (t) => {
    t.after(closeAll);
    const f = fixture();
    const cluster = uniqueCluster();
    const a = await open();
    await a.register(cluster, '127.0.0.1:7001', data()).registered;
    const seen = recorder();
    const watch = (await open()).watch(cluster, (list) => seen.lists.push(list));
    await waitFor('the initial list', () => seen.addresses().length === 1);
    const b = await open();
    let late: Promise<void> | undefined;
    await f.outage(async () => {
      const reg = b.register(cluster, '127.0.0.1:7002', data());
      late = reg.registered;
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(watch.current?.map((s) => s.address), ['127.0.0.1:7001']);
    });
    await late;
    await waitFor('both servers after the outage', () => seen.addresses().length === 2, 20_000);
    assert.deepEqual(seen.addresses(), ['127.0.0.1:7001', '127.0.0.1:7002']);
  });

  test(`${name}: register rejects bad addresses and cluster names`, async (t) => {
    t.after(closeAll);
    const s = await open();
    assert.throws(() => s.register('x', 'no-port', data()), { code: 'CASKDB_INVALID_ARGUMENT' });
    assert.throws(() => s.register('x', 'a/b:1', data()), { code: 'CASKDB_INVALID_ARGUMENT' });
    assert.throws(() => s.register('a/b', '127.0.0.1:1', data()), { code: 'CASKDB_INVALID_ARGUMENT' });
  });
}

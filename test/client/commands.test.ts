// The client's typed string commands and multi(), through the balancer, against real servers on loopback.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, type CaskClient } from '../../src/client/index.js';
import { direct, startServer, type Backend } from './servers.js';

let backends: Backend[] = [];
let client: CaskClient;
before(async () => {
  backends = await Promise.all([startServer(), startServer(), startServer()]);
  client = createClient({ servers: backends.map((b) => b.address) });
});
after(async () => {
  await client?.close();
  await Promise.all(backends.map((b) => b.stop()));
});

test('get / set / del / exists: a missing key is undefined, not an error', async () => {
  assert.equal(await client.get('cmd:missing'), undefined);
  assert.equal(await client.set('cmd:a', 'one'), true);
  assert.equal(await client.get('cmd:a'), 'one');
  assert.equal(await client.exists('cmd:a'), 1);
  assert.equal(await client.del('cmd:a'), 1);
  assert.equal(await client.get('cmd:a'), undefined);
  assert.equal(await client.exists('cmd:a'), 0);
});

test('set with NX / XX reports whether it stored; getset and getdel return the old value', async () => {
  assert.equal(await client.set('cmd:nx', 'first', { nx: true }), true);
  assert.equal(await client.set('cmd:nx', 'second', { nx: true }), false);
  assert.equal(await client.get('cmd:nx'), 'first');
  assert.equal(await client.set('cmd:xx-missing', 'v', { xx: true }), false);
  assert.equal(await client.set('cmd:nx', 'third', { xx: true }), true);
  assert.equal(await client.getset('cmd:nx', 'fourth'), 'third');
  assert.equal(await client.getdel('cmd:nx'), 'fourth');
  assert.equal(await client.getdel('cmd:nx'), undefined);
  assert.equal(await client.getset('cmd:gs-new', 'v'), undefined);
});

test('incr / incrby / decr / decrby / append / strlen', async () => {
  assert.equal(await client.incr('cmd:n'), 1);
  assert.equal(await client.incrby('cmd:n', 10), 11);
  assert.equal(await client.decr('cmd:n'), 10);
  assert.equal(await client.decrby('cmd:n', 4), 6);
  assert.equal(await client.append('cmd:s', 'ab'), 2);
  assert.equal(await client.append('cmd:s', 'cd'), 4);
  assert.equal(await client.strlen('cmd:s'), 4);
  await assert.rejects(client.incr('cmd:s'), { name: 'ReplyError' });
});

test('every request is accounted once on its server: in flight while sent, ended by reply or error reply', async () => {
  const servedBefore = client.serverStates().reduce((n, s) => n + s.served, 0);
  const pending = [];
  for (let i = 0; i < 200; i++) pending.push(i % 2 === 0 ? client.set(`cmd:acct:${i}`, String(i)) : client.get(`cmd:acct:${i - 1}`));
  assert.equal(client.serverStates().reduce((n, s) => n + s.inFlight, 0), 200, 'all 200 sent at once');
  const replies = await Promise.all(pending);
  assert.deepEqual(replies, Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? true : String(i - 1))));
  assert.equal(await client.set('cmd:acct:text', 'abc'), true);
  await assert.rejects(client.incr('cmd:acct:text'), { name: 'ReplyError' }); // not an integer
  await assert.rejects(client.set('cmd:acct:bad', 'v', { nx: true, xx: true }), { name: 'ReplyError' }); // syntax error
  const states = client.serverStates();
  assert.deepEqual(states.map((s) => s.inFlight), [0, 0, 0]);
  assert.equal(states.reduce((n, s) => n + s.served, 0), servedBefore + 203);
});

test('binary values round-trip through getBuffer', async () => {
  const bytes = Buffer.from([0, 255, 13, 10, 128]);
  await client.set('cmd:bin', bytes);
  assert.deepEqual(await client.getBuffer('cmd:bin'), bytes);
  assert.equal(await client.getBuffer('cmd:bin-missing'), undefined);
});

test('mset / mget go to the server of the first key', async () => {
  // Keys with a hash tag-like common prefix are not special: the first key decides the server.
  await client.mset({ 'cmd:m1': 'x', 'cmd:m2': 'y' });
  assert.deepEqual(await client.mget(['cmd:m1', 'cmd:m2', 'cmd:m-missing']), ['x', 'y', undefined]);
  await client.mset([['cmd:m3', '3']]);
  assert.deepEqual(await client.mget(['cmd:m3']), ['3']);
});

test('with consistent hash (the default) each key lives on exactly one server', async () => {
  const keys = Array.from({ length: 60 }, (_, i) => `cmd:spread:${i}`);
  for (const k of keys) await client.set(k, k);
  const connections = await Promise.all(backends.map((b) => direct(b.address)));
  try {
    const holders = await Promise.all(keys.map(async (k) => (await Promise.all(connections.map((c) => c.exists(k)))).reduce((a, b) => a + b, 0)));
    assert.ok(holders.every((n) => n === 1));
    const perServer = await Promise.all(connections.map(async (c) => (await c.keys('cmd:spread:*')).length));
    assert.ok(perServer.every((n) => n > 0), `spread ${perServer}`);
  } finally {
    for (const c of connections) c.disconnect();
  }
});

test('scanIterator visits every key on every server once', async () => {
  const keys = Array.from({ length: 40 }, (_, i) => `cmd:scan:${i}`);
  for (const k of keys) await client.set(k, '1');
  const found: string[] = [];
  for await (const k of client.scanIterator({ match: 'cmd:scan:*', count: 7 })) found.push(k);
  assert.deepEqual(found.sort(), keys.slice().sort());
});

test('multi() runs a transaction on one server and returns results in order', async () => {
  const results = await client.multi().set('cmd:tx', '1').incr('cmd:tx').get('cmd:tx').exec();
  assert.deepEqual(results, ['OK', 2, '2']);
  assert.deepEqual(await client.multi().exec(), []);
});

test('ping and raw command()', async () => {
  assert.equal(await client.ping(), 'PONG');
  assert.equal(await client.command('SET', ['cmd:raw', 'r'], { write: true }), 'OK');
  assert.equal(await client.command('GET', ['cmd:raw'], { write: false }), 'r');
});

test('bad options are typed errors', () => {
  assert.throws(() => createClient({ servers: [] }), { code: 'CASKDB_INVALID_OPTION' });
  assert.throws(() => createClient({ servers: ['nope'] }), { code: 'CASKDB_INVALID_OPTION' });
  assert.throws(() => createClient({ servers: ['127.0.0.1:1'] }, { balancer: 'fastest' as 'random' }), { code: 'CASKDB_INVALID_OPTION' });
});

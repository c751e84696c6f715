// Every command of the server against the real process, through ioredis and the raw protocol: Redis
// semantics and Redis's error wording, pipelining in order, binary safety, RESP3 via HELLO 3.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RawClient, resp, startServerWithClient, stopServerWithClient, type RunningServer } from './harness.js';

let server: RunningServer;
let redis: Redis;

before(async () => {
  ({ server, redis } = await startServerWithClient(['--sync', 'everysec']));
});

after(() => stopServerWithClient({ server, redis }));

async function rejects(p: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('connection commands', () => {
  test('PING, ECHO, SELECT 0, TIME', async () => {
    assert.equal(await redis.ping(), 'PONG');
    assert.equal(await redis.ping('hi'), 'hi');
    assert.equal(await redis.echo('x y'), 'x y');
    assert.equal(await redis.select(0), 'OK');
    await rejects(redis.select(1), 'ERR DB index is out of range');
    const [s, us] = (await redis.time()).map(Number) as [number, number];
    assert.ok(Math.abs(Number(s) - Date.now() / 1000) < 5);
    assert.ok(Number(us) >= 0 && Number(us) < 1e6);
  });

  test('unknown commands and wrong arity use Redis wording', async () => {
    await rejects(redis.call('nosuch', 'a', 'b'), "ERR unknown command 'nosuch', with args beginning with: 'a' 'b' ");
    await rejects(redis.call('get'), "ERR wrong number of arguments for 'get' command");
    await rejects(redis.call('client', 'nosuch'), "ERR unknown subcommand 'nosuch'. Try CLIENT HELP.");
  });

  test('CLIENT SETNAME/GETNAME/ID/LIST/INFO', async () => {
    assert.equal(await redis.client('SETNAME', 'tester'), 'OK');
    assert.equal(await redis.client('GETNAME'), 'tester');
    const id = (await redis.client('ID')) as number;
    assert.ok(id > 0);
    const list = (await redis.client('LIST')) as string;
    assert.match(list, new RegExp(`id=${id} .*name=tester`));
    assert.match((await redis.call('client', 'info')) as string, /^id=\d+ addr=127\.0\.0\.1:\d+/);
    await rejects(redis.client('SETNAME', 'a b'), 'ERR Client names cannot contain spaces, newlines or special characters.');
  });

  test('CLIENT KILL by address (old form) and by filters; a client killing itself gets its reply first', async () => {
    const victim = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const killer = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await victim.connect();
      await killer.connect();
      const closed = (r: Redis) => new Promise<void>((resolve) => r.once('end', () => resolve()));
      const victimId = (await victim.client('ID')) as number;
      const info = (await victim.call('client', 'info')) as string;
      const addr = /addr=(\S+)/.exec(info)![1]!;
      const laddr = /laddr=(\S+)/.exec(info)![1]!;
      await rejects(killer.call('client', 'kill', '127.0.0.1:1'), 'ERR No such client');
      await rejects(killer.call('client', 'kill', 'id', '0'), 'ERR client-id should be greater than 0');
      await rejects(killer.call('client', 'kill', 'type', 'weird'), "ERR Unknown client type 'weird'");
      await rejects(killer.call('client', 'kill', 'user', 'nobody'), "ERR No such user 'nobody'");
      await rejects(killer.call('client', 'kill', 'id', '5', 'skipme'), 'ERR syntax error');
      await rejects(killer.call('client', 'kill', 'color', 'red'), 'ERR syntax error');
      // Filters that match no one close no one.
      assert.equal(await killer.call('client', 'kill', 'type', 'pubsub'), 0);
      assert.equal(await killer.call('client', 'kill', 'addr', addr, 'laddr', '127.0.0.1:1'), 0);
      assert.equal(await killer.call('client', 'kill', 'id', String(victimId), 'maxage', '3600'), 0);
      assert.equal(await victim.ping(), 'PONG');
      // ID + LADDR + TYPE normal + USER default: exactly the victim.
      let ended = closed(victim);
      assert.equal(await killer.call('client', 'kill', 'id', String(victimId), 'laddr', laddr, 'type', 'normal', 'user', 'default'), 1);
      await ended;
      assert.doesNotMatch((await killer.client('LIST')) as string, new RegExp(`id=${victimId} `));
      // The old form by address.
      const second = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      await second.connect();
      const secondAddr = /addr=(\S+)/.exec((await second.call('client', 'info')) as string)![1]!;
      ended = closed(second);
      assert.equal(await killer.call('client', 'kill', secondAddr), 'OK');
      await ended;
      // SKIPME yes (the default) spares the caller; SKIPME no lets it close itself after this reply.
      const killerId = (await killer.client('ID')) as number;
      assert.equal(await killer.call('client', 'kill', 'id', String(killerId)), 0);
      ended = closed(killer);
      assert.equal(await killer.call('client', 'kill', 'id', String(killerId), 'skipme', 'no'), 1);
      await ended;
      assert.equal(await redis.ping(), 'PONG');
    } finally {
      victim.disconnect();
      killer.disconnect();
    }
  });

  test('COMMAND COUNT, INFO and DOCS describe the commands', async () => {
    const count = (await redis.call('command', 'count')) as number;
    assert.ok(count > 50);
    const [info] = (await redis.call('command', 'info', 'get')) as unknown[][];
    assert.deepEqual(info!.slice(0, 6), ['get', 2, ['readonly', 'fast'], 1, 1, 1]);
    const docs = (await redis.call('command', 'docs', 'set')) as unknown[];
    assert.equal(docs[0], 'set');
  });

  test('HELLO 3 switches to RESP3: maps and nulls', async () => {
    const c = await RawClient.connect(server.port);
    try {
      c.send(resp('HELLO', '3'));
      const hello = await c.until((t) => t.includes('caskdb_mode'));
      assert.match(hello, /^%9\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n/);
      assert.match(hello, /\$5\r\nproto\r\n:3\r\n/);
      c.send(resp('GET', 'hello3-missing'));
      assert.ok((await c.until((t) => t.endsWith('_\r\n'))).endsWith('_\r\n'));
      c.send(resp('HELLO', '4'));
      assert.ok((await c.until((t) => t.includes('NOPROTO'))).includes('-NOPROTO unsupported protocol version\r\n'));
    } finally {
      c.close();
    }
  });

  test('RESET leaves MULTI and WATCH, MONITOR, RESP3 and the client name, as Redis does (replies as Redis 7 gave them)', async () => {
    const c = await RawClient.connect(server.port);
    try {
      c.send('CLIENT SETNAME before\r\nWATCH w\r\nMULTI\r\nSET reset-x 1\r\nRESET\r\nEXEC\r\nCLIENT GETNAME\r\nGET reset-x\r\n');
      assert.equal(await c.until((t) => t.split('\r\n').length > 8), '+OK\r\n+OK\r\n+OK\r\n+QUEUED\r\n+RESET\r\n-ERR EXEC without MULTI\r\n$-1\r\n$-1\r\n');
      c.send('HELLO 3\r\n');
      await c.until((t) => t.includes('caskdb_mode'));
      c.send('RESET\r\nGET nokey\r\nMONITOR\r\nRESET\r\nGET nokey\r\n');
      const tail = await c.until((t) => t.endsWith('+RESET\r\n$-1\r\n'));
      // RESP2 again ($-1, not _), and the monitor saw neither its own RESET nor anything after it.
      assert.ok(tail.endsWith('standalone\r\n+RESET\r\n$-1\r\n+OK\r\n+RESET\r\n$-1\r\n'), JSON.stringify(tail.slice(-80)));
    } finally {
      c.close();
    }
  });

  test('ROLE: a master with no replicas, as a standalone Redis answers', async () => {
    assert.deepEqual(await redis.call('role'), ['master', 0, []]);
  });

  test('AUTH and HELLO AUTH behave as a Redis without passwords: user default with any password, no other user', async () => {
    // A client configured with the default user and a password connects, as it does to such a Redis.
    const withPassword = new Redis({ port: server.port, host: '127.0.0.1', username: 'default', password: 'anything', lazyConnect: true });
    try {
      await withPassword.connect();
      assert.equal(await withPassword.set('auth-ok', '1'), 'OK');
    } finally {
      withPassword.disconnect();
    }
    await rejects(redis.call('auth', 'alice', 'secret'), 'WRONGPASS invalid username-password pair or user is disabled.');
    await rejects(redis.call('auth', 'secret'), /^ERR AUTH <password> called without any password configured for the default user/);
    await rejects(redis.call('auth', 'a', 'b', 'c'), 'ERR syntax error');
    assert.equal(await redis.call('auth', 'default', 'whatever'), 'OK');
    const c = await RawClient.connect(server.port);
    try {
      c.send(resp('HELLO', '2', 'AUTH', 'alice', 'x', 'SETNAME', 'refused'));
      assert.equal(await c.until((t) => t.endsWith('\r\n')), '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
      c.send(resp('CLIENT', 'GETNAME'));
      assert.ok((await c.until((t) => t.endsWith('$-1\r\n'))).endsWith('$-1\r\n'), 'a refused HELLO names no client');
      c.send(resp('HELLO', '3', 'AUTH', 'default', 'x', 'SETNAME', 'named'));
      assert.match(await c.until((t) => t.includes('caskdb_mode')), /\$5\r\nproto\r\n:3\r\n/);
      c.send(resp('CLIENT', 'GETNAME'));
      assert.ok((await c.until((t) => t.endsWith('$5\r\nnamed\r\n'))).endsWith('$5\r\nnamed\r\n'));
    } finally {
      c.close();
    }
  });
});

describe('string commands', () => {
  test('GET SET with NX XX GET, SETNX, GETSET, GETDEL', async () => {
    assert.equal(await redis.set('s1', 'v1'), 'OK');
    assert.equal(await redis.get('s1'), 'v1');
    assert.equal(await redis.set('s1', 'v2', 'NX'), null);
    assert.equal(await redis.set('s1', 'v2', 'XX'), 'OK');
    assert.equal(await redis.set('s-missing', 'v', 'XX'), null);
    assert.equal(await redis.set('s1', 'v3', 'GET'), 'v2');
    assert.equal(await redis.set('s1', 'v4', 'NX', 'GET'), 'v3');
    assert.equal(await redis.get('s1'), 'v3');
    await rejects(redis.call('set', 's1', 'v', 'NX', 'XX'), 'ERR syntax error');
    await rejects(redis.call('set', 's1', 'v', 'BOGUS'), 'ERR syntax error');
    assert.equal(await redis.setnx('s2', 'a'), 1);
    assert.equal(await redis.setnx('s2', 'b'), 0);
    assert.equal(await redis.getset('s2', 'c'), 'a');
    assert.equal(await redis.getdel('s2'), 'c');
    assert.equal(await redis.getdel('s2'), null);
    assert.equal(await redis.exists('s2'), 0);
  });

  test('expiry is refused with a clear error', async () => {
    await rejects(redis.set('e1', 'v', 'EX', 10), /^ERR expiry is not supported by caskdb/);
    await rejects(redis.expire('s1', 10), /^ERR expiry is not supported by caskdb: keys never expire \('expire'/);
    await rejects(redis.ttl('s1'), /^ERR expiry is not supported/);
    await rejects(redis.setex('e1', 10, 'v'), /^ERR expiry is not supported/);
    assert.equal(await redis.exists('e1'), 0);
  });

  test('MGET MSET MSETNX', async () => {
    assert.equal(await redis.mset('m1', '1', 'm2', '2'), 'OK');
    assert.deepEqual(await redis.mget('m1', 'm2', 'm3'), ['1', '2', null]);
    assert.equal(await redis.msetnx('m3', '3', 'm1', 'x'), 0);
    assert.equal(await redis.exists('m3'), 0);
    assert.equal(await redis.msetnx('m3', '3', 'm4', '4'), 1);
    await rejects(redis.call('mset', 'a', 'b', 'c'), "ERR wrong number of arguments for 'mset' command");
  });

  test('APPEND STRLEN GETRANGE SETRANGE', async () => {
    assert.equal(await redis.append('a1', 'Hello'), 5);
    assert.equal(await redis.append('a1', ' World'), 11);
    assert.equal(await redis.strlen('a1'), 11);
    assert.equal(await redis.strlen('a-missing'), 0);
    assert.equal(await redis.getrange('a1', 0, 4), 'Hello');
    assert.equal(await redis.getrange('a1', -5, -1), 'World');
    assert.equal(await redis.getrange('a1', 5, 2), '');
    assert.equal(await redis.getrange('a1', 0, 100), 'Hello World');
    assert.equal(await redis.setrange('a1', 6, 'Redis'), 11);
    assert.equal(await redis.get('a1'), 'Hello Redis');
    assert.equal(await redis.setrange('a2', 3, 'x'), 4);
    assert.equal(await redis.get('a2'), '\x00\x00\x00x');
    await rejects(redis.setrange('a2', -1, 'x'), 'ERR offset is out of range');
    await rejects(redis.setrange('a2', 536870912, 'x'), 'ERR string exceeds maximum allowed size (proto-max-bulk-len)');
  });

  test('INCR DECR INCRBY DECRBY INCRBYFLOAT', async () => {
    assert.equal(await redis.incr('n1'), 1);
    assert.equal(await redis.incrby('n1', 41), 42);
    assert.equal(await redis.decr('n1'), 41);
    assert.equal(await redis.decrby('n1', 50), -9);
    await redis.set('n2', '9223372036854775807');
    await rejects(redis.incr('n2'), 'ERR increment or decrement would overflow');
    await redis.set('n3', 'abc');
    await rejects(redis.incr('n3'), 'ERR value is not an integer or out of range');
    await redis.set('n3', ' 1');
    await rejects(redis.incr('n3'), 'ERR value is not an integer or out of range');
    await rejects(redis.incrby('n1', 'x' as unknown as number), 'ERR value is not an integer or out of range');
    await redis.set('f1', '10.5');
    assert.equal(await redis.incrbyfloat('f1', '0.1'), '10.6');
    await redis.set('f2', '0.1');
    assert.equal(await redis.incrbyfloat('f2', '0.2'), '0.3');
    assert.equal(await redis.incrbyfloat('f3', '5.0e3'), '5000');
    await rejects(redis.incrbyfloat('f1', 'x' as unknown as number), 'ERR value is not a valid float');
    await rejects(redis.incrbyfloat('n3', '1'), 'ERR value is not a valid float');
  });

  test('binary-safe keys and values', async () => {
    const key = Buffer.from([0, 1, 2, 255, 13, 10, 0]);
    const value = Buffer.alloc(100_000);
    for (let i = 0; i < value.length; i++) value[i] = (i * 7) % 256;
    assert.equal(await redis.set(key, value), 'OK');
    assert.ok((await redis.getBuffer(key))!.equals(value));
    assert.equal(await redis.strlen(key), value.length);
    assert.equal(await redis.del(key), 1);
  });

  test('the empty key is an ordinary key, as in Redis', async () => {
    assert.equal(await redis.set('', 'empty'), 'OK');
    assert.equal(await redis.get(''), 'empty');
    assert.equal(await redis.exists(''), 1);
    assert.equal(await redis.append('', '!'), 6);
    assert.ok((await redis.keys('*')).includes(''));
    assert.equal(await redis.del(''), 1);
    assert.equal(await redis.get(''), null);
  });

  test('a write naming a key over 64 KiB is an error reply and writes nothing', async () => {
    const long = 'k'.repeat(64 * 1024 + 1);
    const message = 'ERR key of 65537 bytes exceeds the key limit of 65536 bytes';
    await rejects(redis.set(long, 'v'), message);
    await rejects(redis.mset('short-ok', '1', long, '2'), message);
    await rejects(redis.del(long), message);
    assert.equal(await redis.get('short-ok'), null);
    assert.equal(await redis.get(long), null, 'a read of a long key is just a miss');
  });
});

describe('keyspace commands', () => {
  test('DEL UNLINK EXISTS TYPE', async () => {
    await redis.mset('k1', 'a', 'k2', 'b', 'k3', 'c');
    assert.equal(await redis.exists('k1', 'k1', 'k2', 'nope'), 3);
    assert.equal(await redis.type('k1'), 'string');
    assert.equal(await redis.type('nope'), 'none');
    assert.equal(await redis.del('k1', 'k1', 'nope'), 1);
    assert.equal(await redis.unlink('k2', 'k3'), 2);
  });

  test('RENAME RENAMENX', async () => {
    await redis.set('r1', 'v');
    assert.equal(await redis.rename('r1', 'r2'), 'OK');
    assert.equal(await redis.get('r2'), 'v');
    assert.equal(await redis.exists('r1'), 0);
    await rejects(redis.rename('r1', 'r3'), 'ERR no such key');
    await redis.set('r3', 'w');
    assert.equal(await redis.renamenx('r2', 'r3'), 0);
    assert.equal(await redis.renamenx('r2', 'r4'), 1);
    assert.equal(await redis.get('r4'), 'v');
  });

  test('COPY with REPLACE and DB 0; TOUCH counts existing keys', async () => {
    await redis.set('c1', 'original');
    assert.equal(await redis.copy('c1', 'c2'), 1);
    assert.equal(await redis.get('c2'), 'original');
    assert.equal(await redis.get('c1'), 'original');
    await redis.set('c1', 'changed');
    assert.equal(await redis.copy('c1', 'c2'), 0, 'an existing destination is kept without REPLACE');
    assert.equal(await redis.get('c2'), 'original');
    assert.equal(await redis.call('copy', 'c1', 'c2', 'REPLACE'), 1);
    assert.equal(await redis.get('c2'), 'changed');
    assert.equal(await redis.copy('c-missing', 'c3'), 0);
    assert.equal(await redis.exists('c3'), 0);
    assert.equal(await redis.call('copy', 'c1', 'c3', 'DB', '0'), 1);
    await rejects(redis.call('copy', 'c1', 'c4', 'DB', '1'), 'ERR DB index is out of range');
    await rejects(redis.call('copy', 'c1', 'c4', 'DB', 'x'), 'ERR value is not an integer or out of range');
    await rejects(redis.call('copy', 'c1', 'c4', 'SOMETHING'), 'ERR syntax error');
    await rejects(redis.call('copy', 'c1', 'c1'), 'ERR source and destination objects are the same');
    assert.equal(await redis.exists('c4'), 0);
    // Inside MULTI, COPY sees the transaction's own earlier writes.
    assert.deepEqual(await redis.multi().set('c5', 'in-tx').copy('c5', 'c6').get('c6').exec(), [[null, 'OK'], [null, 1], [null, 'in-tx']]);
    assert.equal(await redis.touch('c1', 'c2', 'c-missing', 'c1'), 3);
  });

  test('OBJECT ENCODING names what Redis would use; REFCOUNT; FREQ and IDLETIME say they are not tracked', async () => {
    await redis.mset('o:int', '12345', 'o:notint', '012', 'o:short', 'hello', 'o:long', 'x'.repeat(45));
    assert.equal(await redis.object('ENCODING', 'o:int'), 'int');
    assert.equal(await redis.object('ENCODING', 'o:notint'), 'embstr');
    assert.equal(await redis.object('ENCODING', 'o:short'), 'embstr');
    assert.equal(await redis.object('ENCODING', 'o:long'), 'raw');
    assert.equal(await redis.object('ENCODING', 'o:missing'), null);
    assert.equal(await redis.object('REFCOUNT', 'o:int'), 1);
    await rejects(redis.object('FREQ', 'o:int'), /^ERR An LFU maxmemory policy is not selected/);
    await rejects(redis.object('IDLETIME', 'o:int'), /^ERR caskdb keeps no access times/);
    await rejects(redis.call('object', 'nosuch', 'o:int'), "ERR unknown subcommand 'nosuch'. Try OBJECT HELP.");
    await rejects(redis.call('object', 'encoding'), "ERR wrong number of arguments for 'object|encoding' command");
    assert.ok(((await redis.call('object', 'help')) as string[]).some((line) => line.startsWith('ENCODING')));
  });

  test('KEYS with glob patterns, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL', async () => {
    await redis.flushdb();
    assert.equal(await redis.dbsize(), 0);
    assert.equal(await redis.randomkey(), null);
    await redis.mset('user:1', 'a', 'user:2', 'b', 'user:10', 'c', 'other', 'd');
    assert.deepEqual((await redis.keys('user:*')).sort(), ['user:1', 'user:10', 'user:2']);
    assert.deepEqual(await redis.keys('user:?'), ['user:1', 'user:2']);
    assert.deepEqual(await redis.keys('user:[^1]'), ['user:2']);
    assert.deepEqual(await redis.keys('*ther'), ['other']);
    assert.equal(await redis.dbsize(), 4);
    assert.ok(['user:1', 'user:2', 'user:10', 'other'].includes((await redis.randomkey())!));
    assert.equal(await redis.flushall(), 'OK');
    assert.equal(await redis.dbsize(), 0);
  });

  test('SCAN returns every key exactly once even while keys are written', async () => {
    await redis.flushdb();
    const initial = Array.from({ length: 500 }, (_, i) => `scan:${String(i).padStart(4, '0')}`);
    await redis.mset(...initial.flatMap((k) => [k, 'v']));
    const seen: string[] = [];
    let cursor = '0';
    let round = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 37);
      seen.push(...keys);
      cursor = next;
      // Writes between calls: new keys and deletions of keys not yet returned must not disturb the scan.
      await redis.set(`scan:new:${round++}`, 'v');
    } while (cursor !== '0');
    const initialSeen = seen.filter((k) => !k.startsWith('scan:new'));
    assert.deepEqual(initialSeen, initial);
    assert.equal(new Set(seen).size, seen.length);
    const [, matched] = await redis.scan('0', 'MATCH', 'scan:000*', 'COUNT', 1000);
    assert.equal(matched.length, 10);
    await rejects(redis.scan('12345678'), 'ERR invalid cursor');
  });
});

describe('transactions', () => {
  test('MULTI/EXEC applies queued commands in order, reads see earlier writes', async () => {
    const r = await redis.multi().set('t1', '1').incr('t1').get('t1').exec();
    assert.deepEqual(r, [[null, 'OK'], [null, 2], [null, '2']]);
  });

  test('a runtime error inside EXEC fails only that command', async () => {
    await redis.set('t2', 'abc');
    const r = await redis.multi().incr('t2').set('t3', 'x').exec();
    assert.match(String(r![0]![0]), /value is not an integer/);
    assert.deepEqual(r![1], [null, 'OK']);
  });

  test('queue-time errors abort EXEC with EXECABORT', async () => {
    const c = await RawClient.connect(server.port);
    try {
      c.send('MULTI\r\nSET t4 v\r\nSET t4\r\nNOSUCH\r\nEXEC\r\nGET t4\r\nEXEC\r\nDISCARD\r\n');
      const text = await c.until((t) => t.includes('DISCARD without'));
      assert.equal(
        text,
        "+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'set' command\r\n-ERR unknown command 'NOSUCH', with args beginning with: \r\n" +
          '-EXECABORT Transaction discarded because of previous errors.\r\n$-1\r\n-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n',
      );
    } finally {
      c.close();
    }
  });

  test('nested MULTI, WATCH inside MULTI, DISCARD', async () => {
    const c = await RawClient.connect(server.port);
    try {
      c.send('MULTI\r\nMULTI\r\nWATCH x\r\nSET t5 v\r\nDISCARD\r\nGET t5\r\n');
      const text = await c.until((t) => t.endsWith('$-1\r\n'));
      assert.equal(text, '+OK\r\n-ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n+QUEUED\r\n+OK\r\n$-1\r\n');
    } finally {
      c.close();
    }
  });

  test('WATCH aborts EXEC when another client changed the key, not otherwise', async () => {
    const other = new Redis({ port: server.port, host: '127.0.0.1' });
    try {
      await redis.set('w1', '1');
      await redis.watch('w1');
      await other.set('w1', '2');
      assert.equal(await redis.multi().set('w1', '3').exec(), null);
      assert.equal(await redis.get('w1'), '2');
      await redis.watch('w1');
      await other.set('w-other', 'x');
      assert.deepEqual(await redis.multi().set('w1', '4').exec(), [[null, 'OK']]);
      await redis.watch('w1');
      await redis.unwatch();
      await other.set('w1', '5');
      assert.deepEqual(await redis.multi().get('w1').exec(), [[null, '5']]);
      await redis.watch('w1');
      await other.flushdb();
      assert.equal(await redis.multi().set('w1', '6').exec(), null);
    } finally {
      other.disconnect();
    }
  });

  test('connection commands inside MULTI run in order with data commands', async () => {
    const r = await redis.multi().ping().set('t6', 'x').echo('e').get('t6').exec();
    assert.deepEqual(r, [[null, 'PONG'], [null, 'OK'], [null, 'e'], [null, 'x']]);
  });
});

describe('server commands', () => {
  test('INFO has the Redis sections and a caskdb section', async () => {
    await redis.set('i1', 'v');
    const info = await redis.info();
    for (const section of ['# Server', '# Clients', '# Persistence', '# Stats', '# Keyspace', '# Caskdb']) assert.ok(info.includes(section), section);
    assert.match(info, /redis_version:7\./);
    assert.match(info, /db0:keys=\d+,expires=0/);
    for (const field of ['data_files', 'disk_bytes', 'reclaimable_bytes', 'index_bytes_per_key', 'merge_in_progress']) {
      assert.match(info, new RegExp(`^${field}:\\d`, 'm'), field);
    }
    const only = await redis.info('caskdb');
    assert.ok(only.startsWith('# Caskdb\r\n'));
    assert.ok(!only.includes('# Server'));
  });

  test('the value cache (32 MiB by default) answers GETs of values just written, as INFO counts', async () => {
    const field = (info: string, name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1]);
    const before = await redis.info('caskdb');
    assert.equal(field(before, 'value_cache_bytes'), 32 * 1024 * 1024);
    assert.deepEqual(await redis.config('GET', 'value-cache-bytes'), ['value-cache-bytes', String(32 * 1024 * 1024)]);
    const value = 'x'.repeat(300);
    for (let i = 0; i < 20; i++) await redis.set(`vc${i}`, `${i}:${value}`);
    for (let i = 0; i < 20; i++) assert.equal(await redis.get(`vc${i}`), `${i}:${value}`);
    const after = await redis.info('caskdb');
    assert.equal(field(after, 'value_cache_hits') - field(before, 'value_cache_hits'), 20, after);
    assert.ok(field(after, 'value_cache_used_bytes') >= 20 * 300);
  });

  test('CONFIG GET and SET for the settable subset', async () => {
    assert.deepEqual(await redis.config('GET', 'maxclients'), ['maxclients', '10000']);
    // The harness starts the server with --port 0 (any free port): CONFIG GET shows the configured value.
    assert.deepEqual(await redis.config('GET', 'port'), ['port', '0']);
    assert.equal(await redis.config('SET', 'timeout', '100'), 'OK');
    assert.deepEqual(await redis.config('GET', 'timeout'), ['timeout', '100']);
    await redis.config('SET', 'timeout', '0');
    await rejects(redis.config('SET', 'port', '1'), "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config");
    await rejects(redis.config('SET', 'nosuch', '1'), "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'");
    await rejects(redis.config('SET', 'maxclients', 'x'), /^ERR CONFIG SET failed \(possibly related to argument 'maxclients'\)/);
    const proto = (await redis.config('GET', 'proto-*')) as string[];
    assert.deepEqual(proto.filter((_, i) => i % 2 === 0).sort(), ['proto-max-bulk-len', 'proto-max-multibulk-len']);
  });

  test('MEMORY USAGE: the key\'s record bytes plus its share of the index; nil for a missing key', async () => {
    const field = (info: string, name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
    await redis.set('mem:small', 'v');
    await redis.set('mem:big', 'x'.repeat(70_000));
    const perKey = field(await redis.info('caskdb'), 'index_bytes_per_key');
    assert.ok(perKey > 0);
    // Record = CRC (4) + type (1) + zigzag varint key and value lengths + disk key (seq 0: 1 byte + key) + value.
    const small = (await redis.call('memory', 'usage', 'mem:small')) as number;
    const big = (await redis.call('memory', 'usage', 'mem:big', 'SAMPLES', '5')) as number;
    const smallRecord = 4 + 1 + 1 + 1 + (1 + 'mem:small'.length) + 1;
    const bigRecord = 4 + 1 + 1 + 3 + (1 + 'mem:big'.length) + 70_000;
    assert.equal(big - small, bigRecord - smallRecord);
    // INFO shows the index share to one decimal, MEMORY USAGE rounds it to whole bytes.
    assert.ok(Math.abs(small - smallRecord - perKey) <= 0.55, `${small} − ${smallRecord} is not ≈ ${perKey}`);
    assert.equal(await redis.call('memory', 'usage', 'mem:none'), null);
    await rejects(redis.call('memory', 'usage'), "ERR wrong number of arguments for 'memory|usage' command");
    await rejects(redis.call('memory', 'usage', 'mem:small', 'samples', 'x'), 'ERR value is not an integer or out of range');
    await rejects(redis.call('memory', 'usage', 'mem:small', 'nosuch', '1'), 'ERR syntax error');
    await rejects(redis.call('memory', 'doctor'), "ERR unknown subcommand 'doctor'. Try MEMORY HELP.");
    assert.ok(((await redis.call('memory', 'help')) as string[]).some((line) => line.startsWith('USAGE')));
  });

  test('SAVE, BGSAVE, LASTSAVE, DBSIZE', async () => {
    const info = (await redis.info('persistence')) as string;
    const startedAt = Number(/rdb_last_save_time:(\d+)/.exec(info)![1]);
    assert.equal(await redis.lastsave(), startedAt, 'before any SAVE, LASTSAVE is the start time');
    assert.ok(startedAt <= Date.now() / 1000 && startedAt > Date.now() / 1000 - 600);
    // LASTSAVE has whole-second resolution: wait for the next second so the SAVE is seen to move it.
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await redis.save(), 'OK');
    const saved = await redis.lastsave();
    assert.ok(saved > startedAt && saved <= Math.ceil(Date.now() / 1000), `LASTSAVE ${saved} moved past ${startedAt}`);
    assert.equal(await redis.bgsave(), 'Background saving started');
    assert.equal(await redis.call('bgsave', 'schedule'), 'Background saving started');
    await rejects(redis.call('bgsave', 'now'), 'ERR syntax error');
    assert.ok((await redis.dbsize()) > 0);
  });

  test('BGREWRITEAOF runs a merge that gives back reclaimable bytes', async () => {
    for (let i = 0; i < 200; i++) await redis.set('merge:k', `value ${i}`);
    const field = (info: string, name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1]);
    const before = field(await redis.info('caskdb'), 'reclaimable_bytes');
    assert.ok(before > 0);
    assert.equal(await redis.bgrewriteaof(), 'Background append only file rewriting started');
    let info = '';
    for (let i = 0; i < 200; i++) {
      info = await redis.info('caskdb');
      if (field(info, 'merge_in_progress') === 0 && field(info, 'reclaimable_bytes') < before) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(field(info, 'reclaimable_bytes') < before, info);
    assert.equal(await redis.get('merge:k'), 'value 199');
  });
});

describe('protocol', () => {
  test('a pipeline of 10 000 commands is answered in order', async () => {
    const p = redis.pipeline();
    for (let i = 0; i < 10_000; i++) {
      if (i % 3 === 0) p.set(`p:${i}`, String(i));
      else if (i % 3 === 1) p.get(`p:${i - 1}`);
      else p.incr('p:counter');
    }
    const results = (await p.exec())!;
    let counter = 0;
    results.forEach(([err, value], i) => {
      assert.equal(err, null);
      if (i % 3 === 0) assert.equal(value, 'OK');
      else if (i % 3 === 1) assert.equal(value, String(i - 1));
      else assert.equal(value, ++counter);
    });
  });

  test('inline commands (telnet style) work and can be mixed with RESP', async () => {
    const c = await RawClient.connect(server.port);
    try {
      c.send('SET inline "hello world"\r\nGET inline\r\n');
      c.send(resp('STRLEN', 'inline'));
      c.send('PING\n');
      const text = await c.until((t) => t.endsWith('+PONG\r\n'));
      assert.equal(text, '+OK\r\n$11\r\nhello world\r\n:11\r\n+PONG\r\n');
    } finally {
      c.close();
    }
  });

  test('a command split into single bytes is still parsed', async () => {
    const c = await RawClient.connect(server.port);
    try {
      const frame = resp('SET', 'split', 'value');
      for (const b of frame) {
        c.send(Buffer.from([b]));
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(await c.until((t) => t.length >= 5), '+OK\r\n');
    } finally {
      c.close();
    }
  });

  test('a protocol error gets a Redis error reply and the connection is closed', async () => {
    const c = await RawClient.connect(server.port);
    c.send('PING\r\n*1\r\n$x\r\n');
    assert.ok(await c.waitClosed());
    assert.equal(c.text(), '+PONG\r\n-ERR Protocol error: invalid bulk length\r\n');
    assert.equal(await redis.ping(), 'PONG');
  });

  test('QUIT answers OK and closes after earlier replies', async () => {
    const c = await RawClient.connect(server.port);
    c.send('SET q 1\r\nQUIT\r\nGET q\r\n');
    assert.ok(await c.waitClosed());
    assert.equal(c.text(), '+OK\r\n+OK\r\n');
  });
});

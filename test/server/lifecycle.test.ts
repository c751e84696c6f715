// The server as a process: clean shutdown on SIGTERM and SHUTDOWN (exit 0), data kept across restarts,
// MULTI/EXEC atomic across SIGKILL, a second server on the same directory refused, bad configuration
// refused at start, and the stock redis-cli / redis-benchmark working against it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { runCaskdb } from '../support/cli.js';
import { ensureRedisTools, redisCli, removeDir, startServer, tempDir } from './harness.js';

test('SIGTERM finishes in-flight writes, releases the directory, exits 0; a restart keeps the data', async () => {
  const dir = join(tempDir(), 'data');
  const first = await startServer(['--sync', 'always'], { dir });
  try {
    const r = new Redis({ port: first.port, host: '127.0.0.1' });
    const p = r.pipeline();
    for (let i = 0; i < 2000; i++) p.set(`k${i}`, `v${i}`);
    await p.exec();
    r.disconnect();
    assert.equal(await first.stop(), 0);
    assert.match(first.stderr(), /"msg":"stopped"/);
  } finally {
    await first.kill();
  }
  const second = await startServer([], { dir });
  try {
    assert.match(second.stderr(), /keys=2000/);
    const r = new Redis({ port: second.port, host: '127.0.0.1' });
    assert.equal(await r.get('k1999'), 'v1999');
    assert.equal(await r.dbsize(), 2000);
    r.disconnect();
    // SHUTDOWN from a client closes its connection and stops the server with exit code 0.
    redisCli(second.port, ['shutdown']);
    assert.equal(await second.exited, 0);
  } finally {
    await second.kill();
    removeDir(dir);
  }
});

test('a second server on the same directory fails fast with a clear message', async () => {
  const first = await startServer();
  try {
    const started = Date.now();
    const second = await runCaskdb(['server', '--dir', first.dir, '--port', '0']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /directory is locked/);
    const took = Date.now() - started;
    assert.ok(took < 10_000, `took ${took} ms`);
    const r = new Redis({ port: first.port, host: '127.0.0.1' });
    assert.equal(await r.ping(), 'PONG');
    r.disconnect();
  } finally {
    await first.stop();
    removeDir(first.dir);
  }
});

test('MULTI/EXEC is atomic across SIGKILL: no transaction is half applied, none acknowledged is lost', async () => {
  const dir = join(tempDir(), 'data');
  const server = await startServer(['--sync', 'everysec'], { dir });
  const keys = Array.from({ length: 40 }, (_, i) => `atomic:${i}`);
  let acknowledged = 0;
  const clients = Array.from({ length: 4 }, () => new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null }));
  for (const c of clients) c.on('error', () => undefined); // the kill resets their connections
  try {
    let stop = false;
    const workers = clients.map(async (c, w) => {
      for (let round = 0; !stop; round++) {
        const value = `${w}:${round}`;
        const m = c.multi();
        for (const k of keys) m.set(k, value);
        m.incr('atomic:count');
        try {
          const r = await m.exec();
          if (r !== null) acknowledged++;
        } catch {
          return;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 700));
    await server.kill();
    stop = true;
    await Promise.all(workers);
  } finally {
    for (const c of clients) c.disconnect();
    await server.kill();
  }
  assert.ok(acknowledged > 10, `only ${acknowledged} transactions ran`);
  const again = await startServer([], { dir });
  try {
    const r = new Redis({ port: again.port, host: '127.0.0.1' });
    const values = await r.mget(...keys);
    assert.equal(new Set(values).size, 1, `a transaction was torn: ${[...new Set(values)].join(', ')}`);
    const count = Number(await r.get('atomic:count'));
    assert.ok(count >= acknowledged, `acknowledged ${acknowledged} transactions, recovered ${count}`);
    r.disconnect();
  } finally {
    await again.stop();
    removeDir(dir);
  }
});

test('bad configuration is refused at start, naming the key', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--nosuch', '1'], /unknown option --nosuch/],
    [['--port', 'abc'], /invalid value for 'port' \(flag --port\)/],
    [['--sync', 'sometimes'], /invalid value for 'sync'.*always, everysec, none/],
    [['--mode', 'raft'], /mode raft needs raft.id/],
  ];
  const dir = tempDir();
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'port: 7000\nlimits:\n  nosuch: 1\n');
  cases.push([['--config', file], /unknown key 'limits.nosuch' in config file/]);
  for (const [args, message] of cases) {
    const r = await runCaskdb(['server', '--dir', join(dir, 'data'), ...args]);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, message);
  }
  removeDir(dir);
});

test('a YAML config file, environment and flags combine: flags > env > file', async () => {
  const dir = tempDir();
  const file = join(dir, 'caskdb.yaml');
  writeFileSync(file, `dir: ${join(dir, 'data')}\nport: 0\nmaxclients: 11\ntimeout: 5\nmulti-queue-max: 7\n`);
  const server = await startServer(['--config', file, '--maxclients', '13'], { dir: join(dir, 'data'), env: { CASKDB_MAXCLIENTS: '12', CASKDB_TIMEOUT: '6' } });
  try {
    const r = new Redis({ port: server.port, host: '127.0.0.1' });
    assert.deepEqual(await r.config('GET', 'maxclients'), ['maxclients', '13']);
    assert.deepEqual(await r.config('GET', 'timeout'), ['timeout', '6']);
    assert.deepEqual(await r.config('GET', 'multi-queue-max'), ['multi-queue-max', '7']);
    r.disconnect();
  } finally {
    await server.stop();
    removeDir(dir);
  }
});

test('redis-cli works unchanged: commands, --scan, --pipe mass insertion, errors', async () => {
  ensureRedisTools();
  const server = await startServer();
  try {
    assert.equal(redisCli(server.port, ['set', 'cli', 'hello']).stdout.trim(), 'OK');
    assert.equal(redisCli(server.port, ['get', 'cli']).stdout.trim(), 'hello');
    assert.match(redisCli(server.port, ['nosuch']).stdout, /ERR unknown command 'nosuch'/);
    let input = '';
    for (let i = 0; i < 5000; i++) input += `*3\r\n$3\r\nSET\r\n$${`pipe:${i}`.length}\r\npipe:${i}\r\n$1\r\nx\r\n`;
    const piped = redisCli(server.port, ['--pipe'], input);
    assert.match(piped.stdout, /errors: 0, replies: 5000/);
    const scanned = redisCli(server.port, ['--scan', '--pattern', 'pipe:*']).stdout.trim().split('\n');
    assert.equal(scanned.length, 5000);
    assert.equal(redisCli(server.port, ['dbsize']).stdout.trim(), '5001');
    assert.match(redisCli(server.port, ['info', 'keyspace']).stdout, /db0:keys=5001/);
    // --bigkeys reads TYPE and STRLEN; --memkeys reads MEMORY USAGE (0 bytes would mean it failed).
    assert.match(redisCli(server.port, ['--bigkeys']).stdout, /5001 strings with 5005 bytes/);
    const memkeys = /(\d+) strings with (\d+) bytes/.exec(redisCli(server.port, ['--memkeys']).stdout);
    assert.equal(memkeys?.[1], '5001');
    assert.ok(Number(memkeys?.[2]) > 5001 * 20, memkeys?.[0]);
    // Interactive-style session through stdin, including MULTI/EXEC.
    const session = redisCli(server.port, [], 'MULTI\nINCR c\nINCR c\nEXEC\n').stdout;
    assert.equal(session, 'OK\nQUEUED\nQUEUED\n1\n2\n');
  } finally {
    await server.stop();
    removeDir(server.dir);
  }
});

for (const syncThread of ['event-loop', 'thread-pool']) test(`redis-benchmark runs against the server without errors (sync always, sync-thread ${syncThread})`, async () => {
  ensureRedisTools();
  const server = await startServer(['--sync', 'always', '--sync-thread', syncThread]);
  try {
    assert.equal(redisCli(server.port, ['config', 'get', 'sync-thread']).stdout, `sync-thread\n${syncThread}\n`);
    const r = spawnSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(server.port), '-t', 'set,get,incr,mset', '-n', '5000', '-c', '20', '-P', '4', '-q'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    for (const name of ['SET', 'GET', 'INCR', 'MSET']) assert.match(r.stdout, new RegExp(`${name}.*: [\\d.]+ requests per second`));
    const redis = new Redis({ port: server.port, host: '127.0.0.1' });
    assert.equal(await redis.get('counter:__rand_int__'), '5000');
    redis.disconnect();
  } finally {
    await server.stop();
    removeDir(server.dir);
  }
});

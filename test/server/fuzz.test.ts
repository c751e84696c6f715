// Fuzz: thousands of random and malformed frames over many connections while a well-behaved client keeps
// writing and reading. The server must not crash, the good client must see exactly its own data, and
// that data must survive a restart. A MONITOR client and a slow log that records every command watch it all:
// every monitor line stays well-formed and quoted, and random command names never become statistics. The PRNG is seeded (printed on failure) so a run can be replayed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RawClient, removeDir, resp, startServer } from './harness.js';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SAFE_COMMANDS = ['GET', 'SET', 'MGET', 'MSET', 'INCR', 'APPEND', 'STRLEN', 'GETRANGE', 'SETRANGE', 'EXISTS', 'DEL', 'PING', 'ECHO', 'SCAN', 'TYPE', 'MULTI', 'EXEC', 'WATCH', 'INCRBYFLOAT', 'HELLO', 'CLIENT', 'COMMAND'];

function makeFrame(rand: () => number): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const fuzzKey = () => `fuzz:${Math.floor(rand() * 50)}`;
  const kind = Math.floor(rand() * 8);
  switch (kind) {
    case 0: // pure noise
      return bytes(1 + Math.floor(rand() * 200));
    case 1: { // a valid frame with one byte flipped
      const f = resp(pick(SAFE_COMMANDS), fuzzKey(), bytes(Math.floor(rand() * 20)));
      f[Math.floor(rand() * f.length)] = Math.floor(rand() * 256);
      return f;
    }
    case 2: { // a valid frame cut short
      const f = resp('SET', fuzzKey(), bytes(50));
      return f.subarray(0, Math.floor(rand() * f.length));
    }
    case 3: // absurd lengths
      return Buffer.from(pick(['*99999999999\r\n', '*3\r\n$-7\r\n', '*2\r\n$999999999999\r\n', '*-5\r\n', '$5\r\nhello\r\n', '*1\r\n:1\r\n', '*\r\n', '*1\r\n$\r\n']));
    case 4: // inline garbage with quotes and escapes
      return Buffer.from(pick(['SET "a b\r\n', "GET 'x\r\n", 'ECHO "\\x4\\xZZ"\r\n', '\r\n\r\n\r\n', 'SET a "b"c\r\n', '"\r\n']));
    case 5: { // a valid command with random arguments (errors are fine, crashes are not)
      const argc = Math.floor(rand() * 5);
      return resp(pick(SAFE_COMMANDS), ...Array.from({ length: argc }, () => (rand() < 0.5 ? fuzzKey() : bytes(Math.floor(rand() * 30)))));
    }
    case 6: // many tiny frames in one write
      return Buffer.concat(Array.from({ length: 20 }, () => resp('INCR', fuzzKey())));
    default: // binary noise after a valid prefix
      return Buffer.concat([resp('PING'), bytes(64)]);
  }
}

test('random and malformed frames on many connections never disturb a well-behaved client', async () => {
  const seed = Number(process.env.CASKDB_FUZZ_SEED ?? Date.now() % 1_000_000);
  const rand = prng(seed);
  const server = await startServer(['--proto-max-bulk-len', '1mb', '--slowlog-log-slower-than', '0']);
  const good = new Redis({ port: server.port, host: '127.0.0.1' });
  const monitor = await RawClient.connect(server.port);
  monitor.send(resp('MONITOR'));
  const expected = new Map<string, string>();
  let framesSent = 0;
  try {
    let fuzzing = true;
    const goodLoop = (async () => {
      let i = 0;
      while (fuzzing) {
        const key = `good:${i % 200}`;
        const value = `v${i}:${'x'.repeat(i % 50)}`;
        const [setR, getR, incrR] = (await good.pipeline().set(key, value).get(key).incr('good:counter').exec())!;
        assert.deepEqual(setR, [null, 'OK']);
        assert.deepEqual(getR, [null, value], `seed ${seed}`);
        assert.deepEqual(incrR, [null, i + 1], `seed ${seed}`);
        expected.set(key, value);
        i++;
      }
      expected.set('good:counter', String(i));
    })();
    const connections = 24;
    const framesPerConnection = 200;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        let c = await RawClient.connect(server.port);
        for (let f = 0; f < framesPerConnection; f++) {
          if (c.closed) c = await RawClient.connect(server.port);
          c.send(makeFrame(rand));
          framesSent++;
          if (f % 10 === 0) await new Promise((r) => setImmediate(r));
        }
        c.close();
      }),
    );
    fuzzing = false;
    await goodLoop;
    assert.ok(framesSent >= 4000);
    // The good client's data is exactly what it wrote, now and after a restart.
    for (const [k, v] of expected) assert.equal(await good.get(k), v, `seed ${seed}: ${k}`);
    const info = await good.info('stats');
    assert.match(info, /protocol_errors:[1-9]/);
    // The monitor saw everything as well-formed lines, the good client's commands among them.
    await good.echo('last-command');
    const watched = await monitor.until((t) => t.includes('"echo" "last-command"'));
    assert.ok(!monitor.closed, `seed ${seed}: the monitor was disconnected`);
    const lines = watched.split('\r\n').slice(0, -1);
    assert.equal(lines[0], '+OK');
    for (const line of lines.slice(1)) assert.match(line, /^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\]( "([\x20-\x21\x23-\x5b\x5d-\x7e]|\\.)*")+$/, `seed ${seed}`);
    assert.ok(watched.includes('"incr" "good:counter"'));
    monitor.close();
    const known = new Set(((await good.call('command', 'list')) as string[]).map((n) => n.toLowerCase()));
    const statNames = [...((await good.info('commandstats')) as string).matchAll(/^cmdstat_([^:]+):/gm)].map((m) => m[1]!);
    assert.ok(statNames.length > 5 && statNames.every((n) => known.has(n)), `seed ${seed}: ${statNames.join(' ')}`);
    assert.equal(await good.call('slowlog', 'len'), 128);
    good.disconnect();
    assert.equal(await server.stop(), 0, `seed ${seed}: server did not exit cleanly`);
    const again = await startServer([], { dir: server.dir });
    const check = new Redis({ port: again.port, host: '127.0.0.1' });
    try {
      for (const [k, v] of expected) assert.equal(await check.get(k), v, `seed ${seed}: ${k} after restart`);
    } finally {
      check.disconnect();
      await again.stop();
    }
  } finally {
    good.disconnect();
    await server.kill();
    removeDir(server.dir);
  }
});

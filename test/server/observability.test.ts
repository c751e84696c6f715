// What operators watch a server with — MONITOR, SLOWLOG, INFO commandstats/errorstats/latencystats and
// LATENCY HISTOGRAM: the line formats,
// escaping, trimming, redaction and counting as pure functions, then against the real server process
// through raw RESP, ioredis and the stock `redis-cli monitor`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { CommandStats, ERROR_PREFIXES_MAX } from '../../src/server/command-stats.js';
import { LatencyHistogram } from '../../src/server/latency-histogram.js';
import { isSecretArgument, monitorLine, quoteArgument } from '../../src/server/monitor.js';
import { Slowlog, trimArguments } from '../../src/server/slowlog.js';
import { ensureRedisTools, RawClient, resp, startServerWithClient, stopServerWithClient, type RunningServer } from './harness.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('monitor lines and slow log entries (pure)', () => {
  test('arguments are quoted and escaped as Redis does, so a line is printable ASCII', () => {
    assert.equal(quoteArgument(b('plain key')), '"plain key"');
    assert.equal(quoteArgument(b('a"b\\c')), '"a\\"b\\\\c"');
    assert.equal(quoteArgument(Buffer.from([0x0a, 0x0d, 0x09, 0x07, 0x08, 0x00, 0x7f, 0xff, 0x41])), '"\\n\\r\\t\\a\\b\\x00\\x7f\\xffA"');
    const line = monitorLine(1_700_000_000_123.456, '127.0.0.1:5000', [b('set'), b('k'), b('v\r\n')], 'set');
    assert.equal(line, '1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v\\r\\n"');
  });

  test('secrets are redacted: every AUTH argument, HELLO\'s username and password only', () => {
    const hello = [b('HELLO'), b('3'), b('AUTH'), b('user'), b('pass'), b('SETNAME'), b('n')];
    assert.deepEqual(hello.map((_a, i) => isSecretArgument(hello, 'hello', i)), [false, false, false, true, true, false, false]);
    assert.equal(monitorLine(0, 'x:1', [b('AUTH'), b('u'), b('p')], 'auth'), '0.000000 [0 x:1] "AUTH" "(redacted)" "(redacted)"');
    assert.deepEqual(trimArguments(hello, 'hello').map(String), ['HELLO', '3', 'AUTH', '(redacted)', '(redacted)', 'SETNAME', 'n']);
  });

  test('entries keep at most 32 arguments and 128 bytes of each, saying how much was left out', () => {
    const argv = [b('mset'), ...Array.from({ length: 40 }, (_v, i) => b(`a${i}`))];
    const trimmed = trimArguments(argv, 'mset');
    assert.equal(trimmed.length, 32);
    assert.equal(trimmed[30]!.toString(), 'a29');
    assert.equal(trimmed[31]!.toString(), '... (10 more arguments)');
    const long = trimArguments([b('set'), b('k'), Buffer.alloc(200, 0x78)], 'set');
    assert.equal(long[2]!.toString(), 'x'.repeat(128) + '... (72 more bytes)');
    const exact = trimArguments(argv.slice(0, 32), 'mset');
    assert.deepEqual(exact.map(String), argv.slice(0, 32).map(String));
  });

  test('the log keeps the newest entries up to its length, ids never repeat, RESET and a shorter length drop entries', () => {
    const log = new Slowlog(3);
    for (let i = 0; i < 5; i++) log.add(10 + i, [b('cmd'), b(String(i))], 'cmd', 'c:1', 'name');
    assert.equal(log.length, 3);
    assert.deepEqual(log.newest(-1).map((e) => [e.id, e.durationMicros, e.args[1]!.toString()]), [[4, 14, '4'], [3, 13, '3'], [2, 12, '2']]);
    assert.deepEqual(log.newest(1).map((e) => e.id), [4]);
    log.setMaxLength(1);
    assert.deepEqual(log.newest(10).map((e) => e.id), [4]);
    log.reset();
    assert.equal(log.length, 0);
    log.add(1, [b('x')], 'x', 'c:1', '');
    assert.deepEqual(log.newest(10).map((e) => e.id), [5]);
    const off = new Slowlog(0);
    off.add(1, [b('x')], 'x', 'c:1', '');
    assert.equal(off.length, 0);
  });
});

describe('command statistics (pure)', () => {
  test('calls, time, rejections and failures per command; errors by prefix, bounded; RESET clears', () => {
    const stats = new CommandStats();
    stats.ran('get', 1.5);
    stats.ran('get', 2.5).failedCalls++;
    stats.rejected('get');
    stats.ran('set', 10);
    stats.failed('set');
    assert.deepEqual(stats.commandSection(), {
      cmdstat_get: 'calls=2,usec=4,usec_per_call=2.00,rejected_calls=1,failed_calls=1',
      cmdstat_set: 'calls=1,usec=10,usec_per_call=10.00,rejected_calls=0,failed_calls=1',
    });
    stats.errorReply('ERR value is not an integer or out of range');
    stats.errorReply('WRONGTYPE Operation against a key holding the wrong kind of value');
    stats.errorReply('ERR syntax error');
    stats.errorReply('NOSPACE');
    assert.deepEqual(stats.errorSection(), { errorstat_ERR: 'count=2', errorstat_NOSPACE: 'count=1', errorstat_WRONGTYPE: 'count=1' });
    assert.equal(stats.errorReplies, 4);
    for (let i = 0; i < ERROR_PREFIXES_MAX + 10; i++) stats.errorReply(`E${i} x`);
    const section = stats.errorSection();
    assert.equal(Object.keys(section).length, ERROR_PREFIXES_MAX + 1);
    assert.equal(section.errorstat_ERRORSTATS_OVERFLOW, 'count=13');
    stats.reset();
    assert.deepEqual([stats.commandSection(), stats.errorSection(), stats.errorReplies], [{}, {}, 0]);
  });
});

describe('latency histogram (pure)', () => {
  test('percentiles are exact below 32 ns and within 1/32 above, up to hours', () => {
    const exact = new LatencyHistogram();
    for (let ns = 1; ns <= 20; ns++) exact.record(ns / 1000);
    assert.equal(exact.percentileMicros(50), 0.01);
    assert.equal(exact.percentileMicros(100), 0.02);
    for (const micros of [0.05, 1, 3.3, 17, 250, 999, 12_345, 1e6, 3.6e9]) {
      const h = new LatencyHistogram();
      h.record(micros);
      const reported = h.percentileMicros(99);
      assert.ok(reported >= micros * 0.999 && reported <= micros * (1 + 1 / 32), `${micros} µs reported as ${reported}`);
    }
    const empty = new LatencyHistogram();
    assert.deepEqual([empty.percentileMicros(50), empty.cumulativePowersOfTwoMicros()], [0, []]);
  });

  test('percentiles follow the distribution; the cumulative histogram counts at powers of two', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i); // 1 … 1000 µs
    assert.equal(h.total, 1000);
    for (const [p, expected] of [[50, 500], [90, 900], [99, 990], [99.9, 999]] as const) {
      const got = h.percentileMicros(p);
      assert.ok(got >= expected && got <= expected * (1 + 1 / 32), `p${p}: ${got}`);
    }
    const cumulative = h.cumulativePowersOfTwoMicros();
    assert.deepEqual(cumulative.map(([bound]) => bound), [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
    assert.equal(cumulative.at(-1)![1], 1000);
    for (let i = 1; i < cumulative.length; i++) assert.ok(cumulative[i]![1] >= cumulative[i - 1]![1]);
    // Every bound counts the values certainly at or below it: within a bucket's width of the true count.
    for (const [bound, count] of cumulative) {
      const trueCount = Math.min(bound, 1000);
      assert.ok(count <= trueCount && count >= trueCount - Math.ceil(bound / 32), `${bound}: ${count}`);
    }
  });
});

/** `INFO <section>` as a map of key → value. */
async function infoFields(redis: Redis, section: string): Promise<Map<string, string>> {
  const text = (await redis.info(section)) as string;
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

describe('MONITOR, SLOWLOG and INFO commandstats on the server', () => {
  let server: RunningServer;
  let redis: Redis;

  before(async () => {
    ({ server, redis } = await startServerWithClient([]));
  });

  after(() => stopServerWithClient({ server, redis }));

  test('a monitor receives every other client\'s commands, escaped and redacted; it may not touch the keyspace', async () => {
    const monitor = await RawClient.connect(server.port);
    monitor.send(resp('MONITOR'));
    await monitor.until((t) => t.startsWith('+OK\r\n'));
    await redis.set(Buffer.from('k\n'), Buffer.from([0x76, 0x00]));
    await redis.call('auth', 'secret').catch(() => undefined);
    const text = await monitor.until((t) => t.includes('"auth"'));
    const lines = text.split('\r\n');
    assert.equal(lines[0], '+OK');
    assert.match(lines[1]!, /^\+\d{10}\.\d{6} \[0 127\.0\.0\.1:\d+\] "set" "k\\n" "v\\x00"$/);
    assert.match(lines[2]!, /^\+\d{10}\.\d{6} \[0 127\.0\.0\.1:\d+\] "auth" "\(redacted\)"$/);
    assert.ok(!text.includes('secret'));

    const before = monitor.text().length;
    monitor.send(resp('GET', 'k\n'));
    monitor.send(resp('PING'));
    const answered = await monitor.until((t) => t.slice(before).includes('+PONG\r\n'));
    assert.ok(answered.slice(before).includes("-ERR Replica can't interact with the keyspace\r\n"), answered.slice(before));
    const list = (await redis.client('LIST')) as string;
    assert.match(list, /flags=O /);
    monitor.close();
    // Once the monitor is gone, commands go on as before and CLIENT LIST no longer lists it.
    for (let i = 0; i < 50 && /flags=O /.test((await redis.client('LIST')) as string); i++) await new Promise((r) => setTimeout(r, 20));
    assert.doesNotMatch((await redis.client('LIST')) as string, /flags=O /);
    assert.equal(await redis.get('k\n'), 'v\u0000');
  });

  test('MONITOR inside MULTI is refused and aborts the transaction', async () => {
    const c = await RawClient.connect(server.port);
    c.send(Buffer.concat([resp('MULTI'), resp('MONITOR'), resp('EXEC')]));
    const text = await c.until((t) => t.includes('EXECABORT'));
    assert.equal(text, '+OK\r\n-ERR Command not allowed inside a transaction\r\n-EXECABORT Transaction discarded because of previous errors.\r\n');
    c.close();
  });

  test('the stock redis-cli monitor prints the commands another client sends', async () => {
    ensureRedisTools();
    const cli = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(server.port), 'monitor'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((resolve) => cli.on('exit', resolve));
    try {
      for (let i = 0; i < 100 && !out.includes('OK'); i++) await new Promise((r) => setTimeout(r, 20));
      await redis.set('seen-by-cli', 'yes');
      for (let i = 0; i < 100 && !out.includes('seen-by-cli'); i++) await new Promise((r) => setTimeout(r, 20));
      assert.match(out, /^\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "set" "seen-by-cli" "yes"$/m);
    } finally {
      cli.kill();
      await exited;
    }
  });

  test('SLOWLOG records commands over the threshold, newest first, with client address and name', async () => {
    assert.equal(await redis.config('SET', 'slowlog-log-slower-than', '0'), 'OK');
    await redis.client('SETNAME', 'slowpoke');
    await redis.call('slowlog', 'reset');
    await redis.set('s1', 'v');
    await redis.mset(Object.fromEntries(Array.from({ length: 20 }, (_v, i) => [`m${i}`, 'x'])));
    const entries = (await redis.call('slowlog', 'get', '2')) as Array<[number, number, number, string[], string, string]>;
    assert.equal(entries.length, 2);
    const [newest, older] = entries;
    assert.equal(newest![0], older![0] + 1);
    assert.ok(Math.abs(newest![1] - Date.now() / 1000) < 60);
    assert.ok(Number.isInteger(newest![2]) && newest![2] >= 0);
    assert.equal(newest![3].length, 32);
    assert.equal(newest![3][0], 'mset');
    assert.equal(newest![3][31], '... (10 more arguments)');
    assert.deepEqual(older![3], ['set', 's1', 'v']);
    assert.match(newest![4], /^127\.0\.0\.1:\d+$/);
    assert.equal(newest![5], 'slowpoke');
    assert.ok(((await redis.call('slowlog', 'len')) as number) >= 3); // reset, set, mset, get
    await assert.rejects(redis.call('slowlog', 'get', '-2'), /ERR count should be greater than or equal to -1/);
    await assert.rejects(redis.call('slowlog', 'nosuch'), /ERR unknown subcommand 'nosuch'\. Try SLOWLOG HELP\./);
  });

  test('SLOWLOG honours its threshold and length at run time; -1 turns it off', async () => {
    for (let chunk = 0; chunk < 20; chunk++) {
      await redis.mset(Object.fromEntries(Array.from({ length: 1000 }, (_v, i) => [`bulk${chunk}-${i}`, 'v'])));
    }
    // A threshold of 1 s: ordinary commands stay out of the log.
    await redis.config('SET', 'slowlog-log-slower-than', '1000000');
    await redis.call('slowlog', 'reset');
    await redis.set('quick', '1');
    await redis.get('quick');
    assert.equal(await redis.call('slowlog', 'len'), 0);
    // 1 ms: KEYS * over 20 000 keys takes longer than that; its entry says how long.
    await redis.config('SET', 'slowlog-log-slower-than', '1000');
    assert.ok(((await redis.keys('*')) as string[]).length >= 20_000);
    const slow = (await redis.call('slowlog', 'get')) as Array<[number, number, number, string[]]>;
    const keysEntry = slow.find((e) => e[3][0] === 'keys');
    assert.ok(keysEntry !== undefined, JSON.stringify(slow));
    assert.ok(keysEntry[2] >= 1000);
    await redis.config('SET', 'slowlog-log-slower-than', '0');
    await redis.config('SET', 'slowlog-max-len', '2');
    for (let i = 0; i < 5; i++) await redis.ping();
    assert.equal(await redis.call('slowlog', 'len'), 2);
    await redis.config('SET', 'slowlog-log-slower-than', '-1');
    await redis.call('slowlog', 'reset');
    for (let i = 0; i < 5; i++) await redis.ping();
    assert.equal(await redis.call('slowlog', 'len'), 0);
    assert.deepEqual(await redis.config('GET', 'slowlog-*'), ['slowlog-log-slower-than', '-1', 'slowlog-max-len', '2']);
  });

  test('INFO commandstats and errorstats count calls, failures, rejections and error replies; RESETSTAT clears', async () => {
    assert.equal(await redis.config('RESETSTAT'), 'OK');
    const c = await RawClient.connect(server.port);
    c.send(Buffer.concat([
      resp('SET', 'cs', '1'), resp('INCR', 'cs'), resp('SET', 'cs', 'x'), resp('INCR', 'cs'),
      resp('GET'), resp('NOSUCH', 'a'), resp('GET', 'cs'),
    ]));
    const replies = await c.until((t) => t.endsWith('$1\r\nx\r\n'));
    assert.equal(replies, "+OK\r\n:2\r\n+OK\r\n-ERR value is not an integer or out of range\r\n-ERR wrong number of arguments for 'get' command\r\n-ERR unknown command 'NOSUCH', with args beginning with: 'a' \r\n$1\r\nx\r\n");
    c.close();
    const commands = await infoFields(redis, 'commandstats');
    const stat = (name: string): string => (commands.get(`cmdstat_${name}`) ?? '').replace(/usec=\d+,usec_per_call=[\d.]+,/, '');
    assert.equal(stat('set'), 'calls=2,rejected_calls=0,failed_calls=0');
    assert.equal(stat('incr'), 'calls=2,rejected_calls=0,failed_calls=1');
    assert.equal(stat('get'), 'calls=1,rejected_calls=1,failed_calls=0');
    assert.ok(![...commands.keys()].some((k) => k.includes('nosuch')), 'an unknown command gets no entry');
    const errors = await infoFields(redis, 'errorstats');
    assert.equal(errors.get('errorstat_ERR'), 'count=3');
    assert.equal((await infoFields(redis, 'stats')).get('total_error_replies'), '3');
    // Only `all`/`everything` (or the section's name) bring these sections, as in Redis.
    assert.doesNotMatch((await redis.info()) as string, /# Commandstats/);
    assert.match((await redis.info('all')) as string, /# Commandstats\r\ncmdstat_/);
    assert.match((await redis.info('everything')) as string, /# Errorstats\r\nerrorstat_ERR:count=3\r\n/);
    assert.equal(await redis.config('RESETSTAT'), 'OK');
    const afterReset = await infoFields(redis, 'commandstats');
    assert.deepEqual([...afterReset.keys()], ['cmdstat_config']); // the RESETSTAT call itself
    assert.equal((await infoFields(redis, 'errorstats')).size, 0);
  });

  test('INFO latencystats and LATENCY HISTOGRAM per command; the percentiles and tracking are settable', async () => {
    assert.equal(await redis.config('RESETSTAT'), 'OK');
    for (let i = 0; i < 200; i++) await redis.set(`lat${i}`, 'v');
    for (let i = 0; i < 100; i++) await redis.get(`lat${i}`);
    const stats = await infoFields(redis, 'latencystats');
    const percentiles = (name: string): number[] => {
      const m = /^p50=([\d.]+),p99=([\d.]+),p99\.9=([\d.]+)$/.exec(stats.get(`latency_percentiles_usec_${name}`) ?? '');
      assert.ok(m !== null, JSON.stringify([...stats]));
      return m.slice(1).map(Number);
    };
    for (const name of ['set', 'get']) {
      const [p50, p99, p999] = percentiles(name) as [number, number, number];
      assert.ok(p50 > 0 && p50 <= p99 && p99 <= p999, `${name}: ${p50} ${p99} ${p999}`);
    }
    assert.doesNotMatch((await redis.info()) as string, /# Latencystats/);
    assert.match((await redis.info('all')) as string, /# Latencystats\r\nlatency_percentiles_usec_/);

    const c = await RawClient.connect(server.port);
    c.send(resp('LATENCY', 'HISTOGRAM', 'get', 'nosuch'));
    const text = await c.until((t) => /\r\n:100\r\n$/.test(t));
    c.close();
    // A map of one command (RESP2: a flat array): calls, then cumulative counts at 1, 2, 4 … µs ending at all 100.
    assert.match(text, /^\*2\r\n\$3\r\nget\r\n\*4\r\n\$5\r\ncalls\r\n:100\r\n\$14\r\nhistogram_usec\r\n\*\d+\r\n:1\r\n:\d+\r\n(:\d+\r\n:\d+\r\n)*:\d+\r\n:100\r\n$/, text);
    assert.deepEqual(await redis.call('latency', 'latest'), []);
    await assert.rejects(redis.call('latency', 'doctor'), /ERR LATENCY DOCTOR and GRAPH need the latency monitor/);

    assert.equal(await redis.config('SET', 'latency-tracking-info-percentiles', '90 100'), 'OK');
    assert.match((await infoFields(redis, 'latencystats')).get('latency_percentiles_usec_set') ?? '', /^p90=[\d.]+,p100=[\d.]+$/);
    await assert.rejects(redis.config('SET', 'latency-tracking-info-percentiles', '50 101'), /is not a list of percentiles from 0 to 100/);
    assert.equal(await redis.config('SET', 'latency-tracking', 'no'), 'OK');
    for (let i = 0; i < 10; i++) await redis.strlen('lat0');
    assert.ok(!(await infoFields(redis, 'latencystats')).has('latency_percentiles_usec_strlen'));
    assert.match((await infoFields(redis, 'commandstats')).get('cmdstat_strlen') ?? '', /^calls=10,/);
    assert.equal(await redis.config('SET', 'latency-tracking', 'yes', 'latency-tracking-info-percentiles', '50 99 99.9'), 'OK');
    assert.equal(await redis.config('RESETSTAT'), 'OK');
    assert.ok(!(await infoFields(redis, 'latencystats')).has('latency_percentiles_usec_set'));
  });
});

// Every limit, exceeded on purpose: the client gets a RESP error naming the limit (and a closed connection
// where Redis closes it), and the server keeps serving everyone else.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Redis } from 'ioredis';
import { RawClient, removeDir, resp, startServer, type RunningServer } from './harness.js';

let server: RunningServer;

before(async () => {
  server = await startServer([
    '--maxclients', '6',
    '--proto-max-bulk-len', '64kb',
    '--proto-max-multibulk-len', '8',
    '--client-output-buffer-limit', '1mb',
    '--multi-queue-max', '3',
  ]);
});

after(async () => {
  assert.equal(await server?.stop(), 0);
  if (server) removeDir(server.dir);
});

async function stillServing(): Promise<void> {
  const c = await RawClient.connect(server.port);
  c.send('PING\r\n');
  assert.equal(await c.until((t) => t.length >= 7), '+PONG\r\n');
  c.close();
}

test('proto-max-bulk-len: a longer bulk gets an error naming the limit and the connection closes', async () => {
  const c = await RawClient.connect(server.port);
  c.send(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${64 * 1024 + 1}\r\n`);
  assert.ok(await c.waitClosed());
  assert.equal(c.text(), '-ERR Protocol error: invalid bulk length (65537 exceeds proto-max-bulk-len 65536)\r\n');
  await stillServing();
});

test('a bulk of exactly proto-max-bulk-len is accepted', async () => {
  const r = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    const value = Buffer.alloc(64 * 1024, 120);
    assert.equal(await r.set('max-bulk', value), 'OK');
    assert.equal(await r.strlen('max-bulk'), value.length);
    // APPEND past the limit is refused by the same limit.
    await assert.rejects(r.append('max-bulk', 'x'), /string exceeds maximum allowed size \(proto-max-bulk-len\)/);
  } finally {
    r.disconnect();
  }
});

test('proto-max-multibulk-len: too many arguments, as multibulk or inline', async () => {
  const c = await RawClient.connect(server.port);
  c.send('*9\r\n');
  assert.ok(await c.waitClosed());
  assert.equal(c.text(), '-ERR Protocol error: invalid multibulk length (9 exceeds proto-max-multibulk-len 8)\r\n');
  const d = await RawClient.connect(server.port);
  d.send('MSET a 1 b 2 c 3 d 4 e 5\r\n');
  assert.ok(await d.waitClosed());
  assert.match(d.text(), /proto-max-multibulk-len 8/);
  await stillServing();
});

test('an inline line longer than 64 KiB without a newline is refused', async () => {
  const c = await RawClient.connect(server.port);
  c.send(Buffer.alloc(70 * 1024, 97));
  assert.ok(await c.waitClosed());
  assert.equal(c.text(), '-ERR Protocol error: too big inline request\r\n');
});

test('multi-queue-max: the command past the limit errors and EXEC aborts', async () => {
  const c = await RawClient.connect(server.port);
  try {
    c.send('MULTI\r\nSET a 1\r\nSET b 2\r\nSET c 3\r\nSET d 4\r\nEXEC\r\n');
    const text = await c.until((t) => t.includes('EXECABORT'));
    assert.equal(text, '+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n-ERR MULTI queue is full (multi-queue-max is 3)\r\n-EXECABORT Transaction discarded because of previous errors.\r\n');
  } finally {
    c.close();
  }
});

test('client-output-buffer-limit: a client that never reads its replies is disconnected', async () => {
  const r = new Redis({ port: server.port, host: '127.0.0.1' });
  await r.set('big', Buffer.alloc(60_000, 1));
  const socket = net.connect(server.port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.pause(); // never read (so this side will not even notice the close until it reads)
  socket.on('error', () => undefined);
  let frames = '';
  for (let i = 0; i < 2000; i++) frames += 'GET big\r\n';
  socket.write(frames);
  let info = '';
  for (let i = 0; i < 100 && !/client_output_buffer_limit_disconnections:[1-9]/.test(info); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    info = await r.info('stats');
  }
  socket.destroy();
  assert.match(info, /client_output_buffer_limit_disconnections:1\r/);
  r.disconnect();
  await stillServing();
});

test('maxclients: the connection past the limit gets the Redis error and is closed', async () => {
  const open: RawClient[] = [];
  try {
    for (;;) {
      const c = await RawClient.connect(server.port);
      c.send('PING\r\n');
      const t = await c.until((x) => x.length > 0);
      if (t !== '+PONG\r\n') {
        assert.equal(t, '-ERR max number of clients reached\r\n');
        assert.ok(await c.waitClosed());
        break;
      }
      open.push(c);
      assert.ok(open.length <= 6, 'more clients than maxclients were accepted');
    }
    // Exactly maxclients connections are open (ours, plus any other test connection not yet gone).
    open[0]!.send('CLIENT LIST\r\n');
    const list = await open[0]!.until((t) => /\r\n\$\d+\r\n[^]*\n\r\n$/.test(t));
    assert.equal(list.split('\n').filter((l) => l.startsWith('id=')).length, 6);
  } finally {
    for (const c of open) c.close();
  }
  await new Promise((r) => setTimeout(r, 100));
  await stillServing();
});

test('timeout: an idle client is closed after the configured seconds (CONFIG SET at run time)', async () => {
  const admin = new Redis({ port: server.port, host: '127.0.0.1' });
  await admin.config('SET', 'timeout', '1');
  const idle = await RawClient.connect(server.port);
  const started = Date.now();
  try {
    assert.ok(await idle.waitClosed(5000));
    const waited = Date.now() - started;
    assert.ok(waited >= 900, `closed ${waited} ms after connecting, before the 1 s timeout`);
  } finally {
    await admin.config('SET', 'timeout', '0');
    admin.disconnect();
    idle.close();
  }
});

test('CONFIG SET proto-max-bulk-len takes effect for new frames', async () => {
  const admin = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    await admin.config('SET', 'proto-max-bulk-len', '2048');
    const c = await RawClient.connect(server.port);
    c.send(resp('SET', 'k', Buffer.alloc(4096)));
    assert.ok(await c.waitClosed());
    assert.match(c.text(), /proto-max-bulk-len 2048/);
    // Raising it past the limit the server started with (64kb) lets bigger values in at once, with no
    // restart: the engine is not held to the start-time setting. APPEND grows to the new limit too.
    await admin.config('SET', 'proto-max-bulk-len', '3mb');
    const big = Buffer.alloc(2 * 1024 * 1024 + 1, 121);
    assert.equal(await admin.set('raised-bulk', big), 'OK');
    assert.equal(await admin.append('raised-bulk', Buffer.alloc(1024 * 1024 - 1, 122)), 3 * 1024 * 1024);
    await assert.rejects(admin.append('raised-bulk', 'x'), /string exceeds maximum allowed size \(proto-max-bulk-len\)/);
    const stored = await admin.getBuffer('raised-bulk');
    assert.equal(stored?.length, 3 * 1024 * 1024);
    assert.ok(stored?.subarray(0, big.length).equals(big));
    assert.equal(await admin.del('raised-bulk'), 1);
  } finally {
    await admin.config('SET', 'proto-max-bulk-len', '64kb');
    admin.disconnect();
  }
});

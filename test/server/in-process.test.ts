// The server in-process over an in-memory engine with injected behaviour: replies stay in request order
// when writes are acknowledged late (fsync), pending writes are visible to the next command at once, and an
// engine failure fails one command, not the server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/index.js';
import type { WriteOp } from '../../src/engine/types.js';
import { CaskServer, ServerLogger } from '../../src/server/index.js';
import { MemoryEngine, StandaloneStore } from '../../src/store/index.js';
import { CaskError, ErrorCode } from '../../src/util/errors.js';

/** A memory engine whose writes are acknowledged `delayMs` later, and whose reads of `poison` fail. */
class SlowEngine extends MemoryEngine {
  delayMs = 30;
  writes = 0;
  override write(ops: readonly WriteOp[]): Promise<void> {
    const applied = super.write(ops);
    this.writes++;
    return applied.then(() => new Promise((resolve) => setTimeout(resolve, this.delayMs)));
  }
  override get(key: string | Uint8Array): Buffer | undefined {
    if (Buffer.from(key).toString() === 'poison') {
      throw new CaskError(ErrorCode.Corruption, 'crc mismatch in 000000001.data at offset 42', { file: '000000001.data', offset: 42 });
    }
    return super.get(key);
  }
}

let server: CaskServer;
let engine: SlowEngine;
let redis: Redis;

before(async () => {
  const { config } = loadConfig({ argv: ['--port', '0'], env: {} });
  engine = new SlowEngine();
  const store = new StandaloneStore(engine, { stringBytesMax: config['proto-max-bulk-len'] });
  server = new CaskServer({ config, store, log: new ServerLogger('error', () => undefined) });
  const { port } = await server.listen();
  redis = new Redis({ port, host: '127.0.0.1' });
});

after(async () => {
  redis.disconnect();
  await server.shutdown('test done');
});

test('replies keep request order while writes are acknowledged late', async () => {
  const started = Date.now();
  const r = await redis.pipeline().set('a', '1').get('a').ping().incr('n').get('n').echo('last').exec();
  assert.deepEqual(r, [[null, 'OK'], [null, '1'], [null, 'PONG'], [null, 1], [null, '1'], [null, 'last']]);
  assert.ok(Date.now() - started >= engine.delayMs - 5, 'the write acknowledgement was not awaited');
});

test('the writes of one event-loop turn reach the engine as one write', async () => {
  const before = engine.writes;
  const p = redis.pipeline();
  for (let i = 0; i < 100; i++) p.set(`batch:${i}`, String(i));
  const r = await p.exec();
  assert.equal(r!.length, 100);
  assert.ok(engine.writes - before <= 3, `${engine.writes - before} engine writes for one pipeline`);
  assert.equal(await redis.get('batch:99'), '99');
});

test('an engine error fails that command only', async () => {
  await assert.rejects(redis.get('poison'), /^ReplyError: ERR crc mismatch in 000000001.data at offset 42/);
  assert.equal(await redis.ping(), 'PONG');
  assert.equal(await redis.get('a'), '1');
});

test('a client pipelining far more writes than are acknowledged is paused and resumed, in order', async () => {
  const p = redis.pipeline();
  for (let i = 0; i < 40_000; i++) p.incr('deep');
  const r = (await p.exec())!;
  assert.equal(r.length, 40_000);
  r.forEach(([err, value], i) => {
    assert.equal(err, null);
    assert.equal(value, i + 1);
  });
});

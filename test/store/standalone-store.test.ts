// The standalone store's write grouping: one engine write per event-loop turn, replies (PendingReply)
// released only after that write resolves, pending writes visible to reads, failures reported per write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { MemoryEngine, PendingReply, StandaloneStore, type Mutation } from '../../src/store/index.js';
import type { WriteOp } from '../../src/engine/types.js';
import { ReplyError } from '../../src/resp/index.js';

const b = (s: string) => Buffer.from(s);
const set = (k: string, v: string): Mutation => ({ op: 'set', key: b(k), value: b(v), nx: false, xx: false, get: false });

/** A MemoryEngine whose writes resolve only when the test says so (an fsync that takes as long as needed). */
function slowEngine(): { engine: MemoryEngine; writes: WriteOp[][]; release(): void } {
  const engine = new MemoryEngine();
  const writes: WriteOp[][] = [];
  const waiting: Array<() => void> = [];
  const write = engine.write.bind(engine);
  engine.write = (ops) => {
    writes.push([...ops]);
    const done = write(ops);
    return done.then(() => new Promise<void>((resolve) => waiting.push(resolve)));
  };
  engine.put = (key, value) => engine.write([{ type: 'put', key, value }]);
  return { engine, writes, release: () => waiting.splice(0).forEach((r) => r()) };
}

test('writes of one turn are one engine write; replies wait for it; pending writes are visible to reads', async () => {
  const { engine, writes, release } = slowEngine();
  const store = new StandaloneStore(engine, { stringBytesMax: 1024 });
  const r1 = store.submit(set('a', '1'));
  const r2 = store.submit({ op: 'incrby', key: b('n'), by: 2n });
  assert.ok(r1 instanceof PendingReply && r2 instanceof PendingReply);
  assert.deepEqual(store.view.get(b('a')), b('1')); // visible before the engine has it
  assert.deepEqual(store.submit({ op: 'incrby', key: b('n'), by: 3n }) instanceof PendingReply, true);
  assert.deepEqual(store.view.get(b('n')), b('5'));
  assert.equal(writes.length, 0);
  await turn();
  assert.equal(writes.length, 1);
  assert.equal(writes[0]!.length, 3);
  assert.equal(r1.settled, false);
  let listened = 0;
  r1.group.listen(() => listened++);
  release();
  assert.equal(await r1, 'OK');
  assert.equal(await r2, 2n);
  assert.equal(r1.result(), 'OK');
  assert.equal(listened, 1);
  assert.deepEqual(engine.get('n'), b('5'));
});

test('a failed group write fails every reply of the group', async () => {
  const engine = new MemoryEngine();
  engine.write = () => Promise.reject(new Error('disk on fire'));
  const store = new StandaloneStore(engine, { stringBytesMax: 1024 });
  const r1 = store.submit(set('a', '1'));
  const r2 = store.submit(set('b', '2'));
  assert.deepEqual(await r1, new ReplyError('ERR write failed: disk on fire'));
  assert.deepEqual(await r2, new ReplyError('ERR write failed: disk on fire'));
});

test('every turn commits at once, even while an earlier write is still in flight', async () => {
  const { engine, writes, release } = slowEngine();
  const store = new StandaloneStore(engine, { stringBytesMax: 1024 });
  const r1 = store.submit(set('a', '1'));
  await turn();
  const r2 = store.submit(set('b', '1'));
  await turn();
  assert.equal(writes.length, 2);
  release();
  assert.deepEqual(await Promise.all([r1, r2]), ['OK', 'OK']);
});

test('a write bigger than one atomic engine write is refused before any other command sees it; a group never overflows', async () => {
  const engine = new MemoryEngine();
  const store = new StandaloneStore(engine, { stringBytesMax: 1024 });
  const pairs = (n: number, tag: string): Array<[Buffer, Buffer]> => Array.from({ length: n }, (_, i) => [b(`${tag}${i}`), b('v')]);
  const refused = store.submit({ op: 'mset', pairs: pairs(100_001, 'over'), nx: false });
  assert.ok(refused instanceof ReplyError, String(refused));
  assert.match(refused.message, /^ERR write of \d+ bytes in 100001 operations exceeds the limit of one atomic write \(268435456 bytes, 100000 operations\)$/);
  assert.equal(store.view.get(b('over0')), undefined, 'nothing of it is visible');

  // A write that fits alone but not on top of the turn's pending group makes the store hand that group to
  // the engine first, so no engine write ever exceeds one batch.
  const writes: Array<{ ops: number; bytes: number }> = [];
  const write = engine.write.bind(engine);
  engine.write = (ops) => {
    writes.push({ ops: ops.length, bytes: ops.reduce((n, op) => n + op.key.length + (op.type === 'put' ? op.value.length : 0), 0) });
    return write(ops);
  };
  const pending = store.submit(set('p', 'x'.repeat(900 * 1024)));
  const quarter = 64 * 1024 * 1024 - 64 * 1024; // four of them fit in one batch, but not with the pending SET
  const big = store.submit({ op: 'mset', pairs: [1, 2, 3, 4].map((i) => [b(`q${i}`), Buffer.alloc(quarter, i)] as [Buffer, Buffer]), nx: false });
  assert.equal(await pending, 'OK');
  assert.equal(await big, 'OK');
  assert.deepEqual(writes.map((w) => w.ops), [1, 4], 'the pending SET went first, alone');
  assert.ok(writes.every((w) => w.bytes <= 256 * 1024 * 1024), JSON.stringify(writes));
  assert.equal(engine.get('q4')?.length, quarter);
});

// The store seam: mutations round-trip through their binary form, apply is deterministic and evaluates
// read-modify-write at apply time, EXEC sees its own writes and commits one batch, WATCH aborts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  applyMutation, decodeMutation, encodeMutation, globMatch, MemoryEngine, ScanCursorTable, StandaloneStore, type ApplyContext, type Mutation,
} from '../../src/store/index.js';
import { NIL_ARRAY, ReplyError } from '../../src/resp/index.js';
import { parseInt64 } from '../../src/store/numbers.js';
import { isCaskError, ErrorCode } from '../../src/util/errors.js';

const b = (s: string) => Buffer.from(s);
const ctx = (modified: (key: Buffer, seq: number) => boolean = () => false): ApplyContext => ({
  scanCursors: new ScanCursorTable(),
  random: () => 0.5,
  stringBytesMax: 1024,
  keyBytesMax: 64,
  valueBytesMax: 2048,
  isModifiedSince: modified,
});

const bytesArb = fc.uint8Array({ maxLength: 16 }).map((u) => Buffer.from(u));
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: bytesArb, value: bytesArb, nx: fc.boolean(), xx: fc.boolean(), get: fc.boolean() }),
  fc.record({ op: fc.constant('setnx' as const), key: bytesArb, value: bytesArb }),
  fc.record({ op: fc.constant('mset' as const), pairs: fc.array(fc.tuple(bytesArb, bytesArb), { maxLength: 4 }), nx: fc.boolean() }),
  fc.record({ op: fc.constant('del' as const), keys: fc.array(bytesArb, { maxLength: 4 }) }),
  fc.record({ op: fc.constant('getdel' as const), key: bytesArb }),
  fc.record({ op: fc.constant('incrby' as const), key: bytesArb, by: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n) }),
  fc.record({ op: fc.constant('incrbyfloat' as const), key: bytesArb, by: bytesArb }),
  fc.record({ op: fc.constant('append' as const), key: bytesArb, value: bytesArb }),
  fc.record({ op: fc.constant('setrange' as const), key: bytesArb, offset: fc.nat(1 << 30), value: bytesArb }),
  fc.record({ op: fc.constant('rename' as const), key: bytesArb, newKey: bytesArb, nx: fc.boolean() }),
  fc.record({ op: fc.constant('copy' as const), key: bytesArb, newKey: bytesArb, replace: fc.boolean() }),
  fc.constant({ op: 'flushall' as const }),
  fc.record({
    op: fc.constant('exec' as const),
    commands: fc.array(fc.array(bytesArb, { minLength: 1, maxLength: 4 }), { maxLength: 4 }),
    watch: fc.array(fc.record({ key: bytesArb, sinceSeq: fc.nat() }), { maxLength: 3 }),
  }),
);

test('every mutation survives encode/decode unchanged', () => {
  fc.assert(
    fc.property(mutationArb, (m) => {
      // fast-check builds null-prototype records, so compare a canonical JSON form (bigints tagged).
      const canonical = (x: unknown) => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
      assert.equal(canonical(decodeMutation(encodeMutation(m))), canonical(m));
    }),
    { numRuns: 2000 },
  );
});

test('malformed mutation bytes give a typed corruption error', () => {
  for (const bad of [Buffer.from([]), Buffer.from([99]), Buffer.from([1, 0, 9, 0, 0, 0]), Buffer.concat([encodeMutation({ op: 'flushall' }), Buffer.from([0])])]) {
    assert.throws(() => decodeMutation(bad), (e: unknown) => isCaskError(e, ErrorCode.Corruption));
  }
});

test('apply is pure: it returns ops and a reply and writes nothing itself', () => {
  const engine = new MemoryEngine();
  const r = applyMutation(engine, { op: 'incrby', key: b('n'), by: 5n }, ctx());
  assert.equal(r.reply, 5n);
  assert.deepEqual(r.ops, [{ type: 'put', key: b('n'), value: b('5') }]);
  assert.equal(engine.get('n'), undefined);
});

test('read-modify-write commands evaluate against the state at apply time', async () => {
  const store = new StandaloneStore(new MemoryEngine(), { stringBytesMax: 1024 });
  await store.submit({ op: 'set', key: b('k'), value: b('10'), nx: false, xx: false, get: false });
  assert.equal(await store.submit({ op: 'incrby', key: b('k'), by: -3n }), 7n);
  assert.equal(await store.submit({ op: 'append', key: b('k'), value: b('x') }), 2);
  assert.deepEqual(await store.submit({ op: 'incrby', key: b('k'), by: 1n }), new ReplyError('ERR value is not an integer or out of range'));
  assert.equal(await store.submit({ op: 'mset', pairs: [[b('a'), b('1')], [b('k'), b('2')]], nx: true }), 0);
  assert.equal(store.view.get(b('a')), undefined);
  assert.equal(await store.submit({ op: 'rename', key: b('k'), newKey: b('k2'), nx: false }), 'OK');
  assert.deepEqual(store.view.get(b('k2')), b('7x'));
  assert.equal(await store.submit({ op: 'del', keys: [b('k2'), b('k2'), b('none')] }), 1);
});

test('EXEC: later commands see earlier writes and everything commits as one write', async () => {
  const engine = new MemoryEngine();
  const writes: number[] = [];
  const original = engine.write.bind(engine);
  engine.write = (ops) => {
    writes.push(ops.length);
    return original(ops);
  };
  const store = new StandaloneStore(engine, { stringBytesMax: 1024 });
  const reply = await store.submit({
    op: 'exec',
    watch: [],
    commands: [[b('SET'), b('x'), b('1')], [b('INCR'), b('x')], [b('GET'), b('x')], [b('DBSIZE')], [b('INCR'), b('bad'), b('arity')], [b('DEL'), b('x')], [b('EXISTS'), b('x')], [b('SET'), b('y'), b('2')], [b('KEYS'), b('*')]],
  });
  assert.deepEqual(reply, ['OK', 2n, b('2'), 1, new ReplyError("ERR wrong number of arguments for 'incr' command"), 1, 0, 'OK', [b('y')]]);
  assert.deepEqual(writes, [2]); // x deleted, y put: one atomic batch
  assert.equal(engine.get('x'), undefined);
  assert.deepEqual(engine.get('y'), b('2'));
});

test('a write naming a key or storing a value over its limit is an error reply with no ops, alone or in EXEC', () => {
  const engine = new MemoryEngine();
  const longKey = Buffer.alloc(65, 'k');
  const longValue = Buffer.alloc(2049, 'v');
  const keyError = 'ERR key of 65 bytes exceeds the key limit of 64 bytes';
  const valueError = 'ERR value of 2049 bytes exceeds the value limit of 2048 bytes';
  const cases: Array<[Mutation, string]> = [
    [{ op: 'set', key: longKey, value: b('v'), nx: false, xx: false, get: false }, keyError],
    [{ op: 'set', key: b('k'), value: longValue, nx: false, xx: false, get: false }, valueError],
    [{ op: 'set', key: b('k'), value: longValue, nx: true, xx: false, get: true }, valueError],
    [{ op: 'setnx', key: b('k'), value: longValue }, valueError],
    [{ op: 'mset', pairs: [[b('a'), b('1')], [b('k'), longValue]], nx: false }, valueError],
    [{ op: 'mset', pairs: [[b('a'), b('1')], [longKey, b('2')]], nx: true }, keyError],
  ];
  for (const [m, message] of cases) {
    const r = applyMutation(engine, m, ctx());
    assert.deepEqual(r.ops, [], `${m.op} writes nothing`);
    assert.ok(r.reply instanceof ReplyError && r.reply.message === message, `${m.op}: ${String(r.reply)}`);
  }
  // At the limits exactly, the same writes go through.
  const atLimit = applyMutation(engine, { op: 'mset', pairs: [[Buffer.alloc(64, 'k'), Buffer.alloc(2048, 'v')]], nx: false }, ctx());
  assert.equal(atLimit.reply, 'OK');
  assert.equal(atLimit.ops.length, 1);
  // Inside EXEC only the oversize command fails; the others are applied as one batch.
  const exec = applyMutation(engine, { op: 'exec', commands: [[b('set'), b('x'), b('1')], [b('set'), b('y'), longValue]], watch: [] }, ctx());
  const replies = exec.reply as unknown[];
  assert.equal(replies[0], 'OK');
  assert.ok(replies[1] instanceof ReplyError && replies[1].message === valueError);
  assert.deepEqual(exec.ops, [{ type: 'put', key: b('x'), value: b('1') }]);
});

test('EXEC with FLUSHALL inside sees an empty keyspace afterwards', () => {
  const engine = new MemoryEngine();
  void engine.write([{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 'b', value: '2' }]);
  const r = applyMutation(engine, { op: 'exec', watch: [], commands: [[b('FLUSHALL')], [b('SET'), b('c'), b('3')], [b('DBSIZE')], [b('KEYS'), b('*')]] }, ctx());
  assert.deepEqual(r.reply, ['OK', 'OK', 1, [b('c')]]);
  assert.deepEqual(r.ops.map((o) => [o.type, Buffer.from(o.key as Uint8Array).toString()]), [['delete', 'a'], ['delete', 'b'], ['put', 'c']]);
});

test('WATCH: EXEC aborts (nil array, no ops) when a watched key changed after the watch', async () => {
  const store = new StandaloneStore(new MemoryEngine(), { stringBytesMax: 1024 });
  store.watchKeys([b('w')]);
  const since = store.appliedSeq;
  await store.submit({ op: 'set', key: b('other'), value: b('1'), nx: false, xx: false, get: false });
  const ok = await store.submit({ op: 'exec', watch: [{ key: b('w'), sinceSeq: since }], commands: [[b('SET'), b('w'), b('1')]] });
  assert.deepEqual(ok, ['OK']);
  const since2 = store.appliedSeq;
  await store.submit({ op: 'set', key: b('w'), value: b('2'), nx: false, xx: false, get: false });
  const aborted = await store.submit({ op: 'exec', watch: [{ key: b('w'), sinceSeq: since2 }], commands: [[b('SET'), b('w'), b('3')]] });
  assert.equal(aborted, NIL_ARRAY);
  assert.deepEqual(store.view.get(b('w')), b('2'));
  store.unwatchKeys([b('w')]);
});

test('integers follow string2ll', () => {
  assert.equal(parseInt64(b('-9223372036854775808')), -(2n ** 63n));
  for (const bad of ['', '-', '01', '-0', '+1', ' 1', '1 ', '9223372036854775808', '1e3']) assert.equal(parseInt64(b(bad)), undefined, bad);
});

test('INCRBYFLOAT: Redis long-double results; an infinite sum or a bad float is an error and writes nothing', () => {
  const engine = new MemoryEngine();
  const incr = (key: string, by: string) => applyMutation(engine, { op: 'incrbyfloat', key: b(key), by: b(by) }, ctx());
  assert.deepEqual(incr('f', '0.1').ops, [{ type: 'put', key: b('f'), value: b('0.1') }]);
  void engine.put('g', '18446744073709551616');
  assert.deepEqual(incr('g', '1').reply, b('18446744073709551616'), 'precision is a long double\'s, as in Redis');
  for (const [by, message] of [['inf', 'ERR increment would produce NaN or Infinity'], ['nan', 'ERR value is not a valid float'], [' 1', 'ERR value is not a valid float']] as const) {
    const r = incr('f', by);
    assert.deepEqual(r.ops, []);
    assert.ok(r.reply instanceof ReplyError && r.reply.message === message, `${by}: ${String(r.reply)}`);
  }
});

test('glob patterns match like Redis', () => {
  const m = (p: string, s: string) => globMatch(b(p), b(s));
  assert.ok(m('*', 'anything'));
  assert.ok(m('h?llo', 'hello'));
  assert.ok(m('h[ae]llo', 'hallo'));
  assert.ok(!m('h[^e]llo', 'hello'));
  assert.ok(m('h[a-b]llo', 'hbllo'));
  assert.ok(m('h\\*llo', 'h*llo'));
  assert.ok(!m('h\\*llo', 'hello'));
  assert.ok(m('a*b*c', 'aXXbYYc'));
  assert.ok(!m('a*b*c', 'aXXbYY'));
  assert.ok(!m('a*a*a*a*a*a*a*a*b', 'a'.repeat(40))); // no exponential blow-up
});

test('the in-memory engine iterates in byte order with ranges, prefix, reverse and limit', async () => {
  const e = new MemoryEngine();
  await e.write(['a', 'ab', 'abc', 'b', 'ba', '\xff'].map((k) => ({ type: 'put' as const, key: Buffer.from(k, 'latin1'), value: 'v' })));
  const keys = (o: Parameters<MemoryEngine['keys']>[0]) => [...e.keys(o)].map((k) => k.toString('latin1'));
  assert.deepEqual(keys({}), ['a', 'ab', 'abc', 'b', 'ba', '\xff']);
  assert.deepEqual(keys({ prefix: 'a' }), ['a', 'ab', 'abc']);
  assert.deepEqual(keys({ gt: 'ab', lt: 'ba' }), ['abc', 'b']);
  assert.deepEqual(keys({ gte: 'ab', lte: 'ba', reverse: true }), ['ba', 'b', 'abc', 'ab']);
  assert.deepEqual(keys({ prefix: 'a', gt: 'a', limit: 1 }), ['ab']);
});

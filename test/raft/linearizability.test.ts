// The Wing–Gong/Lowe linearizability checker used by the simulator (and later by the cluster tests):
// known-good and known-bad histories, operations that never returned, and a property — a history built
// around real linearization points is always accepted; a read of a value that was never current is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type KvInput, type KvOutput, type Operation, checkLinearizability, kvModel } from '../../src/raft/sim/linearizability.js';

const put = (client: number, key: string, value: string, call: number, ret: number | undefined): Operation<KvInput, KvOutput> => ({
  client,
  input: { op: 'put', key, value },
  output: ret === undefined ? undefined : null,
  call,
  ret,
});
const get = (client: number, key: string, output: KvOutput | undefined, call: number, ret: number | undefined): Operation<KvInput, KvOutput> => ({
  client,
  input: { op: 'get', key },
  output,
  call,
  ret,
});

test('a stale read after a completed write is not linearizable', () => {
  const r = checkLinearizability([put(1, 'k', 'a', 1, 2), get(2, 'k', null, 3, 4)], kvModel);
  assert.equal(r.result, 'illegal');
});

test('reads concurrent with a write may see either value, but not flip back', () => {
  assert.equal(checkLinearizability([put(1, 'k', 'a', 1, 10), get(2, 'k', null, 2, 3), get(3, 'k', 'a', 4, 5)], kvModel).result, 'ok');
  // Once one read saw 'a' and returned, a later read may not see the old value.
  assert.equal(
    checkLinearizability([put(1, 'k', 'a', 1, 10), get(2, 'k', 'a', 2, 3), get(3, 'k', null, 4, 5)], kvModel).result,
    'illegal',
  );
});

test('a write that never returned may have taken effect, or not', () => {
  assert.equal(checkLinearizability([put(1, 'k', 'a', 1, undefined), get(2, 'k', 'a', 5, 6)], kvModel).result, 'ok');
  assert.equal(checkLinearizability([put(1, 'k', 'a', 1, undefined), get(2, 'k', null, 5, 6)], kvModel).result, 'ok');
  // …but not before it was called.
  assert.equal(checkLinearizability([get(2, 'k', 'a', 1, 2), put(1, 'k', 'a', 3, undefined)], kvModel).result, 'illegal');
});

test('keys are checked independently (P-compositionality)', () => {
  const h = [put(1, 'x', '1', 1, 2), put(2, 'y', '2', 1, 2), get(3, 'x', '1', 3, 4), get(3, 'y', null, 5, 6)];
  const r = checkLinearizability(h, kvModel);
  assert.equal(r.result, 'illegal');
  assert.equal(r.result === 'illegal' && (r.partition[0]!.input as KvInput).key, 'y');
});

/** A random sequential execution on one register, each op stretched over an interval around its point. */
const historyArb = fc
  .array(fc.record({ isPut: fc.boolean(), client: fc.integer({ min: 1, max: 4 }), before: fc.nat(6), after: fc.nat(6) }), { minLength: 1, maxLength: 40 })
  .map((steps) => {
    let value: string | null = null;
    const ops: Operation<KvInput, KvOutput>[] = [];
    steps.forEach((s, i) => {
      const point = (i + 1) * 4;
      const call = point - s.before;
      const ret = point + s.after;
      if (s.isPut) {
        value = `v${i}`;
        ops.push(put(s.client, 'k', value, call, ret));
      } else {
        ops.push(get(s.client, 'k', value, call, ret));
      }
    });
    return ops;
  });

test('property: histories around real linearization points are accepted', () => {
  fc.assert(fc.property(historyArb, (h) => assert.equal(checkLinearizability(h, kvModel).result, 'ok')), { numRuns: 300 });
});

test('property: a read of a value that was never written is rejected', () => {
  fc.assert(
    fc.property(historyArb, fc.nat(), (h, pick) => {
      const reads = h.map((o, i) => [o, i] as const).filter(([o]) => o.input.op === 'get');
      fc.pre(reads.length > 0);
      const [, i] = reads[pick % reads.length]!;
      const bad = h.slice();
      bad[i] = { ...bad[i]!, output: 'never-written' };
      assert.equal(checkLinearizability(bad, kvModel).result, 'illegal');
    }),
    { numRuns: 300 },
  );
});

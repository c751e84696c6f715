// The Raft byte codec: decode(encode(x)) deep-equals x for every message, entry list, conf change and
// snapshot (property tests), and malformed bytes — truncated at any point or trailing junk — raise
// CASKDB_CORRUPTION rather than crashing or returning garbage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeConfChange,
  decodeEntries,
  decodeMessage,
  decodeSnapshot,
  encodeConfChange,
  encodeEntries,
  encodeMessage,
  encodeSnapshot,
} from '../../src/raft/codec.js';
import { type Entry, type Message, type Snapshot, MessageType } from '../../src/raft/types.js';
import { ErrorCode, isCaskError } from '../../src/util/errors.js';

const u = fc.oneof(fc.nat(1000), fc.maxSafeNat());
const bytes = fc.uint8Array({ maxLength: 64 });
// fast-check builds records without a prototype; the decoder returns plain objects.
const plain = <T extends object>(o: T): T => ({ ...o });
const entryArb: fc.Arbitrary<Entry> = fc.record({ term: u, index: u, type: fc.constantFrom(0 as const, 1 as const), data: bytes }).map(plain);
const snapshotArb: fc.Arbitrary<Snapshot> = fc.record({
  metadata: fc.record({
    index: u,
    term: u,
    confState: fc.record({ voters: fc.array(u, { maxLength: 7 }), learners: fc.array(u, { maxLength: 3 }) }).map(plain),
  }).map(plain),
  data: bytes,
}).map(plain);
const messageArb: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(...Object.values(MessageType)),
  to: u,
  from: u,
  term: u,
  logTerm: u,
  index: u,
  entries: fc.array(entryArb, { maxLength: 5 }),
  commit: u,
  reject: fc.boolean(),
  rejectHint: u,
  context: bytes,
  snapshot: fc.option(snapshotArb, { nil: undefined }),
}).map(plain);

test('messages round-trip through encodeMessage/decodeMessage', () => {
  fc.assert(fc.property(messageArb, (m) => assert.deepEqual(decodeMessage(encodeMessage(m)), m)), { numRuns: 500 });
});

test('entries, conf changes and snapshots round-trip', () => {
  fc.assert(fc.property(fc.array(entryArb, { maxLength: 10 }), (es) => assert.deepEqual(decodeEntries(encodeEntries(es)), es)));
  fc.assert(
    fc.property(fc.record({ type: fc.constantFrom(0 as const, 1 as const, 2 as const), nodeId: u, context: bytes }).map(plain), (cc) =>
      assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc),
    ),
  );
  fc.assert(fc.property(snapshotArb, (s) => assert.deepEqual(decodeSnapshot(encodeSnapshot(s)), s)));
});

test('a message cut short at any byte, or followed by junk, is a typed corruption error', () => {
  fc.assert(
    fc.property(messageArb, fc.nat(), (m, cut) => {
      const buf = encodeMessage(m);
      const at = cut % buf.length;
      assert.throws(() => decodeMessage(buf.subarray(0, at)), (e: unknown) => isCaskError(e, ErrorCode.Corruption));
      const longer = new Uint8Array(buf.length + 1);
      longer.set(buf);
      assert.throws(() => decodeMessage(longer), (e: unknown) => isCaskError(e, ErrorCode.Corruption));
    }),
    { numRuns: 300 },
  );
});

test('random bytes never crash the decoder: they decode or raise CASKDB_CORRUPTION', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (buf) => {
      try {
        decodeMessage(buf);
      } catch (e) {
        assert.ok(isCaskError(e, ErrorCode.Corruption), String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

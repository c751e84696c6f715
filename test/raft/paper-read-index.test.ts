// Paper tests for linearizable reads (dissertation §6.4 ReadIndex, §6.4.1 leases) and the Ready contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, StateType } from '../../src/raft/types.js';
import { ErrorCode, isCaskError } from '../../src/util/errors.js';
import { Cluster, dec, enc, ids, msg, newRaft, readMessages, electLeader } from './harness.js';

test('§6.4: the leader answers ReadIndex with its commit index only after a heartbeat round confirms it still leads', () => {
  const r = newRaft(1, ids(3));
  electLeader(r);
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 1 }));
  readMessages(r);
  r.step(msg({ type: MessageType.ReadIndex, context: enc.encode('rd1') }));
  assert.equal(r.readStates.length, 0, 'not before the quorum check');
  const hbs = readMessages(r).filter((m) => m.type === MessageType.Heartbeat);
  assert.deepEqual(hbs.map((m) => dec.decode(m.context)), ['rd1', 'rd1']);
  r.step(msg({ type: MessageType.HeartbeatResp, from: 2, to: 1, term: 1, context: enc.encode('rd1') }));
  assert.deepEqual(r.readStates.map((s) => [s.index, dec.decode(s.requestContext)]), [[1, 'rd1']]);
});

test('§6.4 step 1: a new leader defers ReadIndex until it has committed an entry of its own term', () => {
  const r = newRaft(1, ids(3));
  electLeader(r);
  readMessages(r);
  r.step(msg({ type: MessageType.ReadIndex, context: enc.encode('early') }));
  assert.equal(readMessages(r).filter((m) => m.type === MessageType.Heartbeat).length, 0);
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 1 }));
  const hbs = readMessages(r).filter((m) => m.type === MessageType.Heartbeat);
  assert.equal(hbs.length, 2, 'released once the no-op committed');
  r.step(msg({ type: MessageType.HeartbeatResp, from: 3, to: 1, term: 1, context: enc.encode('early') }));
  assert.equal(r.readStates[0]?.index, 1);
});

test('§6.4: a follower forwards ReadIndex to the leader and gets the read index back', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.node(1).propose(enc.encode('a'));
  c.stabilize();
  c.node(3).readIndex(enc.encode('r3'));
  c.stabilize();
  const out = c.takeOutput().filter((l) => l.includes('readState'));
  assert.deepEqual(out, ['n3: readState index=2 context=r3']);
});

test('§6.4: a leader cut off from the majority cannot serve a ReadIndex read (it would be stale)', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.isolate(1);
  c.node(1).readIndex(enc.encode('stale?'));
  c.stabilize();
  c.tickAll(5);
  assert.equal(c.takeOutput().filter((l) => l.includes('readState')).length, 0);
});

test('§6.4: without a known leader ReadIndex is refused with NotLeader', () => {
  const r = newRaft(2, ids(3));
  assert.deepEqual(r.step(msg({ type: MessageType.ReadIndex, context: enc.encode('x') })), { kind: 'not-leader', leaderHint: 0 });
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  assert.throws(() => c.node(2).readIndex(enc.encode('x')), (e: unknown) => isCaskError(e, ErrorCode.NotLeader));
});

test('§6.4.1 lease-based reads (requires check-quorum): answered at once while a quorum acknowledged a recent heartbeat', () => {
  assert.throws(() => newRaft(1, ids(3), { readOnlyOption: 'lease-based', checkQuorum: false }), /checkQuorum/);
  const r = newRaft(1, ids(3), { readOnlyOption: 'lease-based', checkQuorum: true, electionTimeoutTicks: 10 });
  electLeader(r);
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 1 }));
  readMessages(r);
  // No heartbeat acknowledged yet: no lease, so the read takes the safe path (a heartbeat round).
  r.step(msg({ type: MessageType.ReadIndex, context: enc.encode('no-lease') }));
  assert.equal(r.readStates.length, 0);
  const hb = readMessages(r).find((m) => m.type === MessageType.Heartbeat)!;
  r.step(msg({ type: MessageType.HeartbeatResp, from: 2, to: 1, term: 1, context: hb.context, index: hb.index }));
  assert.equal(r.readStates.length, 1, 'answered by the heartbeat round');
  r.readStates = [];
  // That acknowledgement (of a heartbeat sent at the leader's tick hb.index) is a lease: reads are immediate.
  r.step(msg({ type: MessageType.ReadIndex, context: enc.encode('lease') }));
  assert.equal(r.readStates[0]?.index, 1);
  assert.equal(readMessages(r).filter((m) => m.type === MessageType.Heartbeat && m.context.byteLength > 0).length, 0);
  r.readStates = [];
  // electionTimeout − margin ticks after that heartbeat was sent, the lease has run out.
  for (let i = 0; i < 8; i++) r.tick();
  readMessages(r);
  r.step(msg({ type: MessageType.ReadIndex, context: enc.encode('expired') }));
  assert.equal(r.readStates.length, 0, 'no lease: back to a heartbeat round');
  assert.ok(readMessages(r).some((m) => m.type === MessageType.Heartbeat && dec.decode(m.context) === 'expired'));
});

test('§6.4.1 lease: void once the leader has sent TimeoutNow (its receiver can win despite the leases)', () => {
  const r = newRaft(1, ids(3), { readOnlyOption: 'lease-based', checkQuorum: true });
  electLeader(r);
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 1 }));
  r.step(msg({ type: MessageType.AppResp, from: 3, to: 1, term: 1, index: 1 }));
  r.step(msg({ type: MessageType.HeartbeatResp, from: 2, to: 1, term: 1, index: 0 }));
  assert.equal(r.leaseValid(), true);
  r.step(msg({ type: MessageType.TransferLeader, from: 3 }));
  assert.ok(readMessages(r).some((m) => m.type === MessageType.TimeoutNow));
  for (let i = 0; i < 10; i++) r.tick(); // the transfer is abandoned…
  assert.equal(r.leadTransferee, 0);
  assert.equal(r.leaseValid(), false, '…but the lease stays void for this term');
});

test('§6.4.1 lease: a leader in the middle of a leadership transfer does not serve lease reads', () => {
  const r = newRaft(1, ids(3), { readOnlyOption: 'lease-based', checkQuorum: true });
  electLeader(r);
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 1 }));
  r.step(msg({ type: MessageType.HeartbeatResp, from: 2, to: 1, term: 1, index: 0 }));
  r.step(msg({ type: MessageType.TransferLeader, from: 3 }));
  r.step(msg({ type: MessageType.ReadIndex, context: enc.encode('during') }));
  assert.equal(r.readStates.length, 0);
});

test('Ready contract: entries and a changed term/vote come with mustSync; messages come in the same Ready as what they depend on', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  const n = c.node(1);
  n.campaign();
  const rd = n.ready();
  assert.equal(rd.mustSync, true, 'term and vote changed');
  assert.equal(rd.hardState?.term, 1);
  assert.equal(rd.hardState?.vote, 1);
  assert.deepEqual(rd.messages.map((m) => m.type), [MessageType.Vote, MessageType.Vote]);
  assert.equal(rd.softState?.state, StateType.Candidate);
  n.advance();
  assert.equal(n.hasReady(), false);
  assert.throws(() => n.advance(), /advance\(\) without ready\(\)/);
});

test('Ready contract: committed entries are handed out once, and advance() marks them applied', () => {
  const c = new Cluster([1], { preVote: false, checkQuorum: false });
  const n = c.node(1);
  n.campaign();
  let rd = n.ready();
  // A single voter: the no-op is appended and committed in the same Ready (persist first, then apply).
  assert.equal(rd.entries.length, 1);
  assert.equal(rd.committedEntries.length, 1);
  c.storage(1).append(rd.entries);
  n.advance();
  n.propose(enc.encode('x'));
  rd = n.ready();
  assert.deepEqual(rd.committedEntries.map((e) => dec.decode(e.data)), ['x']);
  c.storage(1).append(rd.entries);
  n.advance();
  assert.equal(n.status().applied, 2);
  assert.equal(n.hasReady(), false);
});

test('network input: local-only message types are refused (a peer cannot drive our timers)', () => {
  const c = new Cluster(ids(3));
  assert.throws(() => c.node(1).step(msg({ type: MessageType.Hup, from: 2, to: 1 })), (e: unknown) => isCaskError(e, ErrorCode.InvalidArgument));
});

test('bounds: a leader holds at most readIndexPendingMax ReadIndex requests, then refuses with LimitExceeded', () => {
  const r = newRaft(1, ids(3), { readIndexPendingMax: 2 });
  electLeader(r);
  assert.equal(r.step(msg({ type: MessageType.ReadIndex, context: enc.encode('a') })), undefined);
  assert.equal(r.step(msg({ type: MessageType.ReadIndex, context: enc.encode('b') })), undefined);
  assert.deepEqual(r.step(msg({ type: MessageType.ReadIndex, context: enc.encode('c') })), { kind: 'read-limit' });
});

// Paper tests for membership changes (dissertation chapter 4; paper §6), snapshots and log compaction
// (paper §7; dissertation chapter 5) and leadership transfer (dissertation §3.10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeConfChange } from '../../src/raft/codec.js';
import { ConfChangeType, EntryType, MessageType, NONE, StateType } from '../../src/raft/types.js';
import { ErrorCode, isCaskError } from '../../src/util/errors.js';
import { Cluster, electLeader, enc, ids, msg, newRaft, readMessages } from './harness.js';

const none = new Uint8Array(0);
const addVoter = (nodeId: number) => ({ type: ConfChangeType.AddVoter, nodeId, context: none });
const addLearner = (nodeId: number) => ({ type: ConfChangeType.AddLearner, nodeId, context: none });
const remove = (nodeId: number) => ({ type: ConfChangeType.RemoveNode, nodeId, context: none });

test('§4.1: a configuration takes effect as soon as its entry is appended, before it commits', () => {
  const r = newRaft(1, ids(3));
  electLeader(r);
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 1 }));
  assert.equal(r.log.committed, 1);
  r.step(msg({ type: MessageType.Prop, entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(addVoter(4)) }] }));
  assert.deepEqual(r.conf().voters, [1, 2, 3, 4], 'in force while uncommitted');
  assert.ok(r.prs.has(4), 'the leader replicates to the new member at once');
  // Commitment now needs 3 of the 4 voters.
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 2 }));
  assert.equal(r.log.committed, 1);
  r.step(msg({ type: MessageType.AppResp, from: 3, to: 1, term: 1, index: 2 }));
  assert.equal(r.log.committed, 2);
});

test('§4.1: a follower reverts to the previous configuration when the uncommitted conf entry is truncated', () => {
  const r = newRaft(2, ids(3));
  const cc = { term: 1, index: 1, type: EntryType.ConfChange, data: encodeConfChange(remove(3)) };
  r.step(msg({ type: MessageType.App, from: 1, to: 2, term: 1, index: 0, logTerm: 0, entries: [cc] }));
  assert.deepEqual(r.conf().voters, [1, 2]);
  // A new leader of term 2 overwrites index 1.
  r.step(msg({ type: MessageType.App, from: 3, to: 2, term: 2, index: 0, logTerm: 0, entries: [{ term: 2, index: 1, type: EntryType.Normal, data: none }] }));
  assert.deepEqual(r.conf().voters, [1, 2, 3]);
});

test('§4.1: only one membership change may be in progress; the next waits until the first commits', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.isolate(2);
  c.isolate(3);
  c.node(1).proposeConfChange(addLearner(4));
  c.stabilize();
  assert.throws(() => c.node(1).proposeConfChange(addLearner(5)), (e: unknown) => isCaskError(e, ErrorCode.LimitExceeded));
  c.heal();
  c.tickAll(1);
  c.node(1).proposeConfChange(addLearner(5));
});

test('§4.1 (the single-server change bug fix): a new leader changes membership only after committing an entry of its term', () => {
  const r = newRaft(1, ids(3));
  r.step(msg({ type: MessageType.Hup }));
  r.step(msg({ type: MessageType.VoteResp, from: 2, to: 1, term: 1 }));
  assert.equal(r.state, StateType.Leader);
  assert.equal(r.step(msg({ type: MessageType.Prop, entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(addVoter(4)) }] }))?.kind, 'conf-change-pending');
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 1 }));
  assert.equal(r.step(msg({ type: MessageType.Prop, entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(addVoter(4)) }] })), undefined);
});

test('§4.2.1: a learner receives the log but neither votes in commitment nor campaigns; promotion makes it a voter', () => {
  // Bootstrapped through the log, so that the joiner learns the initial configuration by replication.
  const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false }, true);
  c.campaign(1);
  c.add(4); // starts with an empty log and configuration: it waits to be contacted
  c.node(1).proposeConfChange(addLearner(4));
  c.stabilize();
  c.node(1).propose(enc.encode('x'));
  c.stabilize();
  c.tickAll(1);
  assert.deepEqual(c.appliedData(4), ['x'], 'the learner replicates');
  assert.deepEqual(c.raft(1).conf().learners, [4]);
  for (let i = 0; i < 50; i++) c.tick(4);
  assert.equal(c.raft(4).state, StateType.Follower, 'a learner never campaigns');
  // Commitment does not count the learner: with 2 and 3 gone, nothing commits.
  c.isolate(2);
  c.isolate(3);
  c.node(1).propose(enc.encode('y'));
  c.stabilize();
  assert.equal(c.raft(1).log.committed, c.raft(1).log.lastIndex() - 1);
  c.heal();
  c.tickAll(1);
  c.node(1).proposeConfChange(addVoter(4));
  c.stabilize();
  assert.deepEqual(c.raft(4).conf().voters, [1, 2, 3, 4]);
  assert.ok(c.raft(4).promotable());
});

test('§4.2.2: a leader that removes itself keeps leading until the change commits, then steps down', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.isolate(2);
  c.isolate(3);
  c.node(1).proposeConfChange(remove(1));
  c.stabilize();
  assert.equal(c.raft(1).state, StateType.Leader, 'still leading while the change is uncommitted');
  assert.deepEqual(c.raft(1).conf().voters, [2, 3]);
  c.heal();
  c.tick(1);
  c.stabilize();
  assert.equal(c.raft(1).state, StateType.Follower);
  c.tickAll(40);
  const leader = c.leader();
  assert.ok(leader === 2 || leader === 3, `new leader among the remaining voters, got ${leader}`);
  c.node(leader).propose(enc.encode('after'));
  c.stabilize();
  c.tickAll(1);
  assert.deepEqual(c.appliedData(2).at(-1), 'after');
});

test('§4.1: removing a follower shrinks the quorum (2 of 2 → commit needs both remaining voters)', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.node(1).proposeConfChange(remove(3));
  c.stabilize();
  c.isolate(3);
  c.node(1).propose(enc.encode('x'));
  c.stabilize();
  assert.equal(c.raft(1).log.committed, c.raft(1).log.lastIndex());
  c.isolate(2);
  c.node(1).propose(enc.encode('y'));
  c.stabilize();
  assert.equal(c.raft(1).log.committed, c.raft(1).log.lastIndex() - 1, 'the remaining follower is needed');
});

test('§7 / dissertation §5.1: a follower whose next entry was compacted gets the snapshot, installs it and catches up', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.crash(3);
  for (const v of ['a', 'b', 'c']) c.node(1).propose(enc.encode(v));
  c.stabilize();
  const s1 = c.storage(1);
  const applied = c.raft(1).log.applied;
  s1.createSnapshot(applied, c.node(1).confStateAt(applied), enc.encode('image@' + applied));
  s1.compact(applied);
  c.restart(3);
  c.node(1).propose(enc.encode('d'));
  c.stabilize();
  c.tickAll(2);
  assert.equal(c.storage(3).snapshot().metadata.index, applied, 'snapshot installed on node 3');
  assert.equal(c.raft(3).log.committed, c.raft(1).log.committed);
  assert.deepEqual(c.appliedData(3), ['d'], 'entries after the snapshot are applied normally');
});

test('§7: a follower ignores a snapshot that its commit index already covers', () => {
  const r = newRaft(2, ids(3));
  r.step(msg({ type: MessageType.App, from: 1, to: 2, term: 1, index: 0, logTerm: 0, commit: 2, entries: [
    { term: 1, index: 1, type: EntryType.Normal, data: none },
    { term: 1, index: 2, type: EntryType.Normal, data: none },
  ] }));
  readMessages(r);
  const snapshot = { metadata: { index: 1, term: 1, confState: { voters: ids(3), learners: [] } }, data: none };
  r.step(msg({ type: MessageType.Snap, from: 1, to: 2, term: 1, snapshot }));
  assert.equal(r.log.unstable.snapshot, undefined);
  const resp = readMessages(r)[0]!;
  assert.equal(resp.type, MessageType.AppResp);
  assert.equal(resp.index, 2, 'answers with its commit index');
});

test('§3.10 leadership transfer: to an up-to-date follower, which wins at once via TimeoutNow', () => {
  const c = new Cluster(ids(3), { preVote: true, checkQuorum: true });
  c.campaign(1);
  c.node(1).transferLeadership(2);
  c.stabilize();
  assert.equal(c.leader(), 2);
  assert.equal(c.raft(1).state, StateType.Follower);
  assert.equal(c.raft(2).term, 2);
});

test('§3.10 leadership transfer: a lagging transferee is caught up first; proposals are refused meanwhile', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.isolate(3);
  c.node(1).propose(enc.encode('x'));
  c.stabilize();
  c.node(1).transferLeadership(3);
  assert.equal(c.raft(1).leadTransferee, 3);
  assert.throws(() => c.node(1).propose(enc.encode('y')), (e: unknown) => isCaskError(e, ErrorCode.NotLeader));
  c.heal();
  c.tickAll(2);
  assert.equal(c.leader(), 3);
  assert.deepEqual(c.appliedData(3), ['x']);
});

test('§3.10 leadership transfer: abandoned after an election timeout if the transferee does not take over', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false, electionTimeoutTicks: 10 });
  c.campaign(1);
  c.isolate(3);
  c.node(1).transferLeadership(3);
  for (let i = 0; i < 10; i++) c.tick(1);
  assert.equal(c.raft(1).leadTransferee, NONE);
  assert.equal(c.leader(), 1);
  c.node(1).propose(enc.encode('accepted again'));
});

test('§3.10 leadership transfer requested on a follower is forwarded to the leader with the transferee intact', () => {
  const c = new Cluster(ids(3), { preVote: true, checkQuorum: true });
  c.campaign(1);
  c.node(2).transferLeadership(3);
  c.stabilize();
  assert.equal(c.leader(), 3);
});

// Paper tests for leader election: each test names the section of the Raft paper (Ongaro & Ousterhout,
// "In Search of an Understandable Consensus Algorithm") or of Ongaro's dissertation that it checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType, NONE, StateType } from '../../src/raft/types.js';
import { Cluster, electLeader, enc, entry, ids, msg, newRaft, newStorage, readMessages } from './harness.js';

test('§5.1: a server that sees a higher term adopts it and reverts to follower', () => {
  for (const state of ['follower', 'candidate', 'leader'] as const) {
    const r = newRaft(1, ids(3));
    if (state === 'candidate') r.step(msg({ type: MessageType.Hup }));
    if (state === 'leader') electLeader(r);
    r.step(msg({ type: MessageType.App, from: 2, to: 1, term: r.term + 1 }));
    assert.equal(r.state, StateType.Follower, state);
    assert.equal(r.term, state === 'follower' ? 1 : 2);
    assert.equal(r.lead, 2);
  }
});

test('§5.1: a request with a stale term is rejected (answered with the current term, not acted on)', () => {
  const r = newRaft(1, ids(3), { checkQuorum: true });
  r.becomeFollower(2, 2);
  r.step(msg({ type: MessageType.App, from: 3, to: 1, term: 1, index: 0, logTerm: 0, entries: [entry(1, 1)] }));
  assert.equal(r.log.lastIndex(), 0, 'stale append must not touch the log');
  const out = readMessages(r);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.type, MessageType.AppResp);
  assert.equal(out[0]!.term, 2, 'the stale leader learns the newer term');
});

test('§5.2: a follower that hears nothing for an election timeout becomes candidate, votes for itself and requests votes', () => {
  const r = newRaft(1, ids(3), { electionTimeoutTicks: 10 });
  for (let i = 0; i < 2 * 10; i++) r.tick();
  assert.equal(r.state, StateType.Candidate);
  assert.equal(r.term, 1);
  assert.equal(r.vote, 1);
  const votes = readMessages(r).filter((m) => m.type === MessageType.Vote);
  assert.deepEqual(votes.map((m) => m.to).sort(), [2, 3]);
  for (const v of votes) assert.equal(v.term, 1);
});

test('§5.2: a candidate wins with votes from a majority and loses with rejections from a majority', () => {
  const cases: { size: number; grants: number[]; rejects: number[]; want: number }[] = [
    { size: 1, grants: [], rejects: [], want: StateType.Leader },
    { size: 3, grants: [2], rejects: [], want: StateType.Leader },
    { size: 3, grants: [], rejects: [2], want: StateType.Candidate },
    { size: 3, grants: [], rejects: [2, 3], want: StateType.Follower },
    { size: 5, grants: [2], rejects: [], want: StateType.Candidate },
    { size: 5, grants: [2, 3], rejects: [], want: StateType.Leader },
    { size: 5, grants: [2], rejects: [3, 4], want: StateType.Candidate },
    { size: 5, grants: [], rejects: [2, 3, 4], want: StateType.Follower },
  ];
  for (const c of cases) {
    const r = newRaft(1, ids(c.size));
    r.step(msg({ type: MessageType.Hup }));
    for (const id of c.grants) r.step(msg({ type: MessageType.VoteResp, from: id, to: 1, term: 1 }));
    for (const id of c.rejects) r.step(msg({ type: MessageType.VoteResp, from: id, to: 1, term: 1, reject: true }));
    assert.equal(r.state, c.want, JSON.stringify(c));
  }
});

test('§5.2: a server votes for at most one candidate per term, first come first served', () => {
  const r = newRaft(1, ids(3));
  r.step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 1, index: 0, logTerm: 0 }));
  r.step(msg({ type: MessageType.Vote, from: 3, to: 1, term: 1, index: 0, logTerm: 0 }));
  r.step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 1, index: 0, logTerm: 0 }));
  const resps = readMessages(r).map((m) => [m.to, m.reject]);
  assert.deepEqual(resps, [
    [2, false],
    [3, true],
    [2, false], // a repeated request from the same candidate is granted again (idempotent)
  ]);
  assert.equal(r.vote, 2);
});

test('§5.2: a candidate that hears from a leader of its term steps down to follower', () => {
  const r = newRaft(1, ids(3));
  r.step(msg({ type: MessageType.Hup }));
  assert.equal(r.state, StateType.Candidate);
  r.step(msg({ type: MessageType.App, from: 2, to: 1, term: 1, index: 0, logTerm: 0 }));
  assert.equal(r.state, StateType.Follower);
  assert.equal(r.lead, 2);
});

test('§5.2: election timeouts are randomized in [electionTimeout, 2·electionTimeout)', () => {
  const seen = new Set<number>();
  for (let id = 1; id <= 40; id++) {
    const r = newRaft(id, [id, 100, 101], { electionTimeoutTicks: 10 });
    let ticks = 0;
    while (r.state === StateType.Follower) {
      r.tick();
      ticks++;
      assert.ok(ticks < 20, 'campaigned too late');
    }
    assert.ok(ticks >= 10, `campaigned after only ${ticks} ticks`);
    seen.add(ticks);
  }
  assert.ok(seen.size > 3, `timeouts are not spread: ${[...seen]}`);
});

test('§5.2: a split vote resolves: an election eventually elects exactly one leader', () => {
  const c = new Cluster(ids(5), { preVote: false, checkQuorum: false });
  for (let i = 0; i < 100 && c.leader() === undefined; i++) c.tickAll();
  const leaders = [...c.nodes.keys()].filter((id) => c.raft(id).state === StateType.Leader);
  assert.equal(leaders.length, 1);
});

test('§5.4.1: a voter denies its vote to a candidate whose log is less up-to-date', () => {
  // The voter's log ends at term 2, index 2.
  const cases = [
    { logTerm: 1, index: 5, granted: false }, // older last term loses regardless of length
    { logTerm: 2, index: 1, granted: false }, // same term, shorter log
    { logTerm: 2, index: 2, granted: true },
    { logTerm: 2, index: 3, granted: true },
    { logTerm: 3, index: 1, granted: true }, // newer last term wins regardless of length
  ];
  for (const c of cases) {
    const storage = newStorage(ids(3));
    storage.append([entry(1, 1), entry(2, 2)]);
    storage.setHardState({ term: 2, vote: NONE, commit: 0 });
    const r = newRaft(1, ids(3), {}, storage);
    r.step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 3, logTerm: c.logTerm, index: c.index }));
    const resp = readMessages(r).find((m) => m.type === MessageType.VoteResp)!;
    assert.equal(!resp.reject, c.granted, JSON.stringify(c));
  }
});

test('§5.1/§3.8: term and vote survive a restart, so a restarted server does not vote twice in a term', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.node(2).raft.step(msg({ type: MessageType.Vote, from: 1, to: 2, term: 5, index: 0, logTerm: 0 }));
  c.handleReady(2);
  c.crash(2);
  c.restart(2);
  const r = c.raft(2);
  assert.equal(r.term, 5);
  assert.equal(r.vote, 1);
  r.step(msg({ type: MessageType.Vote, from: 3, to: 2, term: 5, index: 0, logTerm: 0 }));
  const resp = readMessages(r).find((m) => m.type === MessageType.VoteResp)!;
  assert.equal(resp.reject, true);
});

test('§9.6 pre-vote: a partitioned node does not inflate its term, and its return does not depose the leader', () => {
  const c = new Cluster(ids(3), { preVote: true, checkQuorum: false });
  c.campaign(1);
  assert.equal(c.leader(), 1);
  c.isolate(3);
  for (let i = 0; i < 100; i++) c.tick(3);
  c.stabilize();
  assert.equal(c.raft(3).term, 1, 'pre-vote kept the isolated node at term 1');
  assert.equal(c.raft(3).state, StateType.PreCandidate);
  c.heal();
  c.tickAll(3);
  assert.equal(c.leader(), 1);
  assert.equal(c.raft(1).term, 1, 'the leader was not disrupted');
});

test('§9.6 without pre-vote: the same partition does disrupt the leader (contrast)', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.isolate(3);
  for (let i = 0; i < 100; i++) c.tick(3);
  c.stabilize();
  assert.ok(c.raft(3).term > 2);
  c.heal();
  c.tickAll(40);
  assert.ok(c.raft(1).term > 1, 'the higher term forced a new election');
});

test('§6.2 check-quorum: a leader that cannot reach a majority for an election timeout steps down', () => {
  const c = new Cluster(ids(3), { preVote: true, checkQuorum: true, electionTimeoutTicks: 10 });
  c.campaign(1);
  assert.equal(c.leader(), 1);
  c.isolate(1);
  for (let i = 0; i < 21; i++) c.tick(1);
  assert.equal(c.raft(1).state, StateType.Follower);
});

test('§4.2.3 disruptive servers: with check-quorum, followers that hear from a leader ignore higher-term vote requests', () => {
  const r = newRaft(2, ids(3), { checkQuorum: true, electionTimeoutTicks: 10 });
  r.step(msg({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1 }));
  readMessages(r);
  r.step(msg({ type: MessageType.Vote, from: 3, to: 2, term: 5, index: 9, logTerm: 4 }));
  assert.equal(r.term, 1, 'term unchanged');
  assert.deepEqual(readMessages(r), [], 'the request is ignored');
  // Once the lease has run out, the vote can be granted.
  for (let i = 0; i < 10; i++) r.tick();
  r.step(msg({ type: MessageType.Vote, from: 3, to: 2, term: 5, index: 9, logTerm: 4 }));
  assert.equal(r.term, 5);
  assert.equal(r.vote, 3);
});

test('§5.4 leader completeness: a leader elected after a failure holds every committed entry', () => {
  const c = new Cluster(ids(5), { preVote: true, checkQuorum: true });
  c.campaign(1);
  // Entries reach only 1, 2, 3 (a bare majority) and commit.
  c.isolate(4);
  c.isolate(5);
  for (const v of ['a', 'b', 'c']) c.node(1).propose(enc.encode(v));
  c.stabilize();
  const committed = c.raft(1).log.committed;
  assert.equal(committed, 4);
  // The leader dies; 4 and 5 rejoin with stale logs and campaign; only 2 or 3 can win.
  c.heal();
  c.crash(1);
  for (let i = 0; i < 200 && c.leader() === undefined; i++) c.tickAll();
  const leader = c.leader()!;
  assert.ok(leader === 2 || leader === 3, `leader ${leader} must be one that holds the committed entries`);
  for (let i = 1; i <= committed; i++) assert.equal(c.raft(leader).log.term(i), 1);
  c.tickAll(2);
  for (const id of [2, 3, 4, 5]) assert.deepEqual(c.appliedData(id), ['a', 'b', 'c'], `node ${id}`);
});

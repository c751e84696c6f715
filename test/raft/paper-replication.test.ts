// Paper tests for log replication and commitment (Raft paper §5.3, §5.4; dissertation §3.5, §3.6, §10.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, MessageType, NONE, StateType } from '../../src/raft/types.js';
import { isCaskError, ErrorCode } from '../../src/util/errors.js';
import { Cluster, electLeader, enc, entry, ids, msg, newRaft, newStorage, readMessages } from './harness.js';

test('§5.3: the leader appends a proposal to its log and sends it with prevLogIndex/prevLogTerm to every follower', () => {
  const r = newRaft(1, ids(3));
  electLeader(r);
  // Both followers acknowledge the no-op (index 1), which moves them to the replicate state.
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 1 }));
  r.step(msg({ type: MessageType.AppResp, from: 3, to: 1, term: 1, index: 1 }));
  readMessages(r);
  r.step(msg({ type: MessageType.Prop, entries: [{ term: 0, index: 0, type: EntryType.Normal, data: enc.encode('x') }] }));
  assert.equal(r.log.lastIndex(), 2);
  const apps = readMessages(r).filter((m) => m.type === MessageType.App);
  assert.deepEqual(apps.map((m) => m.to), [2, 3]);
  for (const m of apps) {
    assert.equal(m.index, 1);
    assert.equal(m.logTerm, 1);
    assert.equal(m.entries.length, 1);
    assert.equal(m.entries[0]!.index, 2);
  }
});

test('§5.3: an entry is committed once a majority stores it, and the commit index reaches followers', () => {
  const c = new Cluster(ids(5), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.isolate(4);
  c.isolate(5);
  c.node(1).propose(enc.encode('a'));
  c.stabilize();
  assert.equal(c.raft(1).log.committed, 2, '3 of 5 suffice');
  c.tickAll(1);
  for (const id of [2, 3]) assert.equal(c.raft(id).log.committed, 2);
  assert.deepEqual(c.appliedData(2), ['a']);
  assert.equal(c.raft(4).log.committed, 1, 'only the no-op from before the partition');
});

test('§5.3: without a majority, an entry is not committed', () => {
  const c = new Cluster(ids(5), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.isolate(3);
  c.isolate(4);
  c.isolate(5);
  c.node(1).propose(enc.encode('a'));
  c.stabilize();
  assert.equal(c.raft(1).log.committed, 1);
});

test('§5.3 log matching: a follower rejects an append whose previous entry does not match, with a hint', () => {
  const storage = newStorage(ids(3));
  storage.append([entry(1, 1), entry(2, 2), entry(3, 2), entry(4, 2)]);
  storage.setHardState({ term: 2, vote: NONE, commit: 1 });
  const r = newRaft(2, ids(3), {}, storage);
  // The leader of term 3 believes entry 4 has term 3: mismatch.
  r.step(msg({ type: MessageType.App, from: 1, to: 2, term: 3, index: 4, logTerm: 3, entries: [entry(5, 3)] }));
  const resp = readMessages(r)[0]!;
  assert.equal(resp.reject, true);
  assert.equal(resp.index, 4);
  // Fast backtracking: the hint skips the whole term-2 run the leader's prevLogTerm (3) rules out only
  // partly: the largest index with term ≤ 3 is 4 (term 2), reported with its term.
  assert.equal(resp.rejectHint, 4);
  assert.equal(resp.logTerm, 2);
  assert.equal(r.log.lastIndex(), 4, 'nothing appended on mismatch');
});

test('§5.3 figure 7: the leader brings every follower log, however divergent, to its own', () => {
  // The leader's log (terms by index): 1 1 1 4 4 5 5 6 6 6, at term 8.
  const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: number[][] = [
    [1, 1, 1, 4, 4, 5, 5, 6, 6], // (a) missing one
    [1, 1, 1, 4], // (b) missing many
    [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // (c) one extra uncommitted
    [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d) extra entries of a later term
    [1, 1, 1, 4, 4, 4, 4], // (e) extra of an old term
    [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // (f) many conflicting entries
  ];
  for (const [fi, fterms] of followers.entries()) {
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false });
    const put = (id: number, terms: number[], term: number): void => {
      c.storage(id).append(terms.map((t, i) => entry(i + 1, t, `t${t}`)));
      c.storage(id).setHardState({ term, vote: NONE, commit: 0 });
      c.crash(id);
      c.restart(id);
    };
    put(1, leaderTerms, 7);
    put(2, fterms, 7);
    put(3, [], 7);
    c.isolate(3); // the follower under test and the leader form the majority
    c.raft(2).electionElapsed = 0;
    c.node(1).campaign();
    c.stabilize();
    // Node 2 may refuse its vote (its log can be more up-to-date): then node 3 provides the majority.
    if (c.leader() !== 1) {
      c.heal();
      c.crash(3);
      c.restart(3);
      c.node(1).campaign();
      c.stabilize();
    }
    assert.equal(c.leader(), 1, `case ${fi}`);
    c.heal();
    c.tickAll(3);
    const log = (id: number): number[] => {
      const l = c.raft(id).log;
      return Array.from({ length: l.lastIndex() }, (_, i) => l.term(i + 1)!);
    };
    assert.deepEqual(log(2), log(1), `follower (${'abcdef'[fi]}) converged`);
  }
});

test('§5.4.2 figure 8: a leader never commits an entry of an earlier term by counting replicas', () => {
  // Leader of term 3 holds entry 2 from term 2 that a majority has, but its own term-3 entry is not replicated.
  const storage = newStorage(ids(3));
  storage.append([entry(1, 1), entry(2, 2)]);
  storage.setHardState({ term: 2, vote: NONE, commit: 1 });
  const r = newRaft(1, ids(3), {}, storage);
  electLeader(r);
  assert.equal(r.term, 3);
  assert.equal(r.log.lastIndex(), 3, 'no-op of term 3 appended');
  readMessages(r);
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 3, index: 2 }));
  assert.equal(r.log.committed, 1, 'entry 2 (term 2) is on a majority but must not be committed by counting');
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 3, index: 3 }));
  assert.equal(r.log.committed, 3, 'committing the term-3 entry commits entry 2 indirectly');
});

test('§5.3: followers apply committed entries in log order, and all apply the same sequence', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.campaign(1);
  for (const v of ['a', 'b', 'c', 'd']) c.node(1).propose(enc.encode(v));
  c.stabilize();
  c.tickAll(1);
  for (const id of ids(3)) assert.deepEqual(c.appliedData(id), ['a', 'b', 'c', 'd']);
});

test('§10.2.1 flow control: in the replicate state the leader keeps at most inflightMsgsMax appends in flight', () => {
  const r = newRaft(1, ids(2), { inflightMsgsMax: 3, appendBytesMax: 1 });
  electLeader(r);
  readMessages(r);
  // Move follower 2 to the replicate state.
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 1 }));
  readMessages(r);
  for (let i = 0; i < 10; i++) {
    r.step(msg({ type: MessageType.Prop, entries: [{ term: 0, index: 0, type: EntryType.Normal, data: enc.encode(`v${i}`) }] }));
  }
  const apps = readMessages(r).filter((m) => m.type === MessageType.App);
  assert.equal(apps.length, 3, 'window of 3');
  // An acknowledgement frees the window and pipelining resumes.
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: apps[2]!.entries.at(-1)!.index }));
  assert.equal(readMessages(r).filter((m) => m.type === MessageType.App).length, 3);
});

test('§10.2 batching: one append carries as many entries as fit in appendBytesMax (at least one)', () => {
  const r = newRaft(1, ids(2), { appendBytesMax: 100 });
  electLeader(r);
  for (let i = 0; i < 10; i++) {
    r.step(msg({ type: MessageType.Prop, entries: [{ term: 0, index: 0, type: EntryType.Normal, data: enc.encode('0123456789') }] }));
  }
  readMessages(r);
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 1 }));
  const app = readMessages(r).find((m) => m.type === MessageType.App)!;
  // Each entry counts 10 bytes of data + 24 of overhead: 2 fit in 100 bytes.
  assert.equal(app.entries.length, 2);
});

test('§5.3 probing: a follower that rejects is probed one append at a time until it matches', () => {
  const r = newRaft(1, ids(2));
  electLeader(r);
  const probe = readMessages(r).filter((m) => m.type === MessageType.App);
  assert.equal(probe.length, 1, 'the new leader probes each follower once');
  r.step(msg({ type: MessageType.Prop, entries: [{ term: 0, index: 0, type: EntryType.Normal, data: enc.encode('a') }] }));
  r.step(msg({ type: MessageType.Prop, entries: [{ term: 0, index: 0, type: EntryType.Normal, data: enc.encode('b') }] }));
  assert.equal(readMessages(r).filter((m) => m.type === MessageType.App).length, 0, 'nothing more while the probe is outstanding');
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: 0, reject: true, rejectHint: 0 }));
  const next = readMessages(r).filter((m) => m.type === MessageType.App);
  assert.equal(next.length, 1, 'a rejection allows exactly one new probe');
  assert.equal(next[0]!.index, 0, 'probing from the hint');
});

test('proposal forwarding: a follower forwards to the leader, or refuses with NotLeader and a leader hint', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.node(2).propose(enc.encode('via-2'));
  c.stabilize();
  c.tickAll(1);
  assert.deepEqual(c.appliedData(1), ['via-2']);

  const d = new Cluster(ids(3), { preVote: false, checkQuorum: false, disableProposalForwarding: true });
  d.campaign(1);
  assert.throws(
    () => d.node(2).propose(enc.encode('x')),
    (e: unknown) => isCaskError(e, ErrorCode.NotLeader) && e.leaderHint === '1',
  );
  const e = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  assert.throws(() => e.node(2).propose(enc.encode('x')), (err: unknown) => isCaskError(err, ErrorCode.NotLeader) && err.leaderHint === undefined);
});

test('a crashed follower that keeps only its persisted state catches up after restart', () => {
  const c = new Cluster(ids(3), { preVote: false, checkQuorum: false });
  c.campaign(1);
  c.node(1).propose(enc.encode('a'));
  c.stabilize();
  c.crash(3);
  c.node(1).propose(enc.encode('b'));
  c.stabilize();
  c.restart(3);
  c.tickAll(3);
  assert.deepEqual(c.appliedData(3), ['a', 'b']);
  assert.equal(c.raft(3).state, StateType.Follower);
});

test('bounds: the leader refuses proposals past uncommittedBytesMax until entries commit', () => {
  const r = newRaft(1, ids(3), { uncommittedBytesMax: 200 });
  electLeader(r);
  const prop = (v: string) => r.step(msg({ type: MessageType.Prop, entries: [{ term: 0, index: 0, type: EntryType.Normal, data: enc.encode(v) }] }));
  const big = 'x'.repeat(60); // 84 bytes with overhead
  assert.equal(prop(big), undefined);
  assert.equal(prop(big), undefined);
  assert.deepEqual(prop(big), { kind: 'uncommitted-limit' });
  // Once they commit, there is room again.
  r.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: r.log.lastIndex() }));
  assert.equal(r.log.committed, r.log.lastIndex());
  assert.equal(prop(big), undefined);
});

test('§5.3 fast backtracking: a follower diverging over many entries is repaired in a few round trips, not one per entry', () => {
  // Figure 7 (f): the follower has 8 entries from terms 2 and 3 that the leader (terms 4–6) never had.
  const leaderStorage = newStorage(ids(2));
  leaderStorage.append([1, 1, 1, 4, 4, 5, 5, 6, 6, 6].map((t, i) => entry(i + 1, t)));
  leaderStorage.setHardState({ term: 7, vote: NONE, commit: 3 });
  const followerStorage = newStorage(ids(2));
  followerStorage.append([1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3].map((t, i) => entry(i + 1, t)));
  followerStorage.setHardState({ term: 7, vote: NONE, commit: 3 });
  const leader = newRaft(1, ids(2), {}, leaderStorage);
  const follower = newRaft(2, ids(2), {}, followerStorage);
  leader.step(msg({ type: MessageType.Hup }));
  let rejections = 0;
  for (let round = 0; round < 50; round++) {
    const out = [...readMessages(leader), ...readMessages(follower)];
    if (out.length === 0) break;
    for (const m of out) {
      if (m.type === MessageType.AppResp && m.reject) rejections++;
      (m.to === 1 ? leader : follower).step(m);
    }
  }
  assert.equal(leader.state, StateType.Leader);
  assert.equal(follower.log.lastIndex(), leader.log.lastIndex());
  for (let i = 1; i <= leader.log.lastIndex(); i++) assert.equal(follower.log.term(i), leader.log.term(i));
  assert.ok(rejections <= 3, `${rejections} rejections (one per entry would be 8)`);
});

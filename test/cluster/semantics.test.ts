// Command semantics in mode raft on a 3-node cluster: any node accepts any command (followers forward writes
// and linearizable reads), MULTI/EXEC is one atomic log entry, WATCH aborts on a concurrent change (COPY
// changes only its destination), READONLY
// gives stale local reads per connection, INFO has a raft section, and without a majority commands wait for
// raft.request-timeout-ms and then fail with CLUSTERDOWN.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster, RespError } from './harness.js';

/** Starts the 3-node cluster and names its leader and its two followers, with a client on each follower. */
async function startWithFollowers(cluster: Cluster) {
  await cluster.init();
  await cluster.startAll();
  const leader = await cluster.waitLeader();
  const [f1, f2] = [...cluster.nodes.keys()].filter((id) => id !== leader) as [number, number];
  return { leader, f1, f2, a: cluster.client(f1), b: cluster.client(f2) };
}

/** SIGKILLs every node, starts them all again (each replays its log) and returns the new leader. */
async function crashAndRestartAll(cluster: Cluster, leaderTimeoutMs: number): Promise<number> {
  for (const id of [...cluster.nodes.keys()]) await cluster.kill(id, 'SIGKILL');
  for (const id of [...cluster.nodes.keys()]) await cluster.start(id);
  return cluster.waitLeader(leaderTimeoutMs);
}

describe('raft mode semantics', () => {
  it('follower forwarding, MULTI/EXEC, WATCH, READONLY, INFO raft, CLUSTERDOWN', async () => {
    const cluster = new Cluster({ nodes: 3, tickMs: 20, electionTicks: 10, requestTimeoutMs: 800 });
    try {
      const { leader, f1, f2, a, b } = await startWithFollowers(cluster);

      // A write on one follower is visible to a linearizable read on the other at once.
      for (let i = 0; i < 20; i++) {
        assert.equal(await a.call(['set', 'x', String(i)]), 'OK');
        assert.equal(await b.call(['get', 'x']), String(i));
      }
      assert.equal(await a.call(['incr', 'n']), 1);
      assert.equal(await b.call(['incrby', 'n', '5']), 6);

      // MULTI/EXEC on a follower: one entry, applied atomically, replies in order.
      assert.equal(await a.call(['multi']), 'OK');
      assert.equal(await a.call(['set', 'm1', 'a']), 'QUEUED');
      assert.equal(await a.call(['incr', 'n']), 'QUEUED');
      assert.equal(await a.call(['get', 'm1']), 'QUEUED');
      assert.deepEqual(await a.call(['exec']), ['OK', 7, 'a']);
      assert.equal(await b.call(['get', 'm1']), 'a');

      // WATCH: a change by another client between WATCH and EXEC aborts the transaction.
      assert.equal(await a.call(['watch', 'w']), 'OK');
      assert.equal(await b.call(['set', 'w', 'changed']), 'OK');
      assert.equal(await a.call(['multi']), 'OK');
      assert.equal(await a.call(['set', 'w', 'mine']), 'QUEUED');
      assert.equal(await a.call(['exec']), null);
      assert.equal(await b.call(['get', 'w']), 'changed');
      // …and without a change it commits.
      assert.equal(await a.call(['watch', 'w']), 'OK');
      assert.equal(await a.call(['multi']), 'OK');
      assert.equal(await a.call(['set', 'w', 'mine']), 'QUEUED');
      assert.deepEqual(await a.call(['exec']), ['OK']);

      // COPY through a follower changes only its destination: a WATCH on the source survives it, one on
      // the destination aborts.
      assert.equal(await a.call(['copy', 'm1', 'm1-copy']), 1);
      assert.equal(await b.call(['get', 'm1-copy']), 'a');
      assert.equal(await a.call(['watch', 'm1']), 'OK');
      assert.equal(await b.call(['copy', 'm1', 'm1-copy2']), 1);
      assert.equal(await a.call(['multi']), 'OK');
      assert.equal(await a.call(['set', 'm1', 'b']), 'QUEUED');
      assert.deepEqual(await a.call(['exec']), ['OK']);
      assert.equal(await a.call(['watch', 'm1-copy']), 'OK');
      assert.equal(await b.call(['copy', 'm1', 'm1-copy', 'replace']), 1);
      assert.equal(await a.call(['multi']), 'OK');
      assert.equal(await a.call(['set', 'm1-copy', 'mine']), 'QUEUED');
      assert.equal(await a.call(['exec']), null);
      assert.equal(await b.call(['get', 'm1-copy']), 'b');

      // ROLE would mislead (followers are not Redis replicas): it points to INFO raft.
      const role = await a.call(['role']);
      assert.ok(role instanceof RespError && role.message.startsWith('ERR ROLE is not available in raft mode: INFO raft'), String(role));

      // INFO raft.
      const info = (await cluster.info(f1))!;
      assert.equal(info.role, 'follower');
      assert.equal(Number(info.leader_id), leader);
      assert.match(info.leader_address ?? '', /^127\.0\.0\.1:\d+$/);
      assert.ok(Number(info.commit_index) >= Number(info.applied_index) - 0 && Number(info.applied_index) > 0);

      // READONLY: stale local reads are allowed per connection; READWRITE goes back.
      assert.equal(await b.call(['readonly']), 'OK');
      const stale = await b.call(['get', 'w']);
      assert.ok(stale === 'mine' || stale === 'changed', `a stale read sees an applied state, maybe old: ${String(stale)}`);
      await cluster.waitConverged([...cluster.nodes.keys()]);
      assert.equal(await b.call(['get', 'w']), 'mine');
      assert.equal(await b.call(['readwrite']), 'OK');
      assert.equal(await b.call(['get', 'w']), 'mine');

      // No majority: both followers down → the leader cannot commit; commands fail with CLUSTERDOWN/TIMEOUT
      // after raft.request-timeout-ms, stale reads still answer.
      await cluster.kill(f1, 'SIGKILL');
      await cluster.kill(f2, 'SIGKILL');
      const l = cluster.client(leader);
      const w = await l.call(['set', 'lonely', '1'], 10_000);
      assert.ok(w instanceof RespError, `write without a majority fails: ${String(w)}`);
      assert.match(w.message, /^(CLUSTERDOWN|TIMEOUT) /);
      const r = await l.call(['get', 'x'], 10_000);
      assert.ok(r instanceof RespError && /^(CLUSTERDOWN|TIMEOUT) /.test(r.message), `linearizable read without a majority fails: ${String(r)}`);
      assert.equal(await l.call(['readonly']), 'OK');
      assert.equal(await l.call(['get', 'x']), '19');
      // Once the leader has stepped down (check-quorum), a new write fails as CLUSTERDOWN (no leader).
      await new Promise((res) => setTimeout(res, cluster.electionMs * 2));
      const started = Date.now();
      const w2 = await l.call(['set', 'lonely', '2'], 10_000);
      const waited = Date.now() - started;
      assert.ok(waited >= 700, `with no leader the write waited raft.request-timeout-ms (waited ${waited} ms)`);
      assert.ok(w2 instanceof RespError && w2.message.startsWith('CLUSTERDOWN '), `no leader: ${String(w2 instanceof RespError ? w2.message : w2)}`);

      await cluster.start(f1);
      await cluster.waitLeader(10_000, [leader, f1]);
      assert.equal(await cluster.client(f1).call(['set', 'back', '1']), 'OK');
    } finally {
      await cluster.stopAll();
      cluster.cleanup();
    }
  });
  it('the empty key is an ordinary key, and an over-limit key is an error reply that stops no node, now or on replay', async () => {
    const cluster = new Cluster({ nodes: 3, tickMs: 20, electionTicks: 10, requestTimeoutMs: 2000 });
    try {
      const { a, b } = await startWithFollowers(cluster);
      assert.equal(await a.call(['set', '', 'empty']), 'OK');
      assert.equal(await b.call(['get', '']), 'empty');
      assert.equal(await b.call(['exists', '']), 1);

      // Every write that names a key over 64 KiB is refused the same way on every node when applied.
      const long = 'k'.repeat(64 * 1024 + 1);
      for (const argv of [['set', long, 'v'], ['set', long, 'v', 'nx'], ['del', long], ['mset', 'ok', '1', long, '2'], ['rename', '', long], ['append', long, 'v']]) {
        const reply = await a.call(argv);
        assert.ok(reply instanceof RespError, `${argv[0]} with a long key is an error: ${String(reply)}`);
        assert.equal(reply.message, 'ERR key of 65537 bytes exceeds the key limit of 65536 bytes');
      }
      assert.equal(await a.call(['multi']), 'OK');
      assert.equal(await a.call(['set', 'in-exec', '1']), 'QUEUED');
      assert.equal(await a.call(['set', long, 'v']), 'QUEUED');
      const exec = (await a.call(['exec'])) as unknown[];
      assert.equal(exec[0], 'OK');
      assert.ok(exec[1] instanceof RespError && /exceeds the key limit/.test(exec[1].message), String(exec[1]));
      assert.equal(await b.call(['get', 'ok']), null, 'the refused MSET wrote none of its pairs');
      assert.equal(await b.call(['get', 'in-exec']), '1');
      assert.equal(await b.call(['get', '']), 'empty', 'the refused RENAME left its source');
      await cluster.waitConverged([...cluster.nodes.keys()]);

      // Restart every node: each replays the log with those entries in it and comes back.
      const after = await crashAndRestartAll(cluster, 10_000);
      assert.equal(await cluster.client(after).call(['get', '']), 'empty');
      assert.equal(await cluster.client(after).call(['set', 'after', '1']), 'OK');
    } finally {
      await cluster.stopAll();
      cluster.cleanup();
    }
  });
  it('a write bigger than one atomic engine write is refused alike on every node, now and on replay', async () => {
    // Election timing with room for the event-loop pause a 100,000-pair MSET costs each node (about a
    // second on the 2-core VM, more while other suites run): this test is about limits, not about liveness.
    const cluster = new Cluster({ nodes: 3, tickMs: 50, electionTicks: 60, requestTimeoutMs: 30_000 });
    try {
      const { a, b } = await startWithFollowers(cluster);
      const limit = /^ERR write of \d+ bytes in \d+ operations exceeds the limit of one atomic write \(268435456 bytes, 100000 operations\)$/;
      // Too many operations: one more pair than an engine batch holds.
      const pairs = (n: number, tag: string) => Array.from({ length: n }, (_, i) => [`${tag}${i}`, 'v']).flat();
      const tooMany = await a.call(['mset', ...pairs(100_001, 'over')], 30_000);
      assert.ok(tooMany instanceof RespError && limit.test(tooMany.message), String(tooMany instanceof RespError ? tooMany.message : tooMany));
      assert.equal(await b.call(['exists', 'over0', 'over100000']), 0, 'the refused MSET wrote none of its pairs');
      assert.equal(await a.call(['mset', ...pairs(100_000, 'fits')], 30_000), 'OK');
      assert.equal(await b.call(['dbsize']), 100_000);

      // Too many bytes: the entry is small, but the COPYs it runs would write 17 × ~16 MiB. (The value is
      // just under the default raft.entry-bytes-max, with room for the entry's header.)
      const bigBytes = 16 * 1024 * 1024 - 1024;
      assert.equal(await a.call(['set', 'big', 'b'.repeat(bigBytes)], 30_000), 'OK');
      assert.equal(await a.call(['multi']), 'OK');
      const copies = Array.from({ length: 17 }, (_, i) => `c${i + 1}`);
      for (const copy of copies) assert.equal(await a.call(['copy', 'big', copy]), 'QUEUED');
      const exec = await a.call(['exec'], 30_000);
      assert.ok(exec instanceof RespError && limit.test(exec.message), String(exec instanceof RespError ? exec.message : exec));
      assert.equal(await b.call(['exists', ...copies]), 0, 'the refused EXEC wrote nothing');
      assert.equal(await b.call(['set', 'after', '1']), 'OK');
      await cluster.waitConverged([...cluster.nodes.keys()]);

      // Every node replays those entries after a crash and serves the same state.
      const leader = await crashAndRestartAll(cluster, 20_000);
      const c = cluster.client(leader);
      assert.equal(await c.call(['strlen', 'big']), bigBytes);
      assert.equal(await c.call(['exists', 'c1', 'over0']), 0);
      assert.equal(await c.call(['dbsize']), 100_002);
    } finally {
      await cluster.stopAll();
      cluster.cleanup();
    }
  });
  it("a write's limits are the same on every node: APPEND obeys its proposer's proto-max-bulk-len, and a write too big for one log entry is refused before it is logged", async () => {
    const cluster = new Cluster({ nodes: 3, tickMs: 20, electionTicks: 10, requestTimeoutMs: 5000, extraArgs: ['--raft.entry-bytes-max', '64kb'] });
    try {
      const { a, b, leader, f1, f2 } = await startWithFollowers(cluster);
      // Only node f1 lowers its limit; f2 and the leader keep the default (64 MiB).
      assert.equal(await a.call(['config', 'set', 'proto-max-bulk-len', '2048']), 'OK');
      assert.equal(await b.call(['set', 's', 'x'.repeat(1500)]), 'OK');
      assert.equal(await b.call(['append', 's', 'y'.repeat(1000)]), 2500, 'f2 proposed it: its limit decides');
      assert.equal(await a.call(['set', 't', 'x'.repeat(1500)]), 'OK');
      const refused = await a.call(['append', 't', 'y'.repeat(1000)]);
      assert.ok(refused instanceof RespError && /string exceeds maximum allowed size \(proto-max-bulk-len\)/.test(refused.message), String(refused));
      await cluster.waitConverged([...cluster.nodes.keys()]);
      for (const id of [leader, f1, f2]) {
        const local = cluster.client(id);
        assert.equal(await local.call(['readonly']), 'OK');
        assert.deepEqual([await local.call(['strlen', 's']), await local.call(['strlen', 't'])], [2500, 1500], `node ${id} applied both alike`);
      }

      // A value the parser takes but one log entry may not hold (raft.entry-bytes-max): refused, nothing logged.
      const huge = await b.call(['set', 'huge', 'h'.repeat(64 * 1024)]);
      assert.ok(huge instanceof RespError, String(huge));
      assert.equal(huge.message, `ERR write of ${64 * 1024 + 35} bytes exceeds the raft log entry limit of 65536 bytes (raft.entry-bytes-max)`);
      assert.equal(await b.call(['get', 'huge']), null);
      assert.equal(await b.call(['set', 'huge', 'h'.repeat(60 * 1024)]), 'OK');
      assert.equal(await a.call(['strlen', 'huge']), 60 * 1024);
    } finally {
      await cluster.stopAll();
      cluster.cleanup();
    }
  });
});

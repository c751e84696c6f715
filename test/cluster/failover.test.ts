// Failover of real caskdb processes in mode raft: kill -9 the leader under a concurrent put/get load on every
// node; a new leader is elected within a few election timeouts, the clients' histories are linearizable (so no
// acknowledged write is lost and no stale read is served), the old leader rejoins and catches up, and every
// data directory dumps to the same contents.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { checkLinearizability, kvModel } from '../../src/raft/sim/linearizability.js';
import { Cluster, History, runWorkload, sleep } from './harness.js';

async function killLeaderUnderLoad(size: number): Promise<void> {
  const cluster = new Cluster({ nodes: size, tickMs: 20, electionTicks: 10 });
  try {
    await cluster.init();
    await cluster.startAll();
    const leader = await cluster.waitLeader();
    const history = new History();
    const acked = new Map<string, string>();
    const keys = ['a', 'b', 'c', 'd', 'e'];
    let stopped = false;
    const ids = [...cluster.nodes.keys()];
    const workers = Array.from({ length: 8 }, (_, c) => {
      const home = ids[c % ids.length]!;
      return runWorkload(cluster, history, c + 1, keys, () => (cluster.nodes.get(home)!.proc !== undefined ? home : ids.find((i) => cluster.nodes.get(i)!.proc !== undefined)), () => stopped, acked);
    });
    await sleep(1500);
    const before = acked.size;
    assert.ok(before > 20, `the cluster served writes before the kill (${before})`);

    const killedAt = Date.now();
    await cluster.kill(leader, 'SIGKILL');
    const survivors = ids.filter((i) => i !== leader);
    const newLeader = await cluster.waitLeader(10_000, survivors);
    const electedMs = Date.now() - killedAt;
    assert.notEqual(newLeader, leader);
    assert.ok(electedMs < 6 * cluster.electionMs + 1500, `new leader after ${electedMs} ms (election timeout ${cluster.electionMs} ms)`);

    const atKill = acked.size;
    await sleep(1500);
    assert.ok(acked.size > atKill + 20, `writes continue under the new leader (${acked.size - atKill})`);

    await cluster.start(leader); // the old leader rejoins as a follower
    await sleep(1000);
    stopped = true;
    await Promise.all(workers);

    // Final reads of every key through the leader join the history.
    const finalLeader = await cluster.waitLeader();
    const c = cluster.client(finalLeader);
    for (const key of keys) {
      const call = history.now();
      const r = await c.call(['get', key]);
      assert.ok(typeof r === 'string' || r === null, `final read of ${key}: ${String(r)}`);
      history.record(0, { op: 'get', key }, call, r, true);
    }
    const verdict = checkLinearizability(history.ops, kvModel, { stepsMax: 2_000_000 });
    if (verdict.result !== 'ok' && process.env.CLUSTER_TEST_HISTORY !== undefined) {
      (await import('node:fs')).writeFileSync(process.env.CLUSTER_TEST_HISTORY, JSON.stringify(verdict));
    }
    assert.equal(verdict.result, 'ok', `history of ${history.ops.length} operations: ${JSON.stringify(verdict).slice(0, 2000)}`);

    const index = await cluster.waitConverged(ids);
    assert.ok(index > 0);
    await Promise.all(ids.map((id) => cluster.kill(id, 'SIGTERM')));
    const dumps = await Promise.all(ids.map((id) => cluster.dump(id)));
    for (const d of dumps.slice(1)) assert.equal(d, dumps[0], 'data directories converge to the same contents');
    const present = await cluster.dumpKeys(ids[0]!);
    const uniques = [...acked.keys()].filter((k) => k.startsWith('u-'));
    assert.ok(uniques.length > 10, `unique-key writes were acknowledged (${uniques.length})`);
    for (const k of uniques) assert.ok(present.has(k), `acknowledged write of ${k} survived the leader's kill`);
    assert.ok(dumps[0]!.split('\n').length >= keys.length, 'the dump holds the keys');
  } finally {
    await cluster.stopAll();
    cluster.cleanup();
  }
}

describe('failover', () => {
  after(() => undefined);
  it('3 nodes: kill -9 the leader under load, new leader, no acknowledged write lost, old leader catches up', async () => {
    await killLeaderUnderLoad(3);
  });
  it('5 nodes: kill -9 the leader under load, new leader, no acknowledged write lost, old leader catches up', async () => {
    await killLeaderUnderLoad(5);
  });
});

// Network partitions between real node processes: every directed peer link goes through a fault-injecting
// TCP proxy. With the leader cut off in a minority, the minority cannot commit (writes there fail or time
// out, reads there are refused rather than stale), the majority elects a leader and keeps committing, and
// after healing every node converges. The clients' histories throughout are linearizable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkLinearizability, kvModel } from '../../src/raft/sim/linearizability.js';
import { Cluster, History, runWorkload, sleep } from './harness.js';

function cut(cluster: Cluster, a: readonly number[], b: readonly number[], block: boolean): void {
  for (const x of a) {
    for (const y of b) {
      for (const key of [`${x}->${y}`, `${y}->${x}`]) {
        const p = cluster.proxies.get(key)!;
        if (block) p.block();
        else p.heal();
      }
    }
  }
}

describe('partitions', () => {
  it('5 nodes: leader isolated with one follower — minority cannot commit, majority continues, heal converges', async () => {
    const cluster = new Cluster({ nodes: 5, proxies: true, tickMs: 20, electionTicks: 10, requestTimeoutMs: 1500 });
    try {
      await cluster.init();
      await cluster.startAll();
      const ids = [...cluster.nodes.keys()];
      const leader = await cluster.waitLeader();
      const minority = [leader, ids.find((i) => i !== leader)!];
      const majority = ids.filter((i) => !minority.includes(i));

      const history = new History();
      const acked = new Map<string, string>();
      let stopped = false;
      const keys = ['p', 'q', 'r'];
      const workers = Array.from({ length: 10 }, (_, c) => {
        const home = ids[c % ids.length]!;
        return runWorkload(cluster, history, c + 1, keys, () => home, () => stopped, acked);
      });
      await sleep(1000);

      cut(cluster, minority, majority, true);
      const newLeader = await cluster.waitLeader(10_000, majority);
      assert.ok(majority.includes(newLeader));

      // The minority side commits nothing: a write there fails (CLUSTERDOWN/TIMEOUT), never OK.
      const m = cluster.client(minority[1]!);
      const r = await m.call(['set', 'minority-write', 'x'], 5000);
      assert.notEqual(r, 'OK', 'a write in the minority is not acknowledged');
      const read = await cluster.client(minority[0]!).call(['get', 'p'], 5000);
      assert.ok(read instanceof Object && 'message' in read, `a linearizable read in the minority is refused: ${String(read)}`);

      const before = acked.size;
      await sleep(1500);
      assert.ok(acked.size > before + 10, `the majority keeps committing (${acked.size - before} writes)`);

      cut(cluster, minority, majority, false);
      await sleep(1500);
      stopped = true;
      await Promise.all(workers);

      const verdict = checkLinearizability(history.ops, kvModel, { stepsMax: 2_000_000 });
      assert.equal(verdict.result, 'ok', `history of ${history.ops.length} operations: ${JSON.stringify(verdict).slice(0, 1500)}`);
      await cluster.waitConverged(ids, 20_000);
      const c = cluster.client(majority[0]!);
      const mw = await c.call(['get', 'minority-write']);
      assert.ok(mw === null || mw === 'x', 'the minority write is applied at most as a whole');
      await Promise.all(ids.map((id) => cluster.kill(id, 'SIGTERM')));
      const dumps = await Promise.all(ids.map((id) => cluster.dump(id)));
      for (const d of dumps.slice(1)) assert.equal(d, dumps[0], 'data directories converge after healing');
    } finally {
      await cluster.stopAll();
      cluster.cleanup();
    }
  });
});

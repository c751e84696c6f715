// Membership changes on a running cluster of real processes, through the `caskdb cluster` CLI: a new empty
// node (raft.join yes) is added as a learner, catches up, is promoted; leadership is transferred to it; a
// node is removed and the cluster keeps committing with the new majority.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from './harness.js';

describe('membership', () => {
  it('add a node (learner, then voter), transfer leadership to it, remove another, keep serving', async () => {
    // Elections are not this test's subject: 0.5–1 s timeouts keep a loaded CI machine from starting spurious ones.
    const cluster = new Cluster({ nodes: 3, tickMs: 50, electionTicks: 10, snapshotEntries: 200, catchupEntries: 20 });
    try {
      await cluster.init();
      await cluster.startAll();
      const leader = await cluster.waitLeader();
      const c = cluster.client(leader);
      for (let i = 0; i < 300; i++) assert.equal(await c.call(['set', `k${i}`, `v${i}`]), 'OK');

      const n4 = await cluster.addNodeSlot(4, true);
      await cluster.start(4);
      const servers = [1, 2, 3].map((id) => `127.0.0.1:${cluster.nodes.get(id)!.clientPort}`).join(',');
      const add = await cluster.runCli(['cluster', 'add', '--server', servers, '--id', '4', '--peer', `127.0.0.1:${n4.peerPort}`]);
      assert.equal(add.code, 0, `cluster add: ${add.stdout}${add.stderr}`);

      const all = [1, 2, 3, 4];
      await cluster.waitConverged(all, 20_000);
      const i4 = (await cluster.info(4))!;
      assert.equal(i4.voters, '1,2,3,4');
      const c4 = cluster.client(4);
      assert.equal(await c4.call(['get', 'k299']), 'v299', 'the new node serves (linearizable) reads');
      assert.equal(await c4.call(['set', 'from4', 'x']), 'OK', 'the new node forwards writes');

      const status = await cluster.runCli(['cluster', 'status', '--server', servers]);
      assert.equal(status.code, 0);
      assert.match(status.stdout, /role:leader/);
      assert.match(status.stdout, /peer4:address=127\.0\.0\.1:\d+,kind=voter/);

      const transfer = await cluster.runCli(['cluster', 'transfer', '--server', servers, '--id', '4']);
      assert.equal(transfer.code, 0, `cluster transfer: ${transfer.stdout}${transfer.stderr}`);
      assert.equal(await cluster.waitLeader(5000), 4);

      const victim = [1, 2, 3].find((id) => id !== leader)!;
      const allServers = all.map((id) => `127.0.0.1:${cluster.nodes.get(id)!.clientPort}`).join(',');
      const remove = await cluster.runCli(['cluster', 'remove', '--server', allServers, '--id', String(victim)]);
      assert.equal(remove.code, 0, `cluster remove: ${remove.stdout}${remove.stderr}`);
      const rest = all.filter((id) => id !== victim);
      const info = (await cluster.info(4))!;
      assert.equal(info.voters, rest.join(','));
      await cluster.kill(victim, 'SIGTERM');

      // Three voters left: one more failure is tolerated.
      const another = rest.find((id) => id !== 4)!;
      await cluster.kill(another, 'SIGKILL');
      assert.equal(await c4.call(['set', 'after-remove', 'y']), 'OK');
      await cluster.start(another);
      const live = rest;
      await cluster.waitConverged(live, 20_000);
      await Promise.all(live.map((id) => cluster.kill(id, 'SIGTERM')));
      const dumps = await Promise.all(live.map((id) => cluster.dump(id)));
      for (const d of dumps.slice(1)) assert.equal(d, dumps[0], 'the remaining members converge');
    } finally {
      await cluster.stopAll();
      cluster.cleanup();
    }
  });
});

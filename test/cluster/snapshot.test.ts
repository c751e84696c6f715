// Snapshots between real processes: a follower that was down while the leader compacted its log past the
// follower's position comes back, receives the engine's files as a snapshot (in chunks), installs them and
// converges — same dump as the others. A restarted node that has a snapshot recovers from it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from './harness.js';

describe('snapshots', () => {
  it('a follower that missed compacted entries catches up by snapshot install', async () => {
    // Elections are not this test's subject: 0.5–1 s timeouts keep a loaded CI machine from starting spurious ones.
    const cluster = new Cluster({ nodes: 3, tickMs: 50, electionTicks: 10, snapshotEntries: 100, catchupEntries: 20 });
    try {
      await cluster.init();
      await cluster.startAll();
      const leader = await cluster.waitLeader();
      const follower = [...cluster.nodes.keys()].find((id) => id !== leader)!;
      const c = cluster.client(leader);
      for (let i = 0; i < 50; i++) assert.equal(await c.call(['set', `early${i}`, `v${i}`]), 'OK');
      await cluster.waitConverged([...cluster.nodes.keys()]);
      const appliedAtKill = Number((await cluster.info(follower))!.applied_index);
      await cluster.kill(follower, 'SIGKILL');

      // Enough writes for several snapshots; big values so the snapshot spans several chunks.
      const big = 'x'.repeat(20_000);
      for (let i = 0; i < 400; i++) {
        const r = await c.call(['set', `k${i % 150}`, `${big}${i}`]);
        assert.equal(r, 'OK');
      }
      assert.equal(await c.call(['del', 'early3']), 1);
      const li = (await cluster.info(leader))!;
      assert.ok(Number(li.first_index) > appliedAtKill + 1, `the leader compacted past the follower (first ${li.first_index}, follower at ${appliedAtKill})`);
      assert.ok(Number(li.last_snapshot_index) > 0);

      await cluster.start(follower);
      const ids = [...cluster.nodes.keys()];
      await cluster.waitConverged(ids, 20_000);
      const fi = (await cluster.info(follower))!;
      assert.ok(Number(fi.snapshots_installed) >= 1, `the follower installed a snapshot: ${JSON.stringify(fi)}`);

      // Linearizable read on the follower sees the latest data.
      const fc = cluster.client(follower);
      // k149 was last written by i = 299 (i = 449 is past the loop).
      assert.equal(await fc.call(['get', 'k149']), `${big}299`);
      assert.equal(await fc.call(['get', 'early3']), null);
      assert.equal(await fc.call(['get', 'early4']), 'v4');

      // The follower restarts from its installed snapshot and stays consistent.
      await cluster.kill(follower, 'SIGKILL');
      await cluster.start(follower);
      assert.equal(await c.call(['set', 'after', 'restart']), 'OK');
      await cluster.waitConverged(ids, 20_000);

      await Promise.all(ids.map((id) => cluster.kill(id, 'SIGTERM')));
      const dumps = await Promise.all(ids.map((id) => cluster.dump(id)));
      for (const d of dumps.slice(1)) assert.equal(d, dumps[0], 'data directories converge');
    } finally {
      await cluster.stopAll();
      cluster.cleanup();
    }
  });
});

describe('snapshot transfer', () => {
  it('resumes a transfer cut in the middle from the bytes already received', async () => {
    // Elections are not this test's subject: 0.5–1 s timeouts keep a loaded CI machine from starting spurious ones.
    const cluster = new Cluster({ nodes: 3, proxies: true, tickMs: 50, electionTicks: 10, snapshotEntries: 100, catchupEntries: 10 });
    try {
      await cluster.init();
      await cluster.startAll();
      const leader = await cluster.waitLeader();
      const follower = [...cluster.nodes.keys()].find((id) => id !== leader)!;
      await cluster.kill(follower, 'SIGKILL');
      const c = cluster.client(leader);
      const big = 'y'.repeat(100_000);
      for (let i = 0; i < 250; i++) assert.equal(await c.call(['set', `k${i}`, `${big}${i}`]), 'OK');
      await new Promise((r) => setTimeout(r, 500)); // let the last snapshot finish
      // The follower pulls the files through its link to the leader: cut it once after 3 MB.
      const link = cluster.proxies.get(`${follower}->${leader}`)!;
      link.cutAfterBytes = link.downstreamBytes + 3 * 1024 * 1024;
      await cluster.start(follower);
      const deadline = Date.now() + 10_000;
      while (link.cuts === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(link.cuts, 1, 'the transfer was cut');
      await new Promise((r) => setTimeout(r, 200));
      link.heal();
      const ids = [...cluster.nodes.keys()];
      await cluster.waitConverged(ids, 30_000);
      const log = cluster.nodes.get(follower)!.stderr;
      const resumed = /"msg":"resuming snapshot fetch".*?"presentBytes":(\d+)/.exec(log);
      assert.ok(resumed !== null && Number(resumed[1]) >= 1024 * 1024, `the second fetch resumed from received bytes:\n${log.split('\n').filter((l) => l.includes('snapshot')).join('\n')}`);
      assert.equal(await cluster.client(follower).call(['get', 'k249']), `${big}249`);
    } finally {
      await cluster.stopAll();
      cluster.cleanup();
    }
  });
});

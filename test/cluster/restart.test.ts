// Restart paths of one node (a single-voter cluster): the engine resumes exactly after its applied index
// (entries after it are replayed from the log, none twice — INCR counts stay exact), and a crash in the
// middle of installing a snapshot (marker present, engine files half replaced) is finished at the next start.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Cluster } from './harness.js';

describe('restart', () => {
  it('replays the log after the applied index exactly once, and finishes an interrupted snapshot install', async () => {
    const cluster = new Cluster({ nodes: 1, tickMs: 20, electionTicks: 10 });
    try {
      await cluster.init();
      await cluster.start(1);
      await cluster.waitLeader();
      let c = cluster.client(1);
      for (let i = 0; i < 100; i++) assert.equal(await c.call(['incr', 'counter']), i + 1);
      const snap = await c.call(['raft', 'snapshot']);
      assert.ok(typeof snap === 'string' && Number(snap) > 100, `snapshot index ${String(snap)}`);
      for (let i = 0; i < 50; i++) await c.call(['incr', 'counter']);
      assert.equal(await c.call(['set', 'after', 'snap']), 'OK');

      // kill -9 and restart: exactly 150 increments.
      await cluster.kill(1, 'SIGKILL');
      await cluster.start(1);
      c = cluster.client(1);
      assert.equal(await c.call(['get', 'counter']), '150');

      // A crash mid-install: the marker names the snapshot, the engine's data files are gone.
      await cluster.kill(1, 'SIGKILL');
      const dir = cluster.nodes.get(1)!.dir;
      const snapDir = join(dir, 'raft', 'snapshots', String(snap));
      assert.ok(fs.existsSync(snapDir), 'the snapshot files are kept for serving');
      fs.writeFileSync(join(dir, 'raft', 'installing-snapshot'), snapDir);
      for (const name of fs.readdirSync(dir)) if (name.endsWith('.data')) fs.rmSync(join(dir, name));
      await cluster.start(1);
      c = cluster.client(1);
      // The install is redone (state at the snapshot), then the log after it is replayed.
      assert.equal(await c.call(['get', 'counter']), '150');
      assert.equal(await c.call(['get', 'after']), 'snap');
      assert.equal(fs.existsSync(join(dir, 'raft', 'installing-snapshot')), false);
    } finally {
      await cluster.stopAll();
      cluster.cleanup();
    }
  });
});

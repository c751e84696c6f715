// One node of a 3-node Raft cluster runs out of disk: it stops with exit code 70 and a log line that says why
// (a node that cannot persist its log must not go on voting), the other two keep committing writes, and once
// the disk has room again the node restarts, catches up and holds every acknowledged write. The node's
// directory is a real tmpfs of a few MiB (the tests run as root). A snapshot that finds no room fails
// cleanly: no half-made copy is left on the disk, and it is not retried on every applied entry.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { mountSmallDisk } from '../support/full-disk.js';
import { Cluster, sleep } from './harness.js';

it('a node whose disk fills up exits; the others go on, and it catches up once there is room', async (t) => {
  const cluster = new Cluster({ nodes: 3, tickMs: 20, electionTicks: 10 });
  let disk: ReturnType<typeof mountSmallDisk> | undefined;
  try {
    await cluster.init();
    const small = cluster.nodes.get(3)!;
    disk = mountSmallDisk(t, 6, small.dir);
    await cluster.startAll();
    await cluster.waitLeader();
    const exited = new Promise<number | null>((resolve) => small.proc!.once('exit', (code) => resolve(code)));
    let exitCode: number | null | undefined;
    void exited.then((code) => (exitCode = code));

    // Writes go through node 1 (a follower forwards to the leader); a write cut off by the election
    // after node 3 (perhaps the leader) stops is retried, and only an OK counts as acknowledged.
    const client = cluster.client(1);
    const value = (i: number): string => `${i}:`.padEnd(32 * 1024, String.fromCharCode(97 + (i % 26)));
    const acknowledged: number[] = [];
    let afterExit = 0;
    for (let i = 0; i < 1_000 && afterExit < 20; i++) {
      for (let attempt = 0; attempt < 50; attempt++) {
        const reply = await client.call(['set', `k${i}`, value(i)], 5_000);
        if (reply === 'OK') {
          acknowledged.push(i);
          break;
        }
        await sleep(50);
      }
      if (exitCode !== undefined) afterExit++;
    }
    assert.equal(await Promise.race([exited, sleep(10_000).then(() => 'still running')]), 70, 'node 3 exits with 70 when its disk is full');
    assert.match(small.stderr, /fatal Raft error, exiting.*no space left on device/);
    assert.ok(afterExit >= 20, `the other two nodes went on committing after node 3 stopped (${afterExit} writes)`);
    assert.equal(acknowledged.length, acknowledged.at(-1)! + 1, 'every write was acknowledged in the end');
    small.proc = undefined;

    // Room again: node 3 restarts from its own directory, catches up, and holds every acknowledged write.
    disk.grow(64);
    await cluster.start(3);
    await cluster.waitConverged([1, 2, 3], 30_000);
    // READONLY: node 3 answers from its own state, not through the leader.
    const local = cluster.client(3);
    assert.equal(await local.call(['readonly']), 'OK');
    for (const i of acknowledged) assert.equal(await local.call(['get', `k${i}`]), value(i), `node 3 holds k${i}`);
  } finally {
    await cluster.stopAll();
    disk?.unmount();
    cluster.cleanup();
  }
});

it('a snapshot without room fails once, leaves no partial copy, and is taken once there is room', async (t) => {
  const cluster = new Cluster({ nodes: 1, tickMs: 20, electionTicks: 10, snapshotEntries: 20 });
  let disk: ReturnType<typeof mountSmallDisk> | undefined;
  try {
    await cluster.init();
    const node = cluster.nodes.get(1)!;
    disk = mountSmallDisk(t, 40, node.dir);
    await cluster.start(1);
    await cluster.waitLeader();
    const client = cluster.client(1);
    const value = (i: number): string => `${i}:`.padEnd(32 * 1024, 'v');
    const failures = (): number => node.stderr.split('\n').filter((line) => line.includes('"msg":"snapshot failed"')).length;
    // A snapshot (merge, then a copy of the data files) needs the copy's size plus a margin free, so it
    // fails well before the writes themselves stop fitting.
    let i = 0;
    for (; i < 1_000 && failures() === 0; i++) assert.equal(await client.call(['set', `k${i}`, value(i)]), 'OK', `write ${i}`);
    assert.equal(failures(), 1, 'a snapshot failed for lack of room');
    assert.match(node.stderr, /"msg":"snapshot failed".*no.*space|"msg":"snapshot failed".*CASKDB_NO_SPACE|"msg":"snapshot failed".*free disk space/);
    // Each of these applies would start another snapshot without the retry delay.
    for (let more = 0; more < 30; more++, i++) assert.equal(await client.call(['set', `k${i}`, value(i)]), 'OK', `write ${i}`);
    assert.equal(failures(), 1, 'not retried on every applied entry');
    const snapshots = join(node.dir, 'raft', 'snapshots');
    assert.deepEqual(fs.readdirSync(snapshots).filter((name) => name.startsWith('tmp-')), [], 'no partial snapshot copy is left');

    // Room again: a snapshot succeeds and covers every write.
    disk.grow(256);
    const index = await client.call(['raft', 'snapshot']);
    assert.ok(typeof index === 'string' && Number(index) >= i, `snapshot index ${String(index)} after ${i} writes`);
    assert.ok(fs.existsSync(join(snapshots, String(index))));
    assert.equal(await client.call(['get', `k${i - 1}`]), value(i - 1));
  } finally {
    await cluster.stopAll();
    disk?.unmount();
    cluster.cleanup();
  }
});

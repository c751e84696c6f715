// What arrives on a node's peer port is network input: a snapshot chunk request may only name a file of a
// snapshot (an index like '../../..' or a file like '..' gets an error frame, never another file's bytes), a
// snapshot descriptor with a path in a file name is refused, and random or malformed frames on many
// connections neither crash the node nor stop it serving.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { encodeFrame, FrameKind, FrameReader } from '../../src/cluster/peer-transport.js';
import { decodeDescriptor } from '../../src/cluster/raft-node.js';
import { isCaskError } from '../../src/util/errors.js';
import { Cluster, sleep } from './harness.js';

/** Sends one snapshot chunk request on a fresh peer connection; resolves with the reply frame. */
function requestChunk(port: number, request: unknown): Promise<{ kind: number; payload: Buffer } | 'closed'> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(encodeFrame(FrameKind.Hello, Buffer.concat([Buffer.from([9, 0, 0, 0, 1, 0, 0, 0])])));
      socket.write(encodeFrame(FrameKind.SnapRequest, Buffer.from(JSON.stringify(request))));
    });
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => reader.feed(chunk, (kind, payload) => {
      socket.destroy();
      resolve({ kind, payload });
    }));
    socket.on('error', () => resolve('closed'));
    socket.on('close', () => resolve('closed'));
    setTimeout(() => {
      socket.destroy();
      resolve('closed');
    }, 5_000);
  });
}

describe('peer port input', () => {
  it('a snapshot chunk request cannot reach outside the snapshot directory', async () => {
    const cluster = new Cluster({ nodes: 1, tickMs: 20, electionTicks: 10 });
    try {
      await cluster.init();
      await cluster.start(1);
      await cluster.waitLeader();
      const client = cluster.client(1);
      assert.equal(await client.call(['set', 'k', 'v']), 'OK');
      const index = Number(await client.call(['raft', 'snapshot']));
      assert.ok(index > 0);
      const port = cluster.nodes.get(1)!.peerPort;
      // A real file of the snapshot is served…
      const served = await requestChunk(port, { index, file: 'hint-index', offset: 0, length: 100 });
      assert.ok(served !== 'closed' && served.kind === FrameKind.SnapChunk, 'a file of the snapshot is served');
      // …but nothing outside it.
      for (const request of [
        { index: '../../../../../../../../etc', file: 'hostname', offset: 0, length: 100 },
        { index: `${index}/../../..`, file: 'flock', offset: 0, length: 100 },
        { index, file: '..', offset: 0, length: 100 },
        { index, file: '../peers.json', offset: 0, length: 100 },
        { index, file: 'hint-index', offset: -5, length: 100 },
        { index, file: 'hint-index', offset: 0, length: 'all' },
        { file: 'hint-index' },
      ]) {
        const reply = await requestChunk(port, request);
        assert.ok(reply === 'closed' || reply.kind === FrameKind.SnapError, `${JSON.stringify(request)} was answered with frame ${reply === 'closed' ? reply : reply.kind}`);
      }
      assert.equal(await client.call(['get', 'k']), 'v');
    } finally {
      await cluster.stopAll();
      cluster.cleanup();
    }
  });

  it('a snapshot descriptor naming a path instead of a file is refused', () => {
    const good = { index: 7, files: [{ name: '000000001.data', size: 10 }, { name: 'hint-index', size: 3 }], peers: { 1: '127.0.0.1:1' } };
    assert.deepEqual(decodeDescriptor(Buffer.from(JSON.stringify(good))), good);
    for (const bad of [
      { ...good, files: [{ name: '../../../etc/cron.d/x', size: 1 }] },
      { ...good, files: [{ name: '..', size: 1 }] },
      { ...good, files: [{ name: 'a/b', size: 1 }] },
      { ...good, files: [{ name: 'ok', size: -1 }] },
      { ...good, index: '1' },
      { ...good, peers: { x: '127.0.0.1:1' } },
      { index: 7 },
    ]) {
      assert.throws(() => decodeDescriptor(Buffer.from(JSON.stringify(bad))), (e: unknown) => isCaskError(e, 'CASKDB_CORRUPTION'), JSON.stringify(bad));
    }
    assert.throws(() => decodeDescriptor(Buffer.from('{not json')), (e: unknown) => isCaskError(e, 'CASKDB_CORRUPTION'));
  });

  it('random and malformed frames on many peer connections leave a 3-node cluster serving', async () => {
    const cluster = new Cluster({ nodes: 3, tickMs: 20, electionTicks: 10 });
    try {
      await cluster.init();
      await cluster.startAll();
      await cluster.waitLeader();
      const client = cluster.client(1);
      let seed = 1;
      const payloads = (i: number): Buffer => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const noise = randomBytes(1 + (seed % 3000));
        switch (i % 6) {
          case 0: return noise; // no framing at all
          case 1: return Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0x7f]), noise]); // a 2 GiB frame header
          case 2: return encodeFrame(200, noise); // an unknown kind
          case 3: return Buffer.concat([encodeFrame(FrameKind.Hello, noise), encodeFrame(FrameKind.Raft, noise)]);
          case 4: return encodeFrame(FrameKind.SnapRequest, noise);
          default: return Buffer.concat([encodeFrame(FrameKind.Raft, noise.subarray(0, 3)), noise]);
        }
      };
      const ports = [...cluster.nodes.values()].map((n) => n.peerPort);
      let acknowledged = 0;
      const writes = (async () => {
        for (let i = 0; i < 200; i++) {
          const reply = await client.call(['set', `w${i}`, String(i)]);
          if (reply === 'OK') acknowledged++;
        }
      })();
      for (let i = 0; i < 600; i++) {
        const port = ports[i % ports.length]!;
        await new Promise<void>((resolve) => {
          const socket = net.connect(port, '127.0.0.1', () => {
            socket.write(payloads(i));
            setTimeout(() => socket.destroy(), 5);
          });
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
        });
      }
      await writes;
      assert.equal(acknowledged, 200, 'every write was acknowledged while the peer ports took garbage');
      for (const node of cluster.nodes.values()) assert.equal(node.proc?.exitCode, null, `node ${node.id} is running`);
      await sleep(100);
      await cluster.waitConverged([1, 2, 3]);
      for (const id of [1, 2, 3]) {
        const local = cluster.client(id);
        assert.equal(await local.call(['readonly']), 'OK');
        assert.equal(await local.call(['get', 'w199']), '199', `node ${id}`);
      }
    } finally {
      await cluster.stopAll();
      cluster.cleanup();
    }
  });
});

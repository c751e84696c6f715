// Raft cluster mode: the durable Raft log, the peer transport, the node driver and RaftStore (the server's
// KvStore in mode raft). `openRaftStore` turns the server configuration into a started store.
import { join } from 'node:path';
import { valueCacheBytesOf, type ServerConfig } from '../config/schema.js';
import type { ServerLogger } from '../server/logger.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import { RaftStore } from './raft-store.js';

export { RaftStore, APPLIED_KEY, type RaftStoreOptions } from './raft-store.js';
export { RaftNode, type StateMachine, type SnapshotDescriptor } from './raft-node.js';
export { DurableRaftStorage } from './raft-log-storage.js';
export { PeerTransport } from './peer-transport.js';

/** Parses `raft.peers`: `1=127.0.0.1:7380,2=127.0.0.1:7381,…`. */
export function parsePeers(text: string): Map<number, string> {
  const peers = new Map<number, string>();
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^(\d+)=([^\s=]+:\d+)$/.exec(part);
    if (m === null) throw new CaskError(ErrorCode.Config, `raft.peers: bad entry '${part}' (want id=host:port)`);
    const id = Number(m[1]);
    if (id <= 0 || peers.has(id)) throw new CaskError(ErrorCode.Config, `raft.peers: bad or duplicate id ${m[1]}`);
    peers.set(id, m[2]!);
  }
  return peers;
}

export async function openRaftStore(config: ServerConfig, log: ServerLogger): Promise<RaftStore> {
  const id = config['raft.id'];
  if (id <= 0) throw new CaskError(ErrorCode.Config, 'mode raft needs raft.id (a positive integer)');
  const peers = parsePeers(config['raft.peers']);
  if (!peers.has(id)) throw new CaskError(ErrorCode.Config, `raft.peers must include this node's own peer address (${id}=host:port)`);
  if (config['raft.heartbeat-ticks'] >= config['raft.election-ticks']) {
    throw new CaskError(ErrorCode.Config, 'raft.heartbeat-ticks must be less than raft.election-ticks');
  }
  const store = await RaftStore.open({
    dir: config.dir,
    raftDir: config['raft.dir'] === '' ? join(config.dir, 'raft') : config['raft.dir'],
    id,
    peers,
    join: config['raft.join'] === 'yes',
    electionTicks: config['raft.election-ticks'],
    heartbeatTicks: config['raft.heartbeat-ticks'],
    tickMs: config['raft.tick-ms'],
    snapshotEntries: config['raft.snapshot-entries'],
    catchupEntries: config['raft.catchup-entries'],
    requestTimeoutMs: config['raft.request-timeout-ms'],
    sync: config.sync,
    stringBytesMax: config['proto-max-bulk-len'],
    entryBytesMax: config['raft.entry-bytes-max'],
    valueCacheBytes: valueCacheBytesOf(config),
    mmapReads: config['mmap-reads'] === 'yes',
    ...(config['mmap-writes'] === 'auto' ? {} : { mmapWrites: config['mmap-writes'] === 'yes' }),
    log: (entry) => log.log(entry),
    onFatal: (error) => {
      log.error('fatal Raft error, exiting', { component: 'raft', error: error.message });
      process.exit(70);
    },
  });
  await store.start();
  return store;
}

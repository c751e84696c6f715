// The Raft node driver: owns the RawNode, the durable log and the peer transport, ticks the core from a
// timer and runs the Ready loop in the contract's order — persist (snapshot, entries, hard state; fsync when
// mustSync) → send → apply (snapshot, committed entries in log order) and hand out read states → advance.
// Invariant: one Ready is handled at a time; inputs (step/propose/tick) may arrive while it is in flight.
import fs from 'node:fs';
import { join } from 'node:path';
import { decodeConfChange } from '../raft/codec.js';
import { RawNode, bootstrapState, type Status } from '../raft/raw-node.js';
import { Xoshiro128 } from '../raft/prng.js';
import {
  type ConfChange,
  type Entry,
  type Message,
  type ReadState,
  type Snapshot,
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  StateType,
  isEmptySnapshot,
  stateTypeName,
} from '../raft/types.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import { PeerTransport, type SnapshotChunkHeader, type SnapshotChunkRequest } from './peer-transport.js';
import { DurableRaftStorage, writeFileAtomic } from './raft-log-storage.js';
import { writeFullySync } from '../io/write-fully.js';

/** What the node applies committed entries to (the RaftStore's engine). */
export interface StateMachine {
  /** Index of the last entry whose effects are in the state machine (durable with the engine's data). */
  readonly appliedIndex: number;
  /** Applies committed normal entries in order; effects are visible when it returns. */
  applyEntries(entries: readonly Entry[]): void;
  /** Replaces the state with the snapshot (its files are already fetched into `snapshotDir`). */
  installSnapshot(snapshot: Snapshot, snapshotDir: string): Promise<void>;
  /** Makes a snapshot of the applied state in `targetDir`; resolves with the index it covers. */
  createSnapshot(targetDir: string): Promise<number>;
  onReadStates(states: readonly ReadState[]): void;
  /** A promise applying must wait for (a snapshot is sealing the state), or undefined. */
  applyGate(): Promise<void> | undefined;
  onRoleChange(role: string, leaderId: number): void;
}

export interface RaftNodeOptions {
  readonly id: number;
  /** raft.dir: log, hard state, snapshots, peer address book. */
  readonly dir: string;
  /** Initial address book (raft.peers); the own entry is the peer listen address. */
  readonly peers: ReadonlyMap<number, string>;
  /** Start without bootstrapping: wait to be added by the leader (caskdb cluster add). */
  readonly join: boolean;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly tickMs: number;
  /** Take a snapshot (and compact) once this many entries are applied past the last one. */
  readonly snapshotEntries: number;
  /** Entries kept in the log behind a snapshot, for slow followers. */
  readonly catchupEntries: number;
  readonly log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** A failure the node cannot continue from (log fsync failed, apply failed). */
  readonly onFatal: (error: Error) => void;
}

/** The snapshot descriptor carried in Snapshot.data: which files, who has them. */
export interface SnapshotDescriptor {
  readonly index: number;
  readonly files: ReadonlyArray<{ readonly name: string; readonly size: number }>;
  readonly peers: Record<string, string>;
}

const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;
const DIRECT_APPLY_BYTES_MAX = 16 * 1024 * 1024;
const PEERS_FILE = 'peers.json';
/** How long an automatic snapshot waits after one failed (a full disk, say) before it is tried again. */
const SNAPSHOT_RETRY_MS = 10_000;

/** A file name inside a snapshot directory: no separators, and never '.' or '..'. */
export const SNAPSHOT_FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * The snapshot descriptor carried in a snapshot's data. It arrives from a peer, so it is checked before its
 * file names become paths: a name like '../../x' would otherwise make the fetch write outside the snapshot
 * directory. Throws CASKDB_CORRUPTION for anything else.
 */
export function decodeDescriptor(data: Uint8Array): SnapshotDescriptor {
  const bad = (why: string): CaskError => new CaskError(ErrorCode.Corruption, `snapshot descriptor: ${why}`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  const d = value as { index?: unknown; files?: unknown; peers?: unknown } | null;
  if (d === null || typeof d !== 'object') throw bad('not an object');
  if (typeof d.index !== 'number' || !Number.isSafeInteger(d.index) || d.index < 1) throw bad(`index ${JSON.stringify(d.index)}`);
  if (!Array.isArray(d.files)) throw bad('no file list');
  const files = d.files.map((f: unknown) => {
    const { name, size } = (f ?? {}) as { name?: unknown; size?: unknown };
    if (typeof name !== 'string' || !SNAPSHOT_FILE_NAME.test(name)) throw bad(`file name ${JSON.stringify(name)}`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad(`size ${JSON.stringify(size)} of ${name}`);
    return { name, size };
  });
  const peers: Record<string, string> = {};
  if (d.peers === null || typeof d.peers !== 'object') throw bad('no peer list');
  for (const [id, address] of Object.entries(d.peers as Record<string, unknown>)) {
    if (!/^[1-9][0-9]*$/.test(id) || typeof address !== 'string') throw bad(`peer ${JSON.stringify(id)}`);
    peers[id] = address;
  }
  return { index: d.index, files, peers };
}

export class RaftNode {
  readonly id: number;
  readonly raw: RawNode;
  readonly storage: DurableRaftStorage;
  readonly transport: PeerTransport;
  /** node id → peer address. */
  readonly peers = new Map<number, string>();
  leaderId = NONE;
  role = 'follower';
  private running = false;
  private rerun = false;
  private ticker: NodeJS.Timeout | undefined;
  private closed = false;
  private snapshotting = false;
  /** After a failed automatic snapshot, the next is not tried before this time (ms since the epoch). */
  private snapshotRetryAt = 0;
  private installing = false;
  private readonly fetching = new Map<number, Promise<void>>();
  private readonly snapSentAt = new Map<number, number>();
  lastSnapshot: { index: number; term: number; at: string; files: number; bytes: number } | undefined;
  snapshotsSent = 0;
  snapshotsInstalled = 0;
  /** Ready cycles handled, entries persisted, entries applied, fsynced saves and the time they took. */
  readonly stats = { readies: 0, entriesPersisted: 0, committedApplied: 0, syncs: 0, syncMs: 0 };

  constructor(
    readonly options: RaftNodeOptions,
    readonly sm: StateMachine,
    storage: DurableRaftStorage,
  ) {
    this.id = options.id;
    this.storage = storage;
    for (const [id, addr] of options.peers) this.peers.set(id, addr);
    const saved = join(options.dir, PEERS_FILE);
    if (fs.existsSync(saved)) {
      const book = JSON.parse(fs.readFileSync(saved, 'utf8')) as Record<string, string>;
      for (const [id, addr] of Object.entries(book)) if (!this.peers.has(Number(id))) this.peers.set(Number(id), addr);
    }
    if (storage.lastIndex() === 0 && !options.join) {
      // A founding member: the initial voters are the first log entries (see bootstrapState).
      const boot = bootstrapState([...options.peers.keys()].sort((a, b) => a - b));
      storage.bootstrap(boot.hardState, boot.entries);
    }
    storage.ensureCommitted(sm.appliedIndex);
    const seed = (options.id * 2654435761 + Date.now()) >>> 0;
    this.raw = new RawNode({
      id: options.id,
      storage,
      rng: new Xoshiro128(seed),
      electionTimeoutTicks: options.electionTicks,
      heartbeatIntervalTicks: options.heartbeatTicks,
      applied: sm.appliedIndex,
      checkQuorum: true,
      preVote: true,
    });
    const snap = storage.snapshot();
    if (!isEmptySnapshot(snap)) {
      const d = decodeDescriptor(snap.data);
      this.lastSnapshot = { index: snap.metadata.index, term: snap.metadata.term, at: '', files: d.files.length, bytes: d.files.reduce((n, f) => n + f.size, 0) };
    }
    this.transport = new PeerTransport(this.id, this.peers.get(this.id) ?? '', {
      onMessage: (m) => this.receive(m),
      onUnreachable: (id) => {
        if (!this.closed) this.raw.reportUnreachable(id);
      },
      onSnapshotRequest: (req) => this.serveSnapshotChunk(req),
      onPeerAddress: (id, addr) => this.learnPeer(id, addr, false),
    });
  }

  get snapshotsDir(): string {
    return join(this.options.dir, 'snapshots');
  }

  async start(): Promise<void> {
    const own = this.peers.get(this.id);
    if (own === undefined) throw new CaskError(ErrorCode.Config, `raft.peers has no address for this node (raft.id ${this.id})`);
    await this.transport.listen(own);
    this.transport.setPeers(this.peers);
    this.ticker = setInterval(() => this.tick(), this.options.tickMs);
    this.schedule();
  }

  private tick(): void {
    if (this.closed) return;
    this.raw.tick();
    this.retrySnapshots();
    this.schedule();
  }

  /** A peer's message: snapshots are fetched (files) before the core sees them. */
  private receive(m: Message): void {
    if (this.closed) return;
    if (m.type === MessageType.Snap && m.snapshot !== undefined) {
      this.fetchSnapshot(m);
      return;
    }
    try {
      this.raw.step(m);
    } catch (e) {
      this.options.log('debug', 'dropped a peer message', { error: (e as Error).message });
      return;
    }
    if (m.type === MessageType.AppResp || m.type === MessageType.App || m.type === MessageType.Heartbeat) this.applyDirect();
    this.schedule();
  }

  /**
   * Applies entries as soon as they are both committed and durable here, without waiting for the Ready in
   * flight (its fsync) to finish: a commit learned from an append response (leader) or an append (follower)
   * answers clients one disk write earlier. The Ready that later carries these entries skips them (the state
   * machine ignores indexes it has applied). Not while a snapshot is pending or being sealed.
   */
  private applyDirect(): void {
    if (this.closed || this.sm.applyGate() !== undefined || this.installing) return;
    const raft = this.raw.raft;
    if (raft.log.unstable.snapshot !== undefined) return;
    const applied = this.sm.appliedIndex;
    // Below the unstable offset: an entry at or after it may be about to replace what storage still holds.
    const hi = Math.min(raft.log.committed, this.storage.durableIndex, this.storage.lastIndex(), raft.log.unstable.offset - 1);
    if (hi <= applied || applied < this.storage.firstIndex() - 1) return;
    this.applyCommitted(this.storage.entries(applied + 1, hi + 1, DIRECT_APPLY_BYTES_MAX));
  }

  /** Proposes normal data; throws NotLeader/LimitExceeded from the core. */
  propose(data: Uint8Array): void {
    this.raw.propose(data);
    this.schedule();
  }

  proposeConfChange(cc: ConfChange): void {
    this.raw.proposeConfChange(cc);
    this.schedule();
  }

  readIndex(context: Uint8Array): void {
    this.raw.readIndex(context);
    this.schedule();
  }

  transferLeadership(to: number): void {
    this.raw.transferLeadership(to);
    this.schedule();
  }

  status(): Status {
    return this.raw.status();
  }

  schedule(): void {
    if (this.closed) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.running = true;
    setImmediate(() => {
      this.runReady().then(
        () => {
          this.running = false;
          if (this.rerun) {
            this.rerun = false;
            this.schedule();
          }
        },
        (e: unknown) => {
          this.running = false;
          this.closed = true;
          this.options.onFatal(e as Error);
        },
      );
    });
  }

  private async runReady(): Promise<void> {
    while (!this.closed && this.raw.hasReady()) {
      this.rerun = false;
      const rd = this.raw.ready();
      if (rd.softState !== undefined) {
        this.leaderId = rd.softState.lead;
        this.role = this.currentRole(rd.softState.state);
        this.sm.onRoleChange(this.role, this.leaderId);
      }
      // 1. persist. Every entry already in the log was fsynced by an earlier Ready (one Ready at a time), so
      // committed entries up to `durable` may be applied while this Ready's own write is being fsynced.
      const hasSnapshot = rd.snapshot !== undefined && !isEmptySnapshot(rd.snapshot);
      if (hasSnapshot) this.storage.applySnapshot(rd.snapshot!);
      for (const e of rd.entries) if (e.type === EntryType.ConfChange) this.learnConfChange(e, false);
      const durable = this.storage.lastIndex();
      const t0 = performance.now();
      const saved = this.storage.save(rd.hardState, rd.entries, rd.mustSync);
      let early = 0;
      const gate = this.sm.applyGate();
      if (gate !== undefined) await gate;
      if (!hasSnapshot) {
        while (early < rd.committedEntries.length && rd.committedEntries[early]!.index <= durable) early++;
        if (early > 0) this.applyCommitted(rd.committedEntries.slice(0, early));
      }
      await saved;
      this.stats.readies++;
      this.stats.entriesPersisted += rd.entries.length;
      this.stats.committedApplied += rd.committedEntries.length;
      if (rd.mustSync) {
        this.stats.syncs++;
        this.stats.syncMs += performance.now() - t0;
      }
      // 2. send
      if (rd.messages.length > 0) {
        for (const m of rd.messages) if (m.type === MessageType.Snap) this.onSnapshotSent(m);
        this.transport.send(rd.messages);
      }
      // 3. apply
      if (hasSnapshot) {
        const snap = rd.snapshot!;
        const d = decodeDescriptor(snap.data);
        for (const [id, addr] of Object.entries(d.peers)) this.learnPeer(Number(id), addr, false);
        this.installing = true;
        try {
          await this.sm.installSnapshot(snap, join(this.snapshotsDir, String(snap.metadata.index)));
        } finally {
          this.installing = false;
        }
        this.snapshotsInstalled++;
        this.lastSnapshot = { index: snap.metadata.index, term: snap.metadata.term, at: new Date().toISOString(), files: d.files.length, bytes: d.files.reduce((n, f) => n + f.size, 0) };
        this.pruneSnapshots(snap.metadata.index);
      }
      const gate2 = this.sm.applyGate();
      if (gate2 !== undefined) await gate2;
      if (early < rd.committedEntries.length) this.applyCommitted(early === 0 ? rd.committedEntries : rd.committedEntries.slice(early));
      if (rd.readStates.length > 0) this.sm.onReadStates(rd.readStates);
      this.raw.advance();
      this.applyDirect();
      this.maybeSnapshot();
    }
  }

  private applyCommitted(entries: readonly Entry[]): void {
    let confChanged = false;
    for (const e of entries) {
      if (e.type !== EntryType.ConfChange || e.index <= this.sm.appliedIndex) continue; // applied directly already
      this.learnConfChange(e, true);
      confChanged = true;
    }
    this.sm.applyEntries(entries);
    if (confChanged) {
      // A promotion (learner → voter) or demotion changes the published role without a state change.
      const role = this.currentRole(this.raw.raft.state);
      if (role !== this.role) {
        this.role = role;
        this.sm.onRoleChange(role, this.leaderId);
      }
    }
  }

  /** leader / candidate / pre-candidate / follower, or learner for a non-voting member. */
  private currentRole(state: number): string {
    if (state === StateType.Follower && this.raw.raft.conf().learners.includes(this.id)) return 'learner';
    return stateTypeName[state as 0 | 1 | 2 | 3];
  }

  // ---- membership and addresses ----

  private learnConfChange(e: Entry, committed: boolean): void {
    const cc = decodeConfChange(e.data);
    if (cc.type === ConfChangeType.RemoveNode) {
      if (!committed) return;
      if (cc.nodeId === this.id) this.options.log('warn', 'this node was removed from the cluster', { index: e.index });
      else if (this.peers.delete(cc.nodeId)) this.savePeers();
      return;
    }
    if (cc.context.byteLength > 0) this.learnPeer(cc.nodeId, Buffer.from(cc.context).toString('utf8'), true);
  }

  private learnPeer(id: number, addr: string, override: boolean): void {
    if (id === this.id || id === NONE) return;
    const known = this.peers.get(id);
    if (known === addr || (known !== undefined && !override)) return;
    this.peers.set(id, addr);
    this.transport.setPeers(this.peers);
    this.savePeers();
  }

  private savePeers(): void {
    const book: Record<string, string> = {};
    for (const [id, addr] of this.peers) book[String(id)] = addr;
    writeFileAtomic(join(this.options.dir, PEERS_FILE), Buffer.from(JSON.stringify(book)));
    this.transport.setPeers(this.peers);
  }

  // ---- snapshots ----

  private maybeSnapshot(): void {
    if (this.snapshotting || this.closed || Date.now() < this.snapshotRetryAt) return;
    const snapIndex = this.storage.snapshot().metadata.index;
    if (this.sm.appliedIndex - snapIndex < this.options.snapshotEntries) return;
    this.snapshotNow().then(
      () => (this.snapshotRetryAt = 0),
      (e: unknown) => {
        // Not again on every apply (a full disk would make each one a failed merge and a log line).
        this.snapshotRetryAt = Date.now() + SNAPSHOT_RETRY_MS;
        this.options.log('warn', 'snapshot failed', { error: (e as Error).message, retryInMs: SNAPSHOT_RETRY_MS });
      },
    );
  }

  /** `RAFT SNAPSHOT`: snapshots the applied state now; resolves with the index covered. */
  async snapshotNow(): Promise<number> {
    if (this.snapshotting) throw new CaskError(ErrorCode.MergeInProgress, 'a snapshot is already being taken');
    this.snapshotting = true;
    try {
      return await this.takeSnapshot();
    } finally {
      this.snapshotting = false;
    }
  }

  private async takeSnapshot(): Promise<number> {
    const started = Date.now();
    fs.mkdirSync(this.snapshotsDir, { recursive: true });
    const tmp = join(this.snapshotsDir, `tmp-${process.pid}-${started}`);
    fs.rmSync(tmp, { recursive: true, force: true });
    let index: number;
    try {
      index = await this.sm.createSnapshot(tmp);
    } catch (error) {
      fs.rmSync(tmp, { recursive: true, force: true }); // a half-made copy must not keep the disk full
      throw error;
    }
    const current = this.storage.snapshot().metadata.index;
    if (index <= current || index < this.storage.firstIndex() - 1 || this.closed) {
      fs.rmSync(tmp, { recursive: true, force: true });
      return current;
    }
    const files = fs.readdirSync(tmp).map((name) => ({ name, size: fs.statSync(join(tmp, name)).size }));
    const final = join(this.snapshotsDir, String(index));
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(tmp, final);
    const peers: Record<string, string> = {};
    for (const [id, addr] of this.peers) peers[String(id)] = addr;
    peers[String(this.id)] = this.peers.get(this.id) ?? '';
    const data = Buffer.from(JSON.stringify({ index, files, peers } satisfies SnapshotDescriptor));
    const snap = this.storage.createSnapshot(index, this.raw.confStateAt(index), data, index - this.options.catchupEntries);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    this.lastSnapshot = { index, term: snap.metadata.term, at: new Date().toISOString(), files: files.length, bytes };
    this.options.log('info', 'snapshot taken', { index, files: files.length, bytes, ms: Date.now() - started, firstIndex: this.storage.firstIndex() });
    this.pruneSnapshots(index);
    return index;
  }

  /** Keeps the newest snapshot directory (and any being fetched); removes older ones. */
  private pruneSnapshots(keep: number): void {
    for (const name of fs.readdirSync(this.snapshotsDir)) {
      const n = Number(name);
      if (Number.isInteger(n) && n < keep) fs.rmSync(join(this.snapshotsDir, name), { recursive: true, force: true });
    }
  }

  private onSnapshotSent(m: Message): void {
    this.snapshotsSent++;
    this.snapSentAt.set(m.to, Date.now());
    this.options.log('info', 'sending snapshot', { to: m.to, index: m.snapshot?.metadata.index });
  }

  /** A follower stuck in snapshot state (its fetch failed) is probed again, which resends the snapshot. */
  private retrySnapshots(): void {
    if (this.raw.raft.state !== StateType.Leader) return;
    const retryMs = Math.max(2000, this.options.tickMs * this.options.electionTicks * 4);
    for (const [id, at] of this.snapSentAt) {
      const pr = this.raw.raft.prs.get(id);
      if (pr === undefined || pr.state !== 'snapshot') {
        this.snapSentAt.delete(id);
        continue;
      }
      if (Date.now() - at > retryMs) {
        this.snapSentAt.delete(id);
        this.raw.reportSnapshot(id, true);
      }
    }
  }

  private async serveSnapshotChunk(req: SnapshotChunkRequest): Promise<{ header: SnapshotChunkHeader; data: Buffer }> {
    // The request comes off the network as JSON: every field is checked before it becomes part of a path
    // (an index of '../..' or a file of '..' must not reach outside the snapshot's own directory).
    const { index, file, offset, length } = req as { index: unknown; file: unknown; offset: unknown; length: unknown };
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 1) throw new Error(`bad snapshot index ${JSON.stringify(index)}`);
    if (typeof file !== 'string' || !SNAPSHOT_FILE_NAME.test(file)) throw new Error(`bad file name ${JSON.stringify(file)}`);
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw new Error(`bad offset ${JSON.stringify(offset)}`);
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) throw new Error(`bad length ${JSON.stringify(length)}`);
    const path = join(this.snapshotsDir, String(index), file);
    const fh = await fs.promises.open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const chunk = Math.max(0, Math.min(length, SNAPSHOT_CHUNK_BYTES, size - offset));
      const data = Buffer.allocUnsafe(chunk);
      const { bytesRead } = await fh.read(data, 0, chunk, offset);
      return { header: { file, offset, size }, data: data.subarray(0, bytesRead) };
    } finally {
      await fh.close();
    }
  }

  /** Pulls the snapshot's files from the sender (resuming partial files), then steps the message. */
  private fetchSnapshot(m: Message): void {
    const snap = m.snapshot!;
    const index = snap.metadata.index;
    if (index <= this.storage.snapshot().metadata.index || this.fetching.has(index)) return;
    const addr = this.peers.get(m.from);
    if (addr === undefined) return;
    const run = this.pullSnapshotFiles(m.from, addr, snap).then(
      () => {
        this.fetching.delete(index);
        if (this.closed) return;
        try {
          this.raw.step(m);
        } catch (e) {
          this.options.log('warn', 'snapshot message refused', { error: (e as Error).message });
        }
        this.schedule();
      },
      (e: unknown) => {
        this.fetching.delete(index);
        this.options.log('warn', 'snapshot fetch failed; will resume', { from: m.from, index, error: (e as Error).message });
      },
    );
    this.fetching.set(index, run);
  }

  private async pullSnapshotFiles(from: number, addr: string, snap: Snapshot): Promise<void> {
    const { SnapshotFetcher } = await import('./peer-transport.js');
    const d = decodeDescriptor(snap.data);
    const index = snap.metadata.index;
    const incoming = join(this.snapshotsDir, `incoming-${index}`);
    fs.mkdirSync(incoming, { recursive: true });
    for (const name of fs.readdirSync(this.snapshotsDir)) {
      if (name.startsWith('incoming-') && name !== `incoming-${index}`) fs.rmSync(join(this.snapshotsDir, name), { recursive: true, force: true });
    }
    let present = 0;
    for (const f of d.files) if (fs.existsSync(join(incoming, f.name))) present += Math.min(f.size, fs.statSync(join(incoming, f.name)).size);
    const total = d.files.reduce((n, f) => n + f.size, 0);
    this.options.log('info', present > 0 ? 'resuming snapshot fetch' : 'fetching snapshot', { from, index, files: d.files.length, bytes: total, presentBytes: present });
    const fetcher = new SnapshotFetcher(addr, this.id, from, 30_000);
    try {
      for (const f of d.files) {
        const path = join(incoming, f.name);
        let offset = fs.existsSync(path) ? fs.statSync(path).size : 0;
        if (offset > f.size) {
          fs.rmSync(path);
          offset = 0;
        }
        const fd = fs.openSync(path, 'a');
        try {
          while (offset < f.size) {
            const { data } = await fetcher.fetch({ index, file: f.name, offset, length: SNAPSHOT_CHUNK_BYTES });
            if (data.length === 0) throw new Error(`snapshot file ${f.name} ended at ${offset} of ${f.size}`);
            writeFullySync(fd, data, path);
            offset += data.length;
          }
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      }
    } finally {
      fetcher.close();
    }
    const final = join(this.snapshotsDir, String(index));
    fs.rmSync(final, { recursive: true, force: true });
    fs.renameSync(incoming, final);
    this.options.log('info', 'snapshot fetched', { from, index });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    while (this.running) await new Promise((r) => setTimeout(r, 2));
    await this.transport.close();
    this.storage.close();
  }
}

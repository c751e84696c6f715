// RaftStore: the server's KvStore in Raft mode. A write is proposed as one log entry (a MULTI/EXEC batch
// too), applied to the engine in log order on every node, and answered on the node that received it once
// applied (and as durable as the engine's sync policy). Reads are linearizable (ReadIndex, batched per event-
// loop turn; on followers the core asks the leader) unless the connection chose stale reads (READONLY).
// Invariants: the engine holds the applied index under a hidden key written atomically with each batch, so a
// restart resumes exactly after it; while there is no leader, requests wait up to requestTimeoutMs.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import { Db } from '../engine/db.js';
import type { EngineStat, IterateOptions, KvEngine, SyncMode, WriteOp } from '../engine/types.js';
import { DEFAULT_OPTIONS, type LogEntry } from '../engine/options.js';
import { lockDirectory } from '../io/dir-lock.js';
import type { DirLock } from '../io/file-system.js';
import { ConfChangeType, EntryType, NONE, StateType, type Entry, type ReadState, type Snapshot } from '../raft/types.js';
import { ReplyError, type Reply } from '../resp/reply.js';
import { applyMutation, type ApplyContext } from '../store/apply-mutation.js';
import { ATOMIC_WRITE_BYTES_MAX, ATOMIC_WRITE_OPS_MAX, atomicWriteError, opBytes, writeBytes } from '../store/atomic-write.js';
import { lookupDataCommand } from '../store/data-commands.js';
import type { KvStore } from '../store/kv-store.js';
import { OverlayView, type KvView } from '../store/kv-view.js';
import type { Mutation } from '../store/mutation.js';
import { ScanCursorTable } from '../store/scan-cursors.js';
import { CaskError, ErrorCode, isCaskError } from '../util/errors.js';
import { CLUSTER_VALUE_BYTES_MAX, decodePayload, encodePayload } from './entry-payload.js';
import { DurableRaftStorage, writeFileAtomic } from './raft-log-storage.js';
import { RaftNode, type RaftNodeOptions, type StateMachine } from './raft-node.js';

/** The engine key holding the applied Raft index (hidden from clients). */
export const APPLIED_KEY = Buffer.from('\u00ffcaskdb\u0000raft-applied', 'latin1');
/** WATCH sees modifications within this many entries; an older WATCH aborts its EXEC (deterministically). */
const WATCH_WINDOW_ENTRIES = 100_000;
/** Most client requests waiting (for a leader, a commit or a read index) before new ones are refused. */
const PENDING_REQUESTS_MAX = 100_000;
const INSTALL_MARKER = 'installing-snapshot';
const APPLY_GROUP_OPS_MAX = 50_000;
const APPLY_GROUP_BYTES_MAX = 64 * 1024 * 1024;
/**
 * Most operations and bytes one entry may write (see store/atomic-write; the engine here is opened with room
 * for the applied index on top). An entry over them is refused when applied, alike on every node, so each
 * group of entries is one atomic engine write and the engine never refuses it.
 */
const ENTRY_WRITE_OPS_MAX = ATOMIC_WRITE_OPS_MAX;
const ENTRY_WRITE_BYTES_MAX = ATOMIC_WRITE_BYTES_MAX;
const APPLIED_RECORD_BYTES_MAX = 1024 * 1024;
const ENGINE_FILE = /^(\d{9}\.data|hint-index|merge-finished|seq-no)$/;

/** The node's Raft settings (its `dir` is `raftDir` here), plus the engine and request settings. */
export interface RaftStoreOptions
  extends Pick<RaftNodeOptions, 'id' | 'peers' | 'join' | 'electionTicks' | 'heartbeatTicks' | 'tickMs' | 'snapshotEntries' | 'catchupEntries'> {
  readonly dir: string;
  readonly raftDir: string;
  readonly requestTimeoutMs: number;
  readonly sync: SyncMode;
  /** This node's `proto-max-bulk-len`: the APPEND/SETRANGE limit its proposals carry (see entry-payload). */
  readonly stringBytesMax: number;
  /** `raft.entry-bytes-max`: the largest entry payload this node proposes (at most CLUSTER_VALUE_BYTES_MAX). */
  readonly entryBytesMax: number;
  /** The engine's value cache (0: off). */
  readonly valueCacheBytes?: number;
  /** The engine's memory-mapped reads (default off). */
  readonly mmapReads?: boolean;
  /** false turns the engine's memory-mapped appends off (on where the addon is built by default). */
  readonly mmapWrites?: boolean;
  readonly log: (entry: LogEntry) => void;
  readonly onFatal: (error: Error) => void;
}

/** The engine with the applied-index key hidden: what clients read. */
class HiddenKeyView implements KvView {
  constructor(private readonly store: { engine: KvEngine }) {}
  get(key: Buffer): Buffer | undefined {
    return key.equals(APPLIED_KEY) ? undefined : this.store.engine.get(key);
  }
  has(key: Buffer): boolean {
    return !key.equals(APPLIED_KEY) && this.store.engine.has(key);
  }
  get size(): number {
    const e = this.store.engine;
    return e.size - (e.has(APPLIED_KEY) ? 1 : 0);
  }
  *keys(options?: IterateOptions): IterableIterator<Buffer> {
    // The hidden key sorts last (0xff…): drop it, and ask for one more when a limit is set.
    const limit = options?.limit;
    const opts = limit === undefined ? options : { ...options, limit: limit + 1 };
    let n = 0;
    for (const k of this.store.engine.keys(opts)) {
      if (k.equals(APPLIED_KEY)) continue;
      if (limit !== undefined && n >= limit) return;
      n++;
      yield k;
    }
  }
}

/** Keys a mutation names (deterministic from the log alone), or 'all' for FLUSHALL. */
function namedKeys(m: Mutation): Buffer[] | 'all' {
  switch (m.op) {
    case 'flushall':
      return 'all';
    case 'mset':
      return m.pairs.map((p) => p[0]);
    case 'del':
      return [...m.keys];
    case 'rename':
      return [m.key, m.newKey];
    case 'copy':
      return [m.newKey];
    case 'exec': {
      const out: Buffer[] = [];
      for (const argv of m.commands) {
        const name = argv[0]?.toString('latin1').toLowerCase() ?? '';
        if (name === 'flushall' || name === 'flushdb') return 'all';
        const spec = lookupDataCommand(name);
        if (spec === undefined || spec.firstKey <= 0) continue;
        const last = spec.lastKey < 0 ? argv.length + spec.lastKey : spec.lastKey;
        for (let i = spec.firstKey; i <= last && i < argv.length; i += Math.max(1, spec.step)) out.push(argv[i]!);
      }
      return out;
    }
    default:
      return [m.key];
  }
}

interface PendingWrite {
  resolve(reply: Reply): void;
  timer: NodeJS.Timeout;
  /** The leader known when the write was proposed (NONE while it waits for one). */
  proposedUnder: number;
}

interface PendingRead {
  resolve(): void;
  reject(e: Error): void;
  deadline: number;
}

export class RaftStore implements KvStore, StateMachine {
  readonly mode = 'raft' as const;
  readonly appliesSynchronously = false;
  readonly view: KvView;
  readonly readContext: ApplyContext;
  engine: Db;
  node!: RaftNode;
  appliedIndex: number;
  private readonly epoch = crypto.randomBytes(4).readUInt32LE(0);
  private nextRequest = 1;
  private readonly pendingWrites = new Map<number, PendingWrite>();
  /** Writes waiting for a leader to be known. */
  private waitingForLeader: Array<{ data: Buffer; request: number; deadline: number }> = [];
  /** Reads not yet covered by a ReadIndex request. */
  private readQueue: PendingRead[] = [];
  private readonly readRequests = new Map<string, { reads: PendingRead[]; sentAt: number }>();
  private nextReadContext = 1;
  private readFlushScheduled = false;
  /** Reads whose read index is known, waiting for the state machine to apply it (ascending index). */
  private readonly appliedWaiters: Array<{ index: number; reads: PendingRead[] }> = [];
  private installing: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly roleListeners: Array<(role: string) => void> = [];
  /** WATCH: last index that named each key, within the window; and the last FLUSHALL. */
  private readonly modifiedAt = new Map<string, number>();
  private flushAt = 0;
  private proposerStringBytesMax: number;
  private trackedFrom: number;
  private closed = false;
  private lastLeader = NONE;
  private sweepTimer: NodeJS.Timeout | undefined;
  stats = { proposals: 0, applied: 0, readIndexRequests: 0, linearizableReads: 0, staleReads: 0, timeouts: 0 };

  private constructor(
    readonly options: RaftStoreOptions,
    engine: Db,
    private readonly raftLock: DirLock,
  ) {
    this.engine = engine;
    this.view = new HiddenKeyView(this);
    this.appliedIndex = readApplied(engine);
    this.trackedFrom = this.appliedIndex;
    this.proposerStringBytesMax = options.stringBytesMax;
    this.readContext = {
      scanCursors: new ScanCursorTable(),
      random: Math.random,
      // Set from each entry as it is applied (the proposer's limit), never from this node's settings.
      stringBytesMax: CLUSTER_VALUE_BYTES_MAX,
      keyBytesMax: DEFAULT_OPTIONS.keyBytesMax,
      valueBytesMax: CLUSTER_VALUE_BYTES_MAX,
      isModifiedSince: (key, since) => this.isModifiedSince(key, since),
    };
  }

  /** Startup order: lock the Raft dir, finish an interrupted snapshot install, recover the engine, recover the log. */
  static async open(options: RaftStoreOptions): Promise<RaftStore> {
    fs.mkdirSync(options.raftDir, { recursive: true });
    fs.mkdirSync(options.dir, { recursive: true });
    const lock = await lockDirectory(join(options.raftDir, 'flock'));
    try {
      const marker = join(options.raftDir, INSTALL_MARKER);
      if (fs.existsSync(marker)) {
        replaceEngineFiles(options.dir, fs.readFileSync(marker, 'utf8'));
        fs.rmSync(marker);
      }
      let engine = await openEngine(options);
      const storage = DurableRaftStorage.open(options.raftDir);
      const snap = storage.snapshot();
      if (snap.metadata.index > readApplied(engine)) {
        // The log was replaced by a snapshot the engine never installed (crash in between): install it now.
        await engine.close();
        installFiles(options, join(options.raftDir, 'snapshots', String(snap.metadata.index)));
        engine = await openEngine(options);
      }
      const store = new RaftStore(options, engine, lock);
      store.rebuildWatchWindow(storage);
      store.node = new RaftNode(
        {
          id: options.id,
          dir: options.raftDir,
          peers: options.peers,
          join: options.join,
          electionTicks: options.electionTicks,
          heartbeatTicks: options.heartbeatTicks,
          tickMs: options.tickMs,
          snapshotEntries: options.snapshotEntries,
          catchupEntries: options.catchupEntries,
          log: (level, msg, fields) => options.log({ level, msg, component: 'raft', ...fields }),
          onFatal: options.onFatal,
        },
        store,
        storage,
      );
      return store;
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  /** Joins the cluster: listen on the peer address and start ticking. */
  async start(): Promise<void> {
    await this.node.start();
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(10, this.options.tickMs));
    this.sweepTimer.unref();
  }

  // ---- KvStore ----

  get appliedSeq(): number {
    return this.appliedIndex;
  }

  /** `CONFIG SET proto-max-bulk-len`: the APPEND/SETRANGE limit this node's later proposals carry. */
  set stringBytesMax(n: number) {
    this.proposerStringBytesMax = n;
  }

  readBarrier(stale?: boolean): Promise<void> | undefined {
    if (this.closed) return Promise.reject(new CaskError(ErrorCode.Closed, 'server is shutting down'));
    if (stale === true) {
      this.stats.staleReads++;
      return this.installing;
    }
    this.stats.linearizableReads++;
    if (this.readQueue.length + this.readRequests.size >= PENDING_REQUESTS_MAX) {
      return Promise.reject(new CaskError(ErrorCode.LimitExceeded, 'too many reads waiting for the Raft read index', { limit: 'pending requests' }));
    }
    return new Promise<void>((resolve, reject) => {
      this.readQueue.push({ resolve, reject, deadline: Date.now() + this.options.requestTimeoutMs });
      if (!this.readFlushScheduled) {
        this.readFlushScheduled = true;
        setImmediate(() => {
          this.readFlushScheduled = false;
          this.requestReadIndex();
        });
      }
    });
  }

  /** One ReadIndex request covers every read queued since the last one. */
  private requestReadIndex(): void {
    if (this.readQueue.length === 0 || this.closed) return;
    if (this.node.leaderId === NONE) return; // retried when a leader appears (onRoleChange) or by sweep
    // Unique cluster-wide: the leader keys pending read-index requests by context.
    const ctx = `${this.options.id}.${this.epoch}.${this.nextReadContext++}`;
    const reads = this.readQueue;
    this.readQueue = [];
    try {
      this.node.readIndex(Buffer.from(ctx));
    } catch {
      this.readQueue.push(...reads);
      return;
    }
    this.stats.readIndexRequests++;
    this.readRequests.set(ctx, { reads, sentAt: Date.now() });
  }

  onReadStates(states: readonly ReadState[]): void {
    for (const rs of states) {
      const ctx = Buffer.from(rs.requestContext).toString('latin1');
      const req = this.readRequests.get(ctx);
      if (req === undefined) continue;
      this.readRequests.delete(ctx);
      if (rs.index <= this.appliedIndex && this.installing === undefined) {
        for (const r of req.reads) r.resolve();
      } else {
        this.appliedWaiters.push({ index: rs.index, reads: req.reads });
        this.appliedWaiters.sort((a, b) => a.index - b.index);
      }
    }
  }

  private releaseAppliedWaiters(): void {
    while (this.appliedWaiters.length > 0 && this.appliedWaiters[0]!.index <= this.appliedIndex) {
      for (const r of this.appliedWaiters.shift()!.reads) r.resolve();
    }
  }

  submit(mutation: Mutation): Promise<Reply> {
    if (this.closed) return Promise.resolve(new ReplyError('ERR server is shutting down'));
    if (this.pendingWrites.size >= PENDING_REQUESTS_MAX) {
      return Promise.resolve(new ReplyError('ERR too many writes waiting for Raft commit (pending requests limit)'));
    }
    const request = this.nextRequest++;
    const data = encodePayload({ node: this.options.id, epoch: this.epoch, request }, this.proposerStringBytesMax, mutation);
    if (data.length > this.options.entryBytesMax) {
      // Refused before it is logged, so nothing about it reaches another node.
      return Promise.resolve(new ReplyError(`ERR write of ${data.length} bytes exceeds the raft log entry limit of ${this.options.entryBytesMax} bytes (raft.entry-bytes-max)`));
    }
    return new Promise<Reply>((resolve) => {
      const timer = setTimeout(() => {
        if (!this.pendingWrites.delete(request)) return;
        this.stats.timeouts++;
        resolve(this.timeoutReply('write'));
      }, this.options.requestTimeoutMs);
      this.pendingWrites.set(request, { resolve, timer, proposedUnder: NONE });
      this.stats.proposals++;
      this.proposeOrWait(data, request, Date.now() + this.options.requestTimeoutMs);
    });
  }

  private proposeOrWait(data: Buffer, request: number, deadline: number): void {
    if (this.node.leaderId === NONE) {
      this.waitingForLeader.push({ data, request, deadline });
      return;
    }
    try {
      this.node.propose(data);
      const p = this.pendingWrites.get(request);
      if (p !== undefined) p.proposedUnder = this.node.leaderId;
    } catch (e) {
      if (isCaskError(e, ErrorCode.NotLeader)) {
        this.waitingForLeader.push({ data, request, deadline });
        return;
      }
      this.finishWrite(request, new ReplyError(`ERR ${(e as Error).message}`));
    }
  }

  private finishWrite(request: number, reply: Reply): void {
    const p = this.pendingWrites.get(request);
    if (p === undefined) return;
    this.pendingWrites.delete(request);
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  private timeoutReply(what: string): ReplyError {
    const ms = this.options.requestTimeoutMs;
    if (this.node.leaderId === NONE) return new ReplyError(`CLUSTERDOWN no Raft leader (waited ${ms} ms; is a majority of the cluster up?)`);
    return new ReplyError(`TIMEOUT the ${what} was not committed within ${ms} ms (it may still be applied)`);
  }

  /** Periodic: expire reads, re-send read index requests lost in a leader change. */
  private sweep(): void {
    const now = Date.now();
    const expire = (r: PendingRead): boolean => {
      if (r.deadline > now) return false;
      this.stats.timeouts++;
      r.reject(this.node.leaderId === NONE
        ? new CaskError(ErrorCode.NoLeader, `no Raft leader (waited ${this.options.requestTimeoutMs} ms; is a majority of the cluster up?)`)
        : new CaskError(ErrorCode.Timeout, `no read index from the leader within ${this.options.requestTimeoutMs} ms`));
      return true;
    };
    this.readQueue = this.readQueue.filter((r) => !expire(r));
    const retryMs = this.options.tickMs * this.options.electionTicks;
    for (const [ctx, req] of this.readRequests) {
      req.reads = req.reads.filter((r) => !expire(r));
      if (req.reads.length === 0) this.readRequests.delete(ctx);
      else if (now - req.sentAt > retryMs) {
        this.readRequests.delete(ctx);
        this.readQueue.push(...req.reads);
      }
    }
    this.waitingForLeader = this.waitingForLeader.filter((w) => w.deadline > now);
    this.requestReadIndex();
  }

  onRoleChange(role: string, leaderId: number): void {
    this.options.log({ level: 'info', msg: 'raft role changed', component: 'raft', role, leader: leaderId, term: this.node?.raw.raft.term ?? 0 });
    if (leaderId !== this.lastLeader) {
      // Writes proposed under the old leader may be lost with it, or committed by the new one: answer them
      // now, honestly (as etcd's "leader changed"), rather than at the request timeout. Reads are retried.
      if (this.lastLeader !== NONE) {
        for (const [request, p] of this.pendingWrites) {
          if (p.proposedUnder !== this.lastLeader) continue;
          this.finishWrite(request, new ReplyError(`TIMEOUT the leader changed before the write committed (it may still be applied)`));
        }
      }
      for (const [ctx, req] of this.readRequests) {
        this.readRequests.delete(ctx);
        this.readQueue.push(...req.reads);
      }
      this.lastLeader = leaderId;
    }
    if (leaderId !== NONE && this.node !== undefined) {
      const waiting = this.waitingForLeader;
      this.waitingForLeader = [];
      // Proposals are stepped after this Ready is handled (the core is mid-Ready here).
      setImmediate(() => {
        for (const w of waiting) if (this.pendingWrites.has(w.request)) this.proposeOrWait(w.data, w.request, w.deadline);
        this.requestReadIndex();
      });
    }
    for (const l of this.roleListeners) l(role);
  }

  /** Registry hook: called with leader/follower/candidate on every role change. */
  onRole(listener: (role: string) => void): void {
    this.roleListeners.push(listener);
  }

  get role(): string {
    return this.node.role;
  }

  // ---- StateMachine ----

  /**
   * Applies committed entries: each group of entries is one atomic engine batch carrying the applied index,
   * so a crash leaves the engine exactly at a group boundary. A group closes once it holds APPLY_GROUP_OPS_MAX
   * operations or APPLY_GROUP_BYTES_MAX bytes, and before an entry that would take it past one engine batch
   * (an entry alone never does: ENTRY_WRITE_*_MAX). A FLUSHALL is a group of its own, written in chunks with
   * the applied index in the last; that is safe because applying it again over a partial one ends the same.
   */
  applyEntries(entries: readonly Entry[]): void {
    let overlay = new OverlayView(this.view);
    let answers: Array<{ request: number; reply: Reply }> = [];
    let groupOps = 0;
    let groupBytes = 0;
    let last = this.appliedIndex;
    const closeGroup = (): void => {
      this.commitGroup(overlay.ops(), last, answers);
      overlay = new OverlayView(this.view);
      answers = [];
      groupOps = 0;
      groupBytes = 0;
    };
    for (const e of entries) {
      if (e.index <= this.appliedIndex) continue; // already in the engine (restart replays from the log)
      if (e.index !== last + 1) throw new CaskError(ErrorCode.Corruption, `apply gap: entry ${e.index} after ${last}`);
      if (e.type !== EntryType.Normal || e.data.byteLength === 0) {
        last = e.index;
        continue;
      }
      const { origin, stringBytesMax, mutation } = decodePayload(e.data);
      this.readContext.stringBytesMax = stringBytesMax;
      let { ops, reply } = applyMutation(overlay, mutation, this.readContext);
      const flush = mutation.op === 'flushall';
      let bytes = writeBytes(ops);
      const tooBig = flush ? undefined : atomicWriteError(ops, bytes);
      if (tooBig !== undefined) {
        reply = tooBig;
        ops = [];
        bytes = 0;
      }
      const overflows = groupOps + ops.length > ENTRY_WRITE_OPS_MAX || groupBytes + bytes > ENTRY_WRITE_BYTES_MAX;
      if (last !== this.appliedIndex && (flush || overflows)) closeGroup();
      last = e.index;
      this.track(mutation, e.index); // after the apply: an EXEC's own keys do not abort it
      for (const op of ops) {
        if (op.type === 'put') overlay.put(asBuffer(op.key), asBuffer(op.value));
        else overlay.del(asBuffer(op.key));
      }
      groupOps += ops.length;
      groupBytes += bytes;
      if (origin.node === this.options.id && origin.epoch === this.epoch) answers.push({ request: origin.request, reply });
      if (flush || groupOps >= APPLY_GROUP_OPS_MAX || groupBytes >= APPLY_GROUP_BYTES_MAX) closeGroup();
    }
    if (last !== this.appliedIndex) closeGroup();
  }

  private commitGroup(ops: WriteOp[], last: number, answers: ReadonlyArray<{ request: number; reply: Reply }>): void {
    const applied: WriteOp = { type: 'put', key: APPLIED_KEY, value: Buffer.from(String(last)) };
    // One engine write, unless the group is a FLUSHALL too big for one batch (see applyEntries).
    const writes: Array<Promise<void>> = [];
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const size = opBytes(op);
      if (i - start >= ENTRY_WRITE_OPS_MAX || bytes + size > ENTRY_WRITE_BYTES_MAX) {
        writes.push(this.engine.write(ops.slice(start, i)));
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    const tail = start === 0 ? ops : ops.slice(start);
    tail.push(applied);
    writes.push(this.engine.write(tail));
    this.appliedIndex = last;
    this.stats.applied = last;
    this.releaseAppliedWaiters();
    const tracked = Promise.all(writes).then(
      () => {
        for (const a of answers) this.finishWrite(a.request, a.reply);
      },
      (e: unknown) => this.options.onFatal(new CaskError(ErrorCode.Io, `applying entries up to ${last} failed: ${(e as Error).message}`, { cause: e })),
    );
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  async installSnapshot(snapshot: Snapshot, snapshotDir: string): Promise<void> {
    let release!: () => void;
    this.lastStat = this.engine.stat();
    this.installing = new Promise((r) => (release = r));
    try {
      await Promise.allSettled([...this.inFlight]);
      await this.engine.close();
      installFiles(this.options, snapshotDir);
      this.engine = await openEngine(this.options);
      this.appliedIndex = readApplied(this.engine);
      if (this.appliedIndex !== snapshot.metadata.index) {
        throw new CaskError(ErrorCode.Corruption, `snapshot files hold index ${this.appliedIndex}, metadata says ${snapshot.metadata.index}`, { file: snapshotDir });
      }
      this.modifiedAt.clear();
      this.trackedFrom = this.appliedIndex;
      this.options.log({ level: 'info', msg: 'snapshot installed', component: 'raft', index: this.appliedIndex, keys: this.view.size });
    } finally {
      this.installing = undefined;
      release();
    }
    this.releaseAppliedWaiters();
  }

  async createSnapshot(targetDir: string): Promise<number> {
    // The snapshot is the merged data files plus the hint file: merge first, then copy the sealed files.
    try {
      await this.engine.merge();
    } catch (e) {
      if (!isCaskError(e, ErrorCode.MergeInProgress)) throw e;
    }
    // Applying pauses from here until the backup has sealed the active file, so the sealed files hold
    // exactly the state at `index` (the copy's hidden applied key says the same).
    const index = this.appliedIndex;
    const activeBefore = this.engine.stat().activeFileId;
    let release!: () => void;
    this.gate = new Promise((r) => (release = r));
    const backup = this.engine.backup(targetDir);
    try {
      let sealed = false;
      const settled = backup.then(() => undefined, () => undefined);
      while (!sealed) {
        if (this.engine.stat().activeFileId !== activeBefore) break;
        sealed = await Promise.race([settled.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);
      }
    } finally {
      this.gate = undefined;
      release();
    }
    await backup;
    return index;
  }

  /** While a snapshot seals the engine's files, applying waits for this. */
  applyGate(): Promise<void> | undefined {
    return this.gate;
  }
  private gate: Promise<void> | undefined;

  // ---- WATCH determinism ----

  private track(m: Mutation, index: number): void {
    const keys = namedKeys(m);
    if (keys === 'all') this.flushAt = index;
    else for (const k of keys) this.modifiedAt.set(k.toString('latin1'), index);
    if (this.modifiedAt.size > 2 * WATCH_WINDOW_ENTRIES) {
      const floor = index - WATCH_WINDOW_ENTRIES;
      for (const [k, i] of this.modifiedAt) if (i <= floor) this.modifiedAt.delete(k);
    }
  }

  /**
   * Whether `key` may have changed after index `since`: any entry after it that names the key (or a
   * FLUSHALL) counts, and a WATCH older than the window counts as changed — the same answer on every node.
   */
  private isModifiedSince(key: Buffer, since: number): boolean {
    if (since < this.appliedIndex - WATCH_WINDOW_ENTRIES || since < this.trackedFrom) return true;
    if (this.flushAt > since) return true;
    return (this.modifiedAt.get(key.toString('latin1')) ?? 0) > since;
  }

  /** After a restart, re-learn which keys the retained log entries named (the WATCH window). */
  private rebuildWatchWindow(storage: DurableRaftStorage): void {
    const from = Math.max(storage.firstIndex(), this.appliedIndex - WATCH_WINDOW_ENTRIES + 1);
    if (from > this.appliedIndex) return;
    for (const e of storage.entries(from, this.appliedIndex + 1, Number.MAX_SAFE_INTEGER)) {
      if (e.type !== EntryType.Normal || e.data.byteLength === 0) continue;
      this.track(decodePayload(e.data).mutation, e.index);
    }
    this.trackedFrom = from - 1;
  }

  watchKeys(): void {}
  unwatchKeys(): void {}

  stat(): EngineStat {
    // While a snapshot is being installed the engine is closed: report its last statistics.
    if (this.installing === undefined) this.lastStat = this.engine.stat();
    return this.lastStat ?? this.engine.stat();
  }
  private lastStat: EngineStat | undefined;

  sync(): Promise<void> {
    return this.engine.sync();
  }

  get merge(): () => Promise<void> {
    return async () => void (await this.engine.merge());
  }

  // ---- membership / admin ----

  /** Adds a node as a learner, waits until it has caught up, then (unless learnerOnly) promotes it. */
  async addNode(id: number, address: string, learnerOnly: boolean): Promise<void> {
    await this.changeConf({ type: ConfChangeType.AddLearner, nodeId: id, context: Buffer.from(address) }, (c) => c.learners.includes(id) || c.voters.includes(id));
    if (learnerOnly) return;
    await this.waitCaughtUp(id);
    await this.changeConf({ type: ConfChangeType.AddVoter, nodeId: id, context: Buffer.from(address) }, (c) => c.voters.includes(id));
  }

  async promoteNode(id: number): Promise<void> {
    await this.waitCaughtUp(id);
    await this.changeConf({ type: ConfChangeType.AddVoter, nodeId: id, context: new Uint8Array(0) }, (c) => c.voters.includes(id));
  }

  async removeNode(id: number): Promise<void> {
    await this.changeConf({ type: ConfChangeType.RemoveNode, nodeId: id, context: new Uint8Array(0) }, (c) => !c.voters.includes(id) && !c.learners.includes(id));
  }

  async transferLeadership(to: number): Promise<void> {
    this.requireLeader();
    this.node.transferLeadership(to);
    await this.waitFor(() => this.node.leaderId === to, `leadership did not move to node ${to}`);
  }

  private requireLeader(): void {
    if (this.node.raw.raft.state !== StateType.Leader) {
      const lead = this.node.leaderId;
      throw new CaskError(ErrorCode.NotLeader, lead === NONE ? 'no leader known' : `not the leader; run this on node ${lead} (${this.node.peers.get(lead) ?? '?'})`, lead === NONE ? {} : { leaderHint: String(lead) });
    }
  }

  private async changeConf(cc: { type: 0 | 1 | 2; nodeId: number; context: Uint8Array }, done: (c: { voters: readonly number[]; learners: readonly number[] }) => boolean): Promise<void> {
    this.requireLeader();
    const raft = this.node.raw.raft;
    if (!done(raft.conf())) {
      this.node.proposeConfChange(cc);
      await this.waitFor(() => done(raft.conf()), 'the configuration change was not appended');
    }
    const target = raft.log.lastIndex();
    await this.waitFor(() => raft.log.committed >= target, 'the configuration change was not committed');
  }

  private async waitCaughtUp(id: number): Promise<void> {
    await this.waitFor(() => {
      const pr = this.node.raw.raft.prs.get(id);
      return pr !== undefined && pr.match + 1 >= this.node.raw.raft.log.committed;
    }, `node ${id} did not catch up`);
  }

  private async waitFor(cond: () => boolean, what: string, timeoutMs = Math.max(this.options.requestTimeoutMs, 10_000)): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new CaskError(ErrorCode.Timeout, `${what} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The `raft` INFO section and `RAFT STATUS`. */
  raftInfo(): Record<string, string | number> {
    const st = this.node.status();
    const lead = st.softState.lead;
    const raft = this.node.raw.raft;
    const info: Record<string, string | number> = {
      raft_id: st.id,
      role: this.node.role,
      term: st.hardState.term,
      voted_for: st.hardState.vote,
      leader_id: lead,
      leader_address: lead === NONE ? '' : this.node.peers.get(lead) ?? '',
      commit_index: st.hardState.commit,
      applied_index: this.appliedIndex,
      first_index: this.node.storage.firstIndex(),
      last_index: st.lastIndex,
      voters: st.confState.voters.join(','),
      learners: st.confState.learners.join(','),
      last_snapshot_index: this.node.lastSnapshot?.index ?? 0,
      last_snapshot_term: this.node.lastSnapshot?.term ?? 0,
      last_snapshot_at: this.node.lastSnapshot?.at ?? '',
      last_snapshot_bytes: this.node.lastSnapshot?.bytes ?? 0,
      snapshots_sent: this.node.snapshotsSent,
      snapshots_installed: this.node.snapshotsInstalled,
      pending_writes: this.pendingWrites.size,
      pending_reads: this.readQueue.length + this.readRequests.size,
      read_index_requests: this.stats.readIndexRequests,
      transport_dropped_messages: this.node.transport.droppedMessages,
      ready_cycles: this.node.stats.readies,
      entries_persisted: this.node.stats.entriesPersisted,
      entries_applied: this.node.stats.committedApplied,
      log_fsyncs: this.node.stats.syncs,
      log_fsync_ms_avg: this.node.stats.syncs === 0 ? 0 : Math.round((this.node.stats.syncMs / this.node.stats.syncs) * 1000) / 1000,
    };
    const ids = [...new Set([...st.confState.voters, ...st.confState.learners, ...this.node.peers.keys()])].sort((a, b) => a - b);
    for (const id of ids) {
      const pr = raft.state === StateType.Leader ? raft.prs.get(id) : undefined;
      const kind = st.confState.voters.includes(id) ? 'voter' : st.confState.learners.includes(id) ? 'learner' : 'none';
      const parts = [`address=${this.node.peers.get(id) ?? ''}`, `kind=${kind}`];
      if (id === st.id) parts.push('self=1');
      if (pr !== undefined) parts.push(`match=${pr.match}`, `next=${pr.next}`, `state=${pr.state}`, `lag=${Math.max(0, st.lastIndex - pr.match)}`);
      info[`peer${id}`] = parts.join(',');
    }
    return info;
  }

  infoSections(): Record<string, Record<string, string | number>> {
    return { raft: this.raftInfo() };
  }

  /** `RAFT <subcommand>`: STATUS, ADD id addr [LEARNER], PROMOTE id, REMOVE id, TRANSFER id, SNAPSHOT. */
  async raftCommand(args: readonly string[]): Promise<Reply> {
    const sub = (args[0] ?? '').toLowerCase();
    const id = Number(args[1]);
    const needId = (): void => {
      if (!Number.isInteger(id) || id <= 0) throw new CaskError(ErrorCode.InvalidArgument, 'node id must be a positive integer');
    };
    try {
      switch (sub) {
        case 'status':
          return Buffer.from(Object.entries(this.raftInfo()).map(([k, v]) => `${k}:${v}`).join('\r\n') + '\r\n');
        case 'add': {
          needId();
          const addr = args[2];
          if (addr === undefined || !/^[^\s]+:\d+$/.test(addr)) throw new CaskError(ErrorCode.InvalidArgument, 'RAFT ADD needs the new node\'s peer address host:port');
          await this.addNode(id, addr, (args[3] ?? '').toLowerCase() === 'learner');
          return 'OK';
        }
        case 'promote':
          needId();
          await this.promoteNode(id);
          return 'OK';
        case 'remove':
          needId();
          await this.removeNode(id);
          return 'OK';
        case 'transfer':
          needId();
          await this.transferLeadership(id);
          return 'OK';
        case 'snapshot':
          return String(await this.node.snapshotNow());
        default:
          return new ReplyError(`ERR unknown RAFT subcommand '${sub}' (STATUS, ADD id host:port [LEARNER], PROMOTE id, REMOVE id, TRANSFER id, SNAPSHOT)`);
      }
    } catch (e) {
      if (isCaskError(e, ErrorCode.NotLeader)) return new ReplyError(`NOTLEADER ${e.message}`);
      return new ReplyError(`ERR ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    for (const [req] of this.pendingWrites) this.finishWrite(req, new ReplyError('ERR server is shutting down'));
    const closing = new CaskError(ErrorCode.Closed, 'server is shutting down');
    for (const r of this.readQueue) r.reject(closing);
    for (const req of this.readRequests.values()) for (const r of req.reads) r.reject(closing);
    for (const w of this.appliedWaiters) for (const r of w.reads) r.reject(closing);
    this.readQueue = [];
    this.readRequests.clear();
    this.appliedWaiters.length = 0;
    await this.node.close();
    await Promise.allSettled([...this.inFlight]);
    await this.engine.sync();
    await this.engine.close();
    await this.raftLock.release();
  }
}

function readApplied(engine: KvEngine): number {
  const v = engine.get(APPLIED_KEY);
  if (v === undefined) return 0;
  const n = Number(v.toString('latin1'));
  if (!Number.isSafeInteger(n) || n < 0) throw new CaskError(ErrorCode.Corruption, `bad applied index ${JSON.stringify(v.toString('latin1'))}`);
  return n;
}

/** The bytes of a WriteOp key or value, copied only when they are not a Buffer already. */
function asBuffer(b: WriteOp['key']): Buffer {
  return Buffer.isBuffer(b) ? b : typeof b === 'string' ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function openEngine(o: RaftStoreOptions): Promise<Db> {
  return Db.open({
    dir: o.dir,
    sync: o.sync,
    valueBytesMax: CLUSTER_VALUE_BYTES_MAX,
    batchOpsMax: ENTRY_WRITE_OPS_MAX + 1,
    batchBytesMax: ENTRY_WRITE_BYTES_MAX + APPLIED_RECORD_BYTES_MAX,
    valueCacheBytes: o.valueCacheBytes ?? 0,
    mmapReads: o.mmapReads ?? false,
    ...(o.mmapWrites === undefined ? {} : { mmapWrites: o.mmapWrites }),
    logger: (entry) => o.log({ ...entry, component: 'engine' }),
  });
}

/** Replaces the engine's files with a snapshot's, crash-safely (a marker makes a restart redo it). */
function installFiles(o: RaftStoreOptions, snapshotDir: string): void {
  const marker = join(o.raftDir, INSTALL_MARKER);
  writeFileAtomic(marker, Buffer.from(snapshotDir));
  replaceEngineFiles(o.dir, snapshotDir);
  fs.rmSync(marker);
}

function replaceEngineFiles(dir: string, snapshotDir: string): void {
  for (const name of fs.readdirSync(dir)) if (ENGINE_FILE.test(name)) fs.rmSync(join(dir, name));
  for (const name of fs.readdirSync(snapshotDir)) {
    if (!ENGINE_FILE.test(name)) continue;
    fs.copyFileSync(join(snapshotDir, name), join(dir, name));
    const fd = fs.openSync(join(dir, name), 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

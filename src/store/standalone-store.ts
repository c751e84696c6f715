// The standalone `KvStore`: mutations are applied at once (`applyMutation`) against the engine plus the
// writes not yet handed to it; the WriteOps of every mutation in one event-loop turn are committed with a
// single engine write (one write(2) instead of one per command, like Redis's AOF buffer), and each reply
// is released when that write resolves (durable per the sync policy; with `always`, after the shared fsync).
// Grouped writes answer with a `PendingReply` of the turn's `WriteGroup` rather than a promise each.
// Invariants: a mutation sees every earlier one (pending writes are visible through `view`); nothing is
// acknowledged before the engine write holding it resolves; a turn's batch is atomic, so it is never torn.
import { DEFAULT_OPTIONS } from '../engine/options.js';
import type { EngineStat, IterateOptions, KvEngine, WriteOp } from '../engine/types.js';
import type { Reply } from '../resp/reply.js';
import { applyMutation, type ApplyContext } from './apply-mutation.js';
import { ATOMIC_WRITE_BYTES_MAX, ATOMIC_WRITE_OPS_MAX, atomicWriteError, writeBytes } from './atomic-write.js';
import type { KvStore } from './kv-store.js';
import type { KvView } from './kv-view.js';
import type { Mutation } from './mutation.js';
import { PendingReply, WriteGroup, writeFailed } from './pending-reply.js';
import { ScanCursorTable } from './scan-cursors.js';

/** FLUSHALL of a large keyspace is committed in batches of this many deletes. */
const FLUSH_BATCH_OPS = 10_000;
/** A turn's pending writes are committed early once they reach this many operations or bytes. */
const PENDING_OPS_MAX = 1024;
const PENDING_BYTES_MAX = 1024 * 1024;

export interface StandaloneStoreOptions {
  /** Longest string APPEND/SETRANGE may build (`proto-max-bulk-len`); capped at `valueBytesMax`. */
  stringBytesMax: number;
  /**
   * Longest value a write may store: the engine's own `valueBytesMax` (default: the engine default), so an
   * oversize value gets an error reply naming the limit instead of a failed engine write.
   */
  valueBytesMax?: number;
  /** Source of randomness for RANDOMKEY (tests pass a seeded one). */
  random?: () => number;
  /** false = hand each mutation to the engine on its own (no per-turn batching). Default true. */
  batchPerTurn?: boolean;
}

function keyBytes(key: WriteOp['key']): Buffer {
  return typeof key === 'string' ? Buffer.from(key) : Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
}

/**
 * The engine as seen by commands: pending (not yet committed) writes first. The pending writes are kept as
 * the list of operations to commit; the key → value map that reads consult is built only when a read
 * happens while writes are pending, so a turn of blind writes (SET, MSET) never pays for it.
 */
class PendingView implements KvView {
  /** Operations of the current turn, in order: what `commitPending` hands to the engine. */
  ops: WriteOp[] = [];
  /** Latest pending value per key (latin1), or undefined while not built. */
  private changes: Map<string, Buffer | null> | undefined;
  constructor(
    private readonly engine: KvEngine,
    private readonly commit: () => void,
  ) {}
  add(op: WriteOp, key: Buffer, value: Buffer | null): void {
    this.ops.push(op);
    if (this.changes !== undefined) this.changes.set(key.toString('latin1'), value);
  }
  /** Takes the pending operations (after which nothing is pending). */
  take(): WriteOp[] {
    const ops = this.ops;
    this.ops = [];
    this.changes = undefined;
    return ops;
  }
  get(key: Buffer): Buffer | undefined {
    if (this.ops.length > 0) {
      const change = this.pendingChanges().get(key.toString('latin1'));
      if (change !== undefined) return change === null ? undefined : change;
    }
    return this.engine.get(key);
  }
  private pendingChanges(): Map<string, Buffer | null> {
    let changes = this.changes;
    if (changes === undefined) {
      changes = new Map();
      for (const op of this.ops) changes.set(keyBytes(op.key).toString('latin1'), op.type === 'put' ? keyBytes(op.value) : null);
      this.changes = changes;
    }
    return changes;
  }
  has(key: Buffer): boolean {
    return this.get(key) !== undefined;
  }
  get size(): number {
    this.commit();
    return this.engine.size;
  }
  keys(options?: IterateOptions): IterableIterator<Buffer> {
    this.commit();
    return this.engine.keys(options);
  }
}

export class StandaloneStore implements KvStore {
  readonly mode = 'standalone' as const;
  readonly appliesSynchronously = true;
  readonly view: KvView;
  readonly readContext: ApplyContext;
  readonly merge: (() => Promise<void>) | undefined;
  private readonly pendingView: PendingView;
  private readonly batchPerTurn: boolean;
  /** The current turn's group and its writes (undefined/empty when nothing is pending). */
  private group: WriteGroup | undefined;
  private groupWrites: PendingReply[] = [];
  private pendingOps = 0;
  private pendingBytes = 0;
  private commitScheduled = false;
  private seq = 0;
  private flushSeq = 0;
  private readonly watchRefs = new Map<string, number>();
  private readonly modifiedSeq = new Map<string, number>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly engine: KvEngine,
    options: StandaloneStoreOptions,
  ) {
    this.pendingView = new PendingView(engine, this.commitPendingNow);
    this.view = this.pendingView;
    this.batchPerTurn = options.batchPerTurn ?? true;
    const mergeable = engine as KvEngine & { merge?: () => Promise<unknown> };
    this.merge = typeof mergeable.merge === 'function' ? async () => void (await mergeable.merge!()) : undefined;
    this.readContext = {
      scanCursors: new ScanCursorTable(),
      random: options.random ?? Math.random,
      stringBytesMax: Math.min(options.stringBytesMax, options.valueBytesMax ?? DEFAULT_OPTIONS.valueBytesMax),
      keyBytesMax: DEFAULT_OPTIONS.keyBytesMax,
      valueBytesMax: options.valueBytesMax ?? DEFAULT_OPTIONS.valueBytesMax,
      isModifiedSince: (key, since) => this.isModifiedSince(key, since),
    };
  }

  /** `CONFIG SET proto-max-bulk-len`: the new APPEND/SETRANGE limit (capped at the value limit). */
  set stringBytesMax(n: number) {
    this.readContext.stringBytesMax = Math.min(n, this.readContext.valueBytesMax);
  }

  get appliedSeq(): number {
    return this.seq;
  }

  readBarrier(): undefined {
    return undefined;
  }

  submit(mutation: Mutation): Reply | Promise<Reply> | PendingReply {
    const { ops, reply } = applyMutation(this.pendingView, mutation, this.readContext);
    if (ops.length === 0) return reply;
    const bytes = writeBytes(ops);
    if (mutation.op !== 'flushall') {
      const tooBig = atomicWriteError(ops, bytes);
      if (tooBig !== undefined) return tooBig; // refused before any other command could see its writes
    }
    this.seq++;
    if (this.watchRefs.size > 0) this.track(mutation, ops);
    if (!this.batchPerTurn || mutation.op === 'flushall' || ops.length > PENDING_OPS_MAX) {
      // Big writes go alone, after everything pending, in engine-sized pieces.
      this.commitPending();
      return this.settle(this.commitAlone(mutation, ops), reply);
    }
    // A group is one engine write: hand the pending one over first if this mutation would overflow it.
    if (this.pendingOps + ops.length > ATOMIC_WRITE_OPS_MAX || this.pendingBytes + bytes > ATOMIC_WRITE_BYTES_MAX) this.commitPending();
    const group = (this.group ??= new WriteGroup());
    const pending = new PendingReply(group, reply, ops);
    this.groupWrites.push(pending);
    const view = this.pendingView;
    for (const op of ops) {
      const key = keyBytes(op.key);
      const value = op.type === 'put' ? keyBytes(op.value) : null;
      view.add(op, key, value);
    }
    this.pendingBytes += bytes;
    this.pendingOps += ops.length;
    if (this.pendingOps >= PENDING_OPS_MAX || this.pendingBytes >= PENDING_BYTES_MAX) this.commitPending();
    else if (!this.commitScheduled) {
      this.commitScheduled = true;
      setImmediate(this.commitPendingNow);
    }
    return pending;
  }

  private readonly commitPendingNow = (): void => this.commitPending();

  private settle(done: Promise<void> | Error, reply: Reply): Reply | Promise<Reply> {
    if (done instanceof Error) return writeFailed(done);
    return this.watchInFlight(done).then(
      () => reply,
      (error: unknown) => writeFailed(error),
    );
  }

  private commitAlone(mutation: Mutation, ops: WriteOp[]): Promise<void> | Error {
    try {
      if (ops.length === 1) {
        const op = ops[0]!;
        return op.type === 'put' ? this.engine.put(op.key, op.value) : this.engine.delete(op.key);
      }
      if (mutation.op === 'flushall' && ops.length > FLUSH_BATCH_OPS) {
        const parts: Promise<void>[] = [];
        for (let i = 0; i < ops.length; i += FLUSH_BATCH_OPS) parts.push(this.engine.write(ops.slice(i, i + FLUSH_BATCH_OPS)));
        return Promise.all(parts).then(() => undefined);
      }
      return this.engine.write(ops);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  /** Hands every pending write to the engine as one write; settles the group's replies after it. */
  private commitPending(): void {
    this.commitScheduled = false;
    const group = this.group;
    if (group === undefined) return;
    const writes = this.groupWrites;
    this.group = undefined;
    this.groupWrites = [];
    this.pendingOps = 0;
    this.pendingBytes = 0;
    const ops = this.pendingView.take();
    let done: Promise<void>;
    try {
      const op = ops[0]!;
      done = ops.length > 1 ? this.engine.write(ops) : op.type === 'put' ? this.engine.put(op.key, op.value) : this.engine.delete(op.key);
    } catch {
      // Refused before anything was written (a limit): commit each mutation alone so only the bad one fails.
      const parts: Promise<void>[] = [];
      for (const write of writes) {
        try {
          parts.push(this.watchInFlight(this.engine.write(write.ops)).catch((error: unknown) => void (write.error = error)));
        } catch (error) {
          write.error = error;
        }
      }
      void Promise.all(parts).then(() => group.settle());
      return;
    }
    this.watchInFlight(done).then(
      () => group.settle(),
      (error: unknown) => {
        for (const write of writes) write.error = error;
        group.settle();
      },
    );
  }

  private watchInFlight(done: Promise<void>): Promise<void> {
    this.inFlight.add(done);
    const clear = () => void this.inFlight.delete(done);
    done.then(clear, clear);
    return done;
  }

  private track(mutation: Mutation, ops: WriteOp[]): void {
    if (mutation.op === 'flushall') this.flushSeq = this.seq;
    for (const op of ops) {
      const id = keyBytes(op.key).toString('latin1');
      if (this.watchRefs.has(id)) this.modifiedSeq.set(id, this.seq);
    }
  }

  private isModifiedSince(key: Buffer, since: number): boolean {
    if (this.flushSeq > since) return true;
    return (this.modifiedSeq.get(key.toString('latin1')) ?? 0) > since;
  }

  watchKeys(keys: readonly Buffer[]): void {
    for (const key of keys) {
      const id = key.toString('latin1');
      this.watchRefs.set(id, (this.watchRefs.get(id) ?? 0) + 1);
    }
  }

  unwatchKeys(keys: readonly Buffer[]): void {
    for (const key of keys) {
      const id = key.toString('latin1');
      const n = (this.watchRefs.get(id) ?? 0) - 1;
      if (n > 0) this.watchRefs.set(id, n);
      else {
        this.watchRefs.delete(id);
        this.modifiedSeq.delete(id);
      }
    }
  }

  stat(): EngineStat {
    this.commitPending();
    return this.engine.stat();
  }

  sync(): Promise<void> {
    this.commitPending();
    return this.engine.sync();
  }

  infoSections(): Record<string, Record<string, string | number>> {
    return {};
  }

  async close(): Promise<void> {
    this.commitPending();
    await Promise.allSettled([...this.inFlight]);
    await this.engine.sync();
    await this.engine.close();
  }
}

// The standalone `KvStore`: mutations are applied at once against the engine (`applyMutation`), their
// WriteOps committed with one engine write, and the reply released when that write resolves (durable per
// the sync policy; with `always`, writes of one event-loop turn share one fsync in the engine).
// Invariant: apply and commit happen in the same synchronous step, so the next mutation sees this one.
import type { EngineStat, KvEngine, WriteOp } from '../engine/types.js';
import { ReplyError, type Reply } from '../resp/reply.js';
import { applyMutation, type ApplyContext } from './apply-mutation.js';
import type { KvStore } from './kv-store.js';
import type { Mutation } from './mutation.js';
import { ScanCursorTable } from './scan-cursors.js';

/** FLUSHALL of a large keyspace is committed in batches of this many deletes. */
const FLUSH_BATCH_OPS = 10_000;

export interface StandaloneStoreOptions {
  stringBytesMax: number;
  /** Source of randomness for RANDOMKEY (tests pass a seeded one). */
  random?: () => number;
}

export class StandaloneStore implements KvStore {
  readonly mode = 'standalone' as const;
  readonly appliesSynchronously = true;
  readonly view: KvEngine;
  readonly readContext: ApplyContext;
  readonly merge: (() => Promise<void>) | undefined;
  private seq = 0;
  private flushSeq = 0;
  private readonly watchRefs = new Map<string, number>();
  private readonly modifiedSeq = new Map<string, number>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly engine: KvEngine,
    options: StandaloneStoreOptions,
  ) {
    this.view = engine;
    const mergeable = engine as KvEngine & { merge?: () => Promise<unknown> };
    this.merge = typeof mergeable.merge === 'function' ? async () => void (await mergeable.merge!()) : undefined;
    this.readContext = {
      scanCursors: new ScanCursorTable(),
      random: options.random ?? Math.random,
      stringBytesMax: options.stringBytesMax,
      isModifiedSince: (key, since) => this.isModifiedSince(key, since),
    };
  }

  set stringBytesMax(n: number) {
    this.readContext.stringBytesMax = n;
  }

  get appliedSeq(): number {
    return this.seq;
  }

  readBarrier(): undefined {
    return undefined;
  }

  submit(mutation: Mutation): Reply | Promise<Reply> {
    const { ops, reply } = applyMutation(this.engine, mutation, this.readContext);
    if (ops.length === 0) return reply;
    this.seq++;
    if (this.watchRefs.size > 0) this.track(mutation, ops);
    let done: Promise<void>;
    try {
      done = this.commit(mutation, ops);
    } catch (error) {
      return writeFailed(error);
    }
    this.inFlight.add(done);
    return done.then(
      () => {
        this.inFlight.delete(done);
        return reply;
      },
      (error: unknown) => {
        this.inFlight.delete(done);
        return writeFailed(error);
      },
    );
  }

  private commit(mutation: Mutation, ops: WriteOp[]): Promise<void> {
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
  }

  private track(mutation: Mutation, ops: WriteOp[]): void {
    if (mutation.op === 'flushall') this.flushSeq = this.seq;
    for (const op of ops) {
      const id = Buffer.from(op.key).toString('latin1');
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
    return this.engine.stat();
  }

  sync(): Promise<void> {
    return this.engine.sync();
  }

  infoSections(): Record<string, Record<string, string | number>> {
    return {};
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await this.engine.sync();
    await this.engine.close();
  }
}

function writeFailed(error: unknown): ReplyError {
  const message = error instanceof Error ? error.message : String(error);
  return new ReplyError(`ERR write failed: ${message}`);
}

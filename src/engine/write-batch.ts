// WriteBatch: operations collected in memory and committed atomically — all of them visible and
// recovered together, or none. Reads through the batch see its own pending writes; other readers see
// nothing until commit. Lock order (original design): the batch's own lock first, then the database
// lock. Here the batch lock is `state` (no change once committing), and the database lock is the
// synchronous append + index update inside Db.write, which nothing can interleave with.
import { CaskError, ErrorCode } from '../util/errors.js';
import { toBuffer, toIndexKey } from './keys.js';
import type { Bytes, WriteOp } from './types.js';

/** What a batch needs from its Db. */
export interface BatchTarget {
  get(key: Bytes): Buffer | undefined;
  write(ops: readonly WriteOp[]): Promise<void>;
  readonly batchOpsMax: number;
  readonly batchBytesMax: number;
}

type Pending = { type: 'put'; key: Buffer; value: Buffer } | { type: 'delete'; key: Buffer };

export class WriteBatch {
  /** Latest pending operation per key, in first-touch order (a key written twice is written once). */
  private readonly pending = new Map<string, Pending>();
  private bytes = 0;
  private state: 'open' | 'committing' | 'committed' | 'discarded' = 'open';

  constructor(private readonly target: BatchTarget) {}

  /** Number of distinct keys the batch will write. */
  get size(): number {
    return this.pending.size;
  }

  put(key: Bytes, value: Bytes): this {
    this.add({ type: 'put', key: Buffer.from(toBuffer(key)), value: Buffer.from(toBuffer(value)) });
    return this;
  }

  delete(key: Bytes): this {
    this.add({ type: 'delete', key: Buffer.from(toBuffer(key)) });
    return this;
  }

  /** The value `key` will have after commit: this batch's pending write, else the database's. */
  get(key: Bytes): Buffer | undefined {
    const pending = this.pending.get(toIndexKey(key));
    if (pending !== undefined) return pending.type === 'put' ? pending.value : undefined;
    return this.target.get(key);
  }

  has(key: Bytes): boolean {
    return this.get(key) !== undefined;
  }

  /** Writes every pending operation atomically; resolves when durable per the Db's sync mode. */
  async commit(): Promise<void> {
    this.assertOpen();
    this.state = 'committing';
    try {
      const ops: WriteOp[] = [];
      for (const op of this.pending.values()) ops.push(op);
      await this.target.write(ops);
      this.state = 'committed';
    } catch (error) {
      // A rejected batch may be fixed and committed again; nothing of it is visible.
      this.state = 'open';
      throw error;
    }
  }

  /** Drops every pending operation; the batch cannot be used afterwards. */
  discard(): void {
    this.assertOpen();
    this.pending.clear();
    this.state = 'discarded';
  }

  private add(op: Pending): void {
    this.assertOpen();
    const indexKey = op.key.toString('latin1');
    const previous = this.pending.get(indexKey);
    const opBytes = op.key.length + (op.type === 'put' ? op.value.length : 0);
    const previousBytes = previous === undefined ? 0 : previous.key.length + (previous.type === 'put' ? previous.value.length : 0);
    if (previous === undefined && this.pending.size >= this.target.batchOpsMax) {
      throw new CaskError(ErrorCode.BatchTooLarge, `a batch holds at most ${this.target.batchOpsMax} operations (batchOpsMax)`, { limit: 'batchOpsMax' });
    }
    if (this.bytes - previousBytes + opBytes > this.target.batchBytesMax) {
      throw new CaskError(ErrorCode.BatchTooLarge, `a batch holds at most ${this.target.batchBytesMax} bytes of keys and values (batchBytesMax)`, { limit: 'batchBytesMax' });
    }
    this.bytes += opBytes - previousBytes;
    // Re-inserting keeps the Map in the order of the latest write, which is the order applied.
    this.pending.delete(indexKey);
    this.pending.set(indexKey, op);
  }

  private assertOpen(): void {
    if (this.state === 'open') return;
    throw new CaskError(ErrorCode.BatchCommitted, `the batch is ${this.state}; start a new one with db.batch()`);
  }
}

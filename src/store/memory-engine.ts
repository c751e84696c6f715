// An in-memory `KvEngine`: a sorted B-tree of byte keys with the engine's visibility rule (a write is
// visible to get() when write() is called, before its promise resolves). Stands in for `Db` in tests and
// for the server before the real engine is available. Keys are held as latin1 strings so that JavaScript
// string order equals byte order.
import sortedBtree from 'sorted-btree';
import type { Bytes, EngineStat, IterateOptions, KvEngine, SyncMode, WriteOp } from '../engine/types.js';
import { CaskError, ErrorCode } from '../util/errors.js';

// sorted-btree is CommonJS: its class is the `default` property of the module object.
const BTree = sortedBtree.default;

export function toBuffer(bytes: Bytes): Buffer {
  return typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function toKey(bytes: Bytes): string {
  return toBuffer(bytes).toString('latin1');
}

/** Whether `key` (latin1) lies inside the bounds of `options` (ignoring reverse and limit). */
export function inRange(key: string, o: IterateOptions): boolean {
  if (o.prefix !== undefined && !key.startsWith(toKey(o.prefix))) return false;
  if (o.gt !== undefined && !(key > toKey(o.gt))) return false;
  if (o.gte !== undefined && !(key >= toKey(o.gte))) return false;
  if (o.lt !== undefined && !(key < toKey(o.lt))) return false;
  if (o.lte !== undefined && !(key <= toKey(o.lte))) return false;
  return true;
}

export class MemoryEngine implements KvEngine {
  private readonly tree = new BTree<string, Buffer>();
  private closed = false;
  private reclaimable = 0;
  readonly syncMode: SyncMode;

  constructor(options: { sync?: SyncMode } = {}) {
    this.syncMode = options.sync ?? 'none';
  }

  get size(): number {
    return this.tree.size;
  }

  private checkOpen(): void {
    if (this.closed) throw new CaskError(ErrorCode.Closed, 'the engine is closed');
  }

  get(key: Bytes): Buffer | undefined {
    this.checkOpen();
    return this.tree.get(toKey(key));
  }

  has(key: Bytes): boolean {
    this.checkOpen();
    return this.tree.has(toKey(key));
  }

  put(key: Bytes, value: Bytes): Promise<void> {
    return this.write([{ type: 'put', key, value }]);
  }

  delete(key: Bytes): Promise<void> {
    return this.write([{ type: 'delete', key }]);
  }

  write(ops: readonly WriteOp[]): Promise<void> {
    this.checkOpen();
    for (const op of ops) {
      const key = toKey(op.key);
      const old = this.tree.get(key);
      if (old !== undefined) this.reclaimable += old.length + key.length;
      if (op.type === 'put') this.tree.set(key, Buffer.from(toBuffer(op.value)));
      else this.tree.delete(key);
    }
    return Promise.resolve();
  }

  *iterate(options: IterateOptions = {}): IterableIterator<[Buffer, Buffer]> {
    this.checkOpen();
    let remaining = options.limit ?? Infinity;
    if (remaining <= 0) return;
    if (options.reverse) {
      const high = options.lte ?? options.lt;
      const it = high === undefined ? this.tree.entriesReversed() : this.tree.entriesReversed(toKey(high));
      for (const [k, v] of it) {
        if ((options.gt !== undefined && k <= toKey(options.gt)) || (options.gte !== undefined && k < toKey(options.gte))) return;
        if (!inRange(k, options)) continue;
        yield [Buffer.from(k, 'latin1'), v];
        if (--remaining <= 0) return;
      }
      return;
    }
    const low = options.gte ?? options.gt ?? options.prefix;
    const it = low === undefined ? this.tree.entries() : this.tree.entries(toKey(low));
    const prefix = options.prefix === undefined ? undefined : toKey(options.prefix);
    for (const [k, v] of it) {
      if ((options.lt !== undefined && k >= toKey(options.lt)) || (options.lte !== undefined && k > toKey(options.lte))) return;
      if (prefix !== undefined && k > prefix && !k.startsWith(prefix)) return;
      if (!inRange(k, options)) continue;
      yield [Buffer.from(k, 'latin1'), v];
      if (--remaining <= 0) return;
    }
  }

  *keys(options: IterateOptions = {}): IterableIterator<Buffer> {
    for (const [k] of this.iterate(options)) yield k;
  }

  stat(): EngineStat {
    let bytes = 0;
    this.tree.forEachPair((k: string, v: Buffer) => {
      bytes += k.length + v.length;
    });
    return {
      keys: this.tree.size,
      dataFiles: 0,
      activeFileId: 0,
      diskBytes: 0,
      reclaimableBytes: this.reclaimable,
      indexBytes: bytes,
      indexBytesPerKey: this.tree.size === 0 ? 0 : bytes / this.tree.size,
      lastSeq: 0,
      merging: false,
      openMs: 0,
      sync: this.syncMode,
      mmapReads: false,
      mmapWrites: false,
      zeroFillAppends: false,
    };
  }

  sync(): Promise<void> {
    this.checkOpen();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

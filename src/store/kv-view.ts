// What command evaluation reads and writes: `KvView` is the read side every engine offers; `MutableView`
// adds buffered writes. `DirectView` records the writes of one simple mutation over the engine;
// `OverlayView` also lets later reads see earlier writes (EXEC), and both produce the WriteOps to commit.
import type { IterateOptions, WriteOp } from '../engine/types.js';
import { inRange } from './memory-engine.js';

export interface KvView {
  get(key: Buffer): Buffer | undefined;
  has(key: Buffer): boolean;
  readonly size: number;
  keys(options?: IterateOptions): IterableIterator<Buffer>;
}

export interface MutableView extends KvView {
  put(key: Buffer, value: Buffer): void;
  del(key: Buffer): void;
  /** Deletes every key. */
  clear(): void;
  /** The operations to commit, in order. */
  ops(): WriteOp[];
}

/** Writes are recorded, not visible: valid for mutations that never read a key after writing it. */
export class DirectView implements MutableView {
  private readonly recorded: WriteOp[] = [];
  constructor(private readonly base: KvView) {}
  get(key: Buffer): Buffer | undefined {
    return this.base.get(key);
  }
  has(key: Buffer): boolean {
    return this.base.has(key);
  }
  get size(): number {
    return this.base.size;
  }
  keys(options?: IterateOptions): IterableIterator<Buffer> {
    return this.base.keys(options);
  }
  put(key: Buffer, value: Buffer): void {
    this.recorded.push({ type: 'put', key, value });
  }
  del(key: Buffer): void {
    this.recorded.push({ type: 'delete', key });
  }
  clear(): void {
    for (const key of this.base.keys()) this.recorded.push({ type: 'delete', key });
  }
  ops(): WriteOp[] {
    return this.recorded;
  }
}

/** Reads see the writes made so far; keys are latin1 strings so Map order and byte order agree. */
export class OverlayView implements MutableView {
  private readonly changes = new Map<string, Buffer | null>();
  private cleared = false;
  private clearedKeys: Buffer[] = [];
  private sizeDelta = 0;
  constructor(private readonly base: KvView) {}

  get(key: Buffer): Buffer | undefined {
    const change = this.changes.get(key.toString('latin1'));
    if (change !== undefined) return change === null ? undefined : change;
    return this.cleared ? undefined : this.base.get(key);
  }
  has(key: Buffer): boolean {
    return this.get(key) !== undefined;
  }
  get size(): number {
    return (this.cleared ? 0 : this.base.size) + this.sizeDelta;
  }
  *keys(options: IterateOptions = {}): IterableIterator<Buffer> {
    const all = new Set<string>();
    const { limit: _limit, reverse: _reverse, ...range } = options;
    if (!this.cleared) {
      for (const k of this.base.keys(range)) all.add(k.toString('latin1'));
    }
    for (const [k, v] of this.changes) {
      if (v === null) all.delete(k);
      else if (inRange(k, options)) all.add(k);
    }
    const sorted = [...all].sort();
    if (options.reverse) sorted.reverse();
    const limit = options.limit ?? Infinity;
    let n = 0;
    for (const k of sorted) {
      if (n++ >= limit) return;
      yield Buffer.from(k, 'latin1');
    }
  }
  put(key: Buffer, value: Buffer): void {
    if (!this.has(key)) this.sizeDelta++;
    this.changes.set(key.toString('latin1'), value);
  }
  del(key: Buffer): void {
    if (this.has(key)) this.sizeDelta--;
    this.changes.set(key.toString('latin1'), null);
  }
  clear(): void {
    if (!this.cleared) this.clearedKeys = [...this.base.keys()];
    this.cleared = true;
    this.changes.clear();
    this.sizeDelta = 0;
  }
  ops(): WriteOp[] {
    const out: WriteOp[] = [];
    if (this.cleared) {
      for (const key of this.clearedKeys) {
        if (!this.changes.has(key.toString('latin1'))) out.push({ type: 'delete', key });
      }
    }
    for (const [k, v] of this.changes) {
      const key = Buffer.from(k, 'latin1');
      out.push(v === null ? { type: 'delete', key } : { type: 'put', key, value: v });
    }
    return out;
  }
}

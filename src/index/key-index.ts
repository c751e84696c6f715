// The in-memory index: an ordered B+ tree (sorted-btree) from user key to record position.
// Compact by design, because memory per key is a first-class figure:
// - keys are held as latin1 strings (one char per byte): V8 stores them one byte per char, and
//   JS string comparison of such strings is exactly unsigned bytewise order;
// - the tree's value is a small-integer slot into three typed arrays (file id, offset, record size),
//   so a position costs 12 bytes and an overwrite updates the arrays without touching the tree.
// Invariant: every slot in the tree is live; freed slots sit on the free stack and nowhere else.
import sortedBtree from 'sorted-btree';
import { assert } from '../util/assert.js';

const BTree = sortedBtree.default;
type Tree = InstanceType<typeof BTree<string, number>>;

const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const INITIAL_SLOTS = 1024;
/** Entries handed out per `scan` call, so iteration re-seeks and tolerates concurrent writes. */
export const SCAN_CHUNK_ENTRIES = 256;

export interface KeyRange {
  /** Inclusive lower bound, or undefined for the first key. */
  low?: string;
  lowInclusive?: boolean;
  /** Upper bound, or undefined for the last key. */
  high?: string;
  highInclusive?: boolean;
}

export class KeyIndex {
  private readonly tree: Tree = new BTree<string, number>(undefined, compareKeys, 64);
  private fileIds = new Uint32Array(INITIAL_SLOTS);
  private offsets = new Float64Array(INITIAL_SLOTS);
  private sizes = new Uint32Array(INITIAL_SLOTS);
  private freeSlots = new Int32Array(INITIAL_SLOTS);
  private freeCount = 0;
  private slotsUsed = 0;
  /** Sum of key lengths, for the memory estimate. */
  private keyBytes = 0;

  get size(): number {
    return this.tree.size;
  }

  /** Slot of `key`, or −1 when absent. */
  slotOf(key: string): number {
    return this.tree.get(key) ?? -1;
  }

  fileIdAt(slot: number): number {
    return this.fileIds[slot]!;
  }

  offsetAt(slot: number): number {
    return this.offsets[slot]!;
  }

  sizeAt(slot: number): number {
    return this.sizes[slot]!;
  }

  /** Points `key` at a record; returns the size of the record it supersedes, or 0 when new. */
  set(key: string, fileId: number, offset: number, size: number): number {
    const existing = this.tree.get(key) ?? -1;
    if (existing >= 0) {
      const previousSize = this.sizes[existing]!;
      this.fileIds[existing] = fileId;
      this.offsets[existing] = offset;
      this.sizes[existing] = size;
      return previousSize;
    }
    const slot = this.allocateSlot();
    this.fileIds[slot] = fileId;
    this.offsets[slot] = offset;
    this.sizes[slot] = size;
    this.tree.set(key, slot);
    this.keyBytes += key.length;
    return 0;
  }

  /** Removes `key`; returns the size of the record it pointed at, or 0 when absent. */
  delete(key: string): number {
    const slot = this.tree.get(key) ?? -1;
    if (slot < 0) return 0;
    this.tree.delete(key);
    this.keyBytes -= key.length;
    const previousSize = this.sizes[slot]!;
    this.releaseSlot(slot);
    return previousSize;
  }

  /** True when `key` still points exactly at (fileId, offset): the record is live. */
  isLive(key: string, fileId: number, offset: number): boolean {
    const slot = this.tree.get(key) ?? -1;
    return slot >= 0 && this.fileIds[slot] === fileId && this.offsets[slot] === offset;
  }

  clear(): void {
    this.tree.clear();
    this.freeCount = 0;
    this.slotsUsed = 0;
    this.keyBytes = 0;
  }

  /**
   * Up to `limit` entries of `range` in key order (or reverse), as [key, slot] pairs. Callers that want
   * more call again with the range narrowed past the last key returned.
   */
  scan(range: KeyRange, reverse: boolean, limit: number): Array<[string, number]> {
    const found: Array<[string, number]> = [];
    if (!reverse) {
      const low = range.low ?? this.tree.minKey();
      if (low === undefined) return found;
      for (const pair of this.tree.entries(low)) {
        const key = pair[0];
        if (key === range.low && range.lowInclusive === false) continue;
        if (range.high !== undefined && (key > range.high || (key === range.high && range.highInclusive !== true))) break;
        found.push([key, pair[1]]);
        if (found.length >= limit) break;
      }
    } else {
      const high = range.high ?? this.tree.maxKey();
      if (high === undefined) return found;
      const skipHigh = range.high !== undefined && range.highInclusive !== true;
      for (const pair of this.tree.entriesReversed(high, undefined, skipHigh)) {
        const key = pair[0];
        if (range.low !== undefined && (key < range.low || (key === range.low && range.lowInclusive === false))) break;
        found.push([key, pair[1]]);
        if (found.length >= limit) break;
      }
    }
    return found;
  }

  /**
   * Estimated heap bytes: per key a sequential one-byte string (16-byte header, body rounded to 8), a
   * tree slot (8) for the key and one for the value, plus the node fill overhead; and the typed arrays.
   */
  estimateBytes(): number {
    const keys = this.tree.size;
    const stringBytes = keys * 16 + Math.ceil(this.keyBytes / 8) * 8 + keys * 4;
    const treeBytes = keys * 16 * 1.35; // two 8-byte array slots per entry, nodes ~74% full on average
    const slotBytes = this.fileIds.length * (4 + 8 + 4 + 4);
    return Math.round(stringBytes + treeBytes + slotBytes);
  }

  private allocateSlot(): number {
    if (this.freeCount > 0) return this.freeSlots[--this.freeCount]!;
    if (this.slotsUsed === this.fileIds.length) this.grow();
    return this.slotsUsed++;
  }

  private releaseSlot(slot: number): void {
    assert(this.freeCount < this.freeSlots.length, 'free slot stack overflow');
    this.freeSlots[this.freeCount++] = slot;
  }

  private grow(): void {
    const capacity = this.fileIds.length * 2;
    const fileIds = new Uint32Array(capacity);
    fileIds.set(this.fileIds);
    const offsets = new Float64Array(capacity);
    offsets.set(this.offsets);
    const sizes = new Uint32Array(capacity);
    sizes.set(this.sizes);
    const freeSlots = new Int32Array(capacity);
    freeSlots.set(this.freeSlots);
    this.fileIds = fileIds;
    this.offsets = offsets;
    this.sizes = sizes;
    this.freeSlots = freeSlots;
  }
}

// The in-memory index from user key to record position, built for memory per key and for speed at
// millions of keys, where every cache miss costs more than the work:
// - keys are latin1 strings (one char per byte): V8 stores them one byte per char, and string order
//   is exactly unsigned bytewise order;
// - point operations (get, put, delete) go through an open-addressing hash table of slot numbers in
//   an Int32Array; a slot's position (file id, offset, size) lives interleaved in one Uint32Array;
// - order is kept lazily, for iteration only: a sorted `base` array plus a sorted-btree `delta` of
//   keys added since, both filtered through the hash table (deleted keys linger in them until the
//   next rebuild). Keys added while nobody iterates are only appended to `pendingKeys`, so bulk
//   loads and recovery never pay for ordered inserts.
// Invariants: every live key is in the hash table with one slot; every live key is in base, delta
// or pendingKeys; free slots are on the free stack and in no table entry.
// Pure: no I/O, no clock, no Math.random (the hash seed is passed in).
import sortedBtree from 'sorted-btree';
import { assert } from '../util/assert.js';

const BTree = sortedBtree.default;
type OrderedSet = InstanceType<typeof BTree<string, undefined>>;

const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const INITIAL_SLOTS = 1024;
const EMPTY = 0;
const TOMBSTONE = -1;
/** Fold pending keys one by one into the delta tree up to this many; above, rebuild `base`. */
const DELTA_KEYS_MAX = 65_536;
/** Entries handed out per `scan` call, so iteration re-seeks and tolerates concurrent writes. */
export const SCAN_CHUNK_ENTRIES = 256;

export interface KeyRange {
  /** Lower bound, or undefined for the first key. */
  low?: string;
  lowInclusive?: boolean;
  /** Upper bound, or undefined for the last key. */
  high?: string;
  highInclusive?: boolean;
}

function hashKey(key: string, seed: number): number {
  let hash = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash ^ (hash >>> 15);
}

/** First index in sorted `keys` whose key is ≥ `key` (or > when `exclusive`). */
function lowerBound(keys: readonly string[], key: string, exclusive: boolean): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const probe = keys[middle]!;
    if (probe < key || (exclusive && probe === key)) low = middle + 1;
    else high = middle;
  }
  return low;
}

export class KeyIndex {
  private readonly seed: number;
  // Slots: key and position (fileId, offset, size interleaved).
  private slotKeys: Array<string | undefined> = [];
  private positions = new Uint32Array(INITIAL_SLOTS * 3);
  private freeSlots: number[] = [];
  // Hash table of slot + 1 (0 empty, −1 tombstone).
  private table = new Int32Array(INITIAL_SLOTS * 2);
  private tableMask = INITIAL_SLOTS * 2 - 1;
  private tableUsed = 0; // live entries + tombstones
  private liveCount = 0;
  private keyChars = 0;
  // Ordered view.
  private base: string[] = [];
  private delta: OrderedSet = new BTree<string, undefined>(undefined, compareKeys, 128);
  private pendingKeys: string[] = [];
  /** Deletions since the last rebuild: stale entries in base and delta. */
  private staleCount = 0;
  /** File id of the record the last `set` or `delete` superseded (valid when it returned > 0). */
  supersededFileId = 0;

  constructor(hashSeed = 0) {
    this.seed = hashSeed | 0;
  }

  get size(): number {
    return this.liveCount;
  }

  /** Slot of `key`, or −1 when absent. */
  slotOf(key: string): number {
    const table = this.table;
    const mask = this.tableMask;
    let at = hashKey(key, this.seed) & mask;
    for (;;) {
      const entry = table[at]!;
      if (entry === EMPTY) return -1;
      if (entry > 0 && this.slotKeys[entry - 1] === key) return entry - 1;
      at = (at + 1) & mask;
    }
  }

  fileIdAt(slot: number): number {
    return this.positions[slot * 3]!;
  }

  offsetAt(slot: number): number {
    return this.positions[slot * 3 + 1]!;
  }

  sizeAt(slot: number): number {
    return this.positions[slot * 3 + 2]!;
  }

  keyAt(slot: number): string {
    const key = this.slotKeys[slot];
    assert(key !== undefined, `slot ${slot} is free`);
    return key;
  }

  /** Points `key` at a record; returns the size of the record it supersedes, or 0 when new. */
  set(key: string, fileId: number, offset: number, size: number): number {
    if ((this.tableUsed + 1) * 2 > this.table.length) this.resizeTable();
    // One probe finds the key, or where it goes (the first tombstone passed, else the empty entry).
    const table = this.table;
    const mask = this.tableMask;
    let at = hashKey(key, this.seed) & mask;
    let insertAt = -1;
    for (;;) {
      const entry = table[at]!;
      if (entry === EMPTY) break;
      if (entry === TOMBSTONE) {
        if (insertAt < 0) insertAt = at;
      } else if (this.slotKeys[entry - 1] === key) {
        const existing = entry - 1;
        const previousSize = this.positions[existing * 3 + 2]!;
        this.supersededFileId = this.positions[existing * 3]!;
        this.writePosition(existing, fileId, offset, size);
        return previousSize;
      }
      at = (at + 1) & mask;
    }
    if (insertAt < 0) {
      insertAt = at;
      this.tableUsed++;
    }
    const slot = this.freeSlots.length > 0 ? this.freeSlots.pop()! : this.slotKeys.length;
    if (slot === this.slotKeys.length) {
      this.slotKeys.push(key);
      if (this.positions.length < (slot + 1) * 3) this.growPositions(slot + 1);
    } else {
      this.slotKeys[slot] = key;
    }
    this.writePosition(slot, fileId, offset, size);
    table[insertAt] = slot + 1;
    this.liveCount++;
    this.keyChars += key.length;
    this.pendingKeys.push(key);
    return 0;
  }

  /** Sizes the hash table and position store for `keys` keys, so loading them never rehashes. */
  reserve(keys: number): void {
    if (keys * 2 > this.table.length) this.resizeTable(keys);
    if (this.positions.length < keys * 3) this.growPositions(keys);
  }

  /** Removes `key`; returns the size of the record it pointed at, or 0 when absent. */
  delete(key: string): number {
    const table = this.table;
    const mask = this.tableMask;
    let at = hashKey(key, this.seed) & mask;
    for (;;) {
      const entry = table[at]!;
      if (entry === EMPTY) return 0;
      if (entry > 0 && this.slotKeys[entry - 1] === key) break;
      at = (at + 1) & mask;
    }
    const slot = table[at]! - 1;
    table[at] = TOMBSTONE;
    const previousSize = this.positions[slot * 3 + 2]!;
    this.supersededFileId = this.positions[slot * 3]!;
    this.slotKeys[slot] = undefined;
    this.freeSlots.push(slot);
    this.liveCount--;
    this.keyChars -= key.length;
    this.staleCount++;
    return previousSize;
  }

  /**
   * Slot of the key held in `bytes[start, end)` if that key still points exactly at (fileId, offset) —
   * the record is live — else −1. Compares bytes with the stored key's chars (latin1: one byte each), so
   * a merge checks every record without making a string per record.
   */
  liveSlotOfBytes(bytes: Uint8Array, start: number, end: number, fileId: number, offset: number): number {
    let hash = 0x811c9dc5 ^ this.seed;
    for (let i = start; i < end; i++) {
      hash ^= bytes[i]!;
      hash = Math.imul(hash, 0x01000193);
    }
    const table = this.table;
    const mask = this.tableMask;
    const length = end - start;
    let at = (hash ^ (hash >>> 15)) & mask;
    for (;;) {
      const entry = table[at]!;
      if (entry === EMPTY) return -1;
      if (entry > 0) {
        const slot = entry - 1;
        if (this.positions[slot * 3] === fileId && this.positions[slot * 3 + 1] === offset) {
          const key = this.slotKeys[slot]!;
          if (key.length === length) {
            let same = true;
            for (let i = 0; i < length; i++) {
              if (key.charCodeAt(i) !== bytes[start + i]) {
                same = false;
                break;
              }
            }
            if (same) return slot;
          }
        }
      }
      at = (at + 1) & mask;
    }
  }

  /**
   * Moves the key in `slot` to a new record if the slot still holds the record at (fileId, offset);
   * true when moved. A record position names one record of one key, so a slot freed and reused, or a
   * key written again, no longer matches.
   */
  relocateIfAt(slot: number, fileId: number, offset: number, newFileId: number, newOffset: number, newSize: number): boolean {
    if (this.slotKeys[slot] === undefined || this.positions[slot * 3] !== fileId || this.positions[slot * 3 + 1] !== offset) return false;
    this.writePosition(slot, newFileId, newOffset, newSize);
    return true;
  }

  /** True when `key` still points exactly at (fileId, offset): the record is live. */
  isLive(key: string, fileId: number, offset: number): boolean {
    const slot = this.slotOf(key);
    return slot >= 0 && this.positions[slot * 3] === fileId && this.positions[slot * 3 + 1] === offset;
  }

  /**
   * Up to `limit` live entries of `range` in key order (or reverse), as [key, slot] pairs. Callers
   * that want more call again with the range narrowed past the last key returned.
   */
  scan(range: KeyRange, reverse: boolean, limit: number): Array<[string, number]> {
    this.foldPending();
    return reverse ? this.scanDown(range, limit) : this.scanUp(range, limit);
  }

  private scanUp(range: KeyRange, limit: number): Array<[string, number]> {
    const found: Array<[string, number]> = [];
    const base = this.base;
    let b = range.low === undefined ? 0 : lowerBound(base, range.low, range.lowInclusive === false);
    const deltaStart = range.low === undefined ? this.delta.minKey() : range.low;
    const deltaIterator = deltaStart === undefined ? undefined : this.delta.keys(deltaStart);
    let d = deltaIterator?.next();
    const aboveHigh = (key: string): boolean =>
      range.high !== undefined && (key > range.high || (key === range.high && range.highInclusive !== true));
    let last: string | undefined;
    while (found.length < limit) {
      while (d !== undefined && !d.done && range.low !== undefined && range.lowInclusive === false && d.value === range.low) d = deltaIterator!.next();
      const fromBase = b < base.length ? base[b] : undefined;
      const fromDelta = d !== undefined && !d.done ? d.value : undefined;
      let key: string;
      if (fromBase === undefined && fromDelta === undefined) break;
      if (fromDelta === undefined || (fromBase !== undefined && fromBase <= fromDelta)) {
        key = fromBase!;
        b++;
        if (fromDelta === key) d = deltaIterator!.next();
      } else {
        key = fromDelta;
        d = deltaIterator!.next();
      }
      if (aboveHigh(key)) break;
      if (key === last) continue;
      last = key;
      const slot = this.slotOf(key);
      if (slot >= 0) found.push([key, slot]);
    }
    return found;
  }

  private scanDown(range: KeyRange, limit: number): Array<[string, number]> {
    const found: Array<[string, number]> = [];
    const base = this.base;
    // Index of the last base key within the upper bound.
    let b = range.high === undefined ? base.length - 1 : lowerBound(base, range.high, range.highInclusive === true) - 1;
    const deltaStart = range.high === undefined ? this.delta.maxKey() : range.high;
    const skipHigh = range.high !== undefined && range.highInclusive !== true;
    const deltaIterator = deltaStart === undefined ? undefined : this.delta.entriesReversed(deltaStart, undefined, skipHigh);
    let d = deltaIterator?.next();
    const belowLow = (key: string): boolean =>
      range.low !== undefined && (key < range.low || (key === range.low && range.lowInclusive === false));
    let last: string | undefined;
    while (found.length < limit) {
      const fromBase = b >= 0 ? base[b] : undefined;
      const fromDelta = d !== undefined && !d.done ? d.value[0] : undefined;
      let key: string;
      if (fromBase === undefined && fromDelta === undefined) break;
      if (fromDelta === undefined || (fromBase !== undefined && fromBase >= fromDelta)) {
        key = fromBase!;
        b--;
        if (fromDelta === key) d = deltaIterator!.next();
      } else {
        key = fromDelta;
        d = deltaIterator!.next();
      }
      if (belowLow(key)) break;
      if (key === last) continue;
      last = key;
      const slot = this.slotOf(key);
      if (slot >= 0) found.push([key, slot]);
    }
    return found;
  }

  /** Every live slot, in no particular order (for merge and backup bookkeeping). */
  *slots(): IterableIterator<number> {
    for (let slot = 0; slot < this.slotKeys.length; slot++) if (this.slotKeys[slot] !== undefined) yield slot;
  }

  /** Moves pending keys into the ordered view: one by one when few, by a rebuild when many. */
  private foldPending(): void {
    const pending = this.pendingKeys;
    if (pending.length === 0 && this.staleCount <= (this.base.length + this.delta.size) / 4 + 1024) return;
    if (pending.length + this.delta.size <= DELTA_KEYS_MAX && this.staleCount <= (this.base.length + this.delta.size) / 4 + 1024) {
      for (const key of pending) this.delta.set(key, undefined, false);
      this.pendingKeys = [];
      return;
    }
    this.rebuildOrderedView();
  }

  private rebuildOrderedView(): void {
    const keys: string[] = [];
    for (const key of this.slotKeys) if (key !== undefined) keys.push(key);
    keys.sort();
    this.base = keys;
    this.delta.clear();
    this.pendingKeys = [];
    this.staleCount = 0;
  }

  /** Estimated heap bytes: key strings, hash table, slot arrays, positions and the ordered view. */
  estimateBytes(): number {
    const keys = this.liveCount;
    const stringBytes = keys * 16 + this.keyChars + keys * 4; // header + body (+ alignment)
    const tableBytes = this.table.byteLength;
    const slotBytes = this.slotKeys.length * 8 + this.positions.byteLength + this.freeSlots.length * 8;
    const orderedBytes = this.base.length * 8 + (this.delta.size + this.pendingKeys.length) * 16;
    return Math.round(stringBytes + tableBytes + slotBytes + orderedBytes);
  }

  private writePosition(slot: number, fileId: number, offset: number, size: number): void {
    const at = slot * 3;
    this.positions[at] = fileId;
    this.positions[at + 1] = offset;
    this.positions[at + 2] = size;
  }

  /** Rehashes live entries into a table at most half full (dropping tombstones). */
  private resizeTable(keysExpected = this.liveCount + 1): void {
    let capacity = this.table.length;
    while (Math.max(keysExpected, this.liveCount + 1) * 2 > capacity) capacity *= 2;
    const table = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let slot = 0; slot < this.slotKeys.length; slot++) {
      const key = this.slotKeys[slot];
      if (key === undefined) continue;
      let at = hashKey(key, this.seed) & mask;
      while (table[at] !== EMPTY) at = (at + 1) & mask;
      table[at] = slot + 1;
    }
    this.table = table;
    this.tableMask = mask;
    this.tableUsed = this.liveCount;
  }

  private growPositions(slotsNeeded: number): void {
    let capacity = this.positions.length;
    while (capacity < slotsNeeded * 3) capacity *= 2;
    const positions = new Uint32Array(capacity);
    positions.set(this.positions);
    this.positions = positions;
  }
}

// The in-memory index from user key to record position, built for memory per key and for speed at
// millions of keys, where every object and every cache miss costs more than the work:
// - key bytes live in one arena Buffer (no string or object per key, so the garbage collector never
//   walks them); a slot's key is (keyOffsets[slot], keyMeta[slot]) and its position (file id, offset,
//   size) lives interleaved in one Uint32Array;
// - point operations go through an open-addressing hash table of slot + 1 in an Int32Array, hashed
//   and compared on bytes, so recovery and merge look keys up straight from their read buffers;
// - order is kept lazily, for iteration only, and only once someone iterates: a `base` array of slots
//   sorted by key bytes (sorted by a radix pass over 4-byte digits), plus a sorted-btree `delta` of
//   latin1 strings (one char per byte: string order is unsigned byte order) for keys added since, plus
//   `pendingSlots` not yet folded into the delta. A slot deleted while `base` holds it is *retired*:
//   its key bytes stay readable (base stays sorted) and it is reused only after the next rebuild.
// Invariants: every live key is in the hash table with one slot; while the ordered view exists every
// live key is in base, delta or pendingSlots; free slots are on the free stack and in no table entry
// and not in base; arena bytes of live and retired slots never change until compaction moves them.
// Keys given as strings are latin1 (one byte per char). Pure: no I/O, no clock, no Math.random.
import sortedBtree from 'sorted-btree';

const BTree = sortedBtree.default;
type OrderedSet = InstanceType<typeof BTree<string, undefined>>;

const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const INITIAL_SLOTS = 1024;
const INITIAL_ARENA_BYTES = 64 * 1024;
const EMPTY = 0;
const TOMBSTONE = -1;
/** keyMeta: 0 = free slot; length + 1 = live; −(length + 1) = retired (deleted, still in base). */
const FREE = 0;
/** Entries handed out per `scan` call, so iteration re-seeks and tolerates concurrent writes. */
export const SCAN_CHUNK_ENTRIES = 256;
/** Runs of keys shorter than this are sorted by insertion instead of a radix pass. */
const INSERTION_SORT_MAX = 16;

export interface KeyIndexLimits {
  /** Fold pending keys one by one into the delta tree up to this many; above, rebuild `base`. */
  deltaKeysMax?: number;
  /** Compact the arena when dead key bytes exceed this share of it (and `arenaSlackBytesMin`). */
  arenaSlackRatio?: number;
  arenaSlackBytesMin?: number;
}

export interface KeyRange {
  /** Lower bound, or undefined for the first key. */
  low?: string;
  lowInclusive?: boolean;
  /** Upper bound, or undefined for the last key. */
  high?: string;
  highInclusive?: boolean;
}

export class KeyIndex {
  private readonly seed: number;
  private readonly deltaKeysMax: number;
  private readonly arenaSlackRatio: number;
  private readonly arenaSlackBytesMin: number;
  // Slots: key bytes in the arena, position interleaved (fileId, offset, size).
  private arena = Buffer.allocUnsafe(INITIAL_ARENA_BYTES);
  private arenaUsed = 0;
  /** Bytes of keys of free slots (garbage until compaction). */
  private arenaDeadBytes = 0;
  private keyOffsets = new Uint32Array(INITIAL_SLOTS);
  private keyMeta = new Int32Array(INITIAL_SLOTS);
  private positions = new Uint32Array(INITIAL_SLOTS * 3);
  /** Slots handed out so far (free ones included); slots ≥ this were never used. */
  private slotCount = 0;
  private freeSlots: number[] = [];
  private retiredSlots: number[] = [];
  // Hash table of slot + 1 (0 empty, −1 tombstone).
  private table = new Int32Array(INITIAL_SLOTS * 2);
  private tableMask = INITIAL_SLOTS * 2 - 1;
  private tableUsed = 0; // live entries + tombstones
  private liveCount = 0;
  // Ordered view (absent until the first scan).
  private ordered = false;
  private base = new Uint32Array(0);
  private inBase = new Uint8Array(0);
  private delta: OrderedSet = new BTree<string, undefined>(undefined, compareKeys, 128);
  private pendingSlots: number[] = [];
  /** Deletions since the last rebuild: stale entries in base and delta. */
  private staleCount = 0;
  /** Scratch for keys given as strings. */
  private scratch = Buffer.allocUnsafe(256);
  /** File id of the record the last `set` or `delete` superseded (valid when it returned > 0). */
  supersededFileId = 0;

  constructor(hashSeed = 0, limits: KeyIndexLimits = {}) {
    this.seed = hashSeed | 0;
    this.deltaKeysMax = limits.deltaKeysMax ?? 65_536;
    this.arenaSlackRatio = limits.arenaSlackRatio ?? 0.5;
    this.arenaSlackBytesMin = limits.arenaSlackBytesMin ?? 1024 * 1024;
  }

  get size(): number {
    return this.liveCount;
  }

  // ---------------------------------------------------------------- point operations on bytes

  /** Slot of the key `bytes[start, end)`, or −1 when absent. */
  slotOfBytes(bytes: Uint8Array, start: number, end: number): number {
    const at = this.find(bytes, start, end, this.hashBytes(bytes, start, end));
    return at < 0 ? -1 : this.table[at]! - 1;
  }

  /** Points the key `bytes[start, end)` at a record; returns the size of the record it supersedes, or 0 when new. */
  setBytes(bytes: Uint8Array, start: number, end: number, fileId: number, offset: number, size: number): number {
    if ((this.tableUsed + 1) * 2 > this.table.length) this.resizeTable();
    const hash = this.hashBytes(bytes, start, end);
    // One probe finds the key, or where it goes (the first tombstone passed, else the empty entry).
    const table = this.table;
    const mask = this.tableMask;
    const length = end - start;
    let at = hash & mask;
    let insertAt = -1;
    for (;;) {
      const entry = table[at]!;
      if (entry === EMPTY) break;
      if (entry === TOMBSTONE) {
        if (insertAt < 0) insertAt = at;
      } else if (this.keyMeta[entry - 1] === length + 1 && this.keyEquals(entry - 1, bytes, start, end)) {
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
    const slot = this.takeSlot();
    this.storeKey(slot, bytes, start, end);
    this.writePosition(slot, fileId, offset, size);
    table[insertAt] = slot + 1;
    this.liveCount++;
    if (this.ordered) this.notePending(slot);
    return 0;
  }

  /** Removes the key `bytes[start, end)`; returns the size of the record it pointed at, or 0 when absent. */
  deleteBytes(bytes: Uint8Array, start: number, end: number): number {
    const at = this.find(bytes, start, end, this.hashBytes(bytes, start, end));
    if (at < 0) return 0;
    const slot = this.table[at]! - 1;
    this.table[at] = TOMBSTONE;
    const previousSize = this.positions[slot * 3 + 2]!;
    this.supersededFileId = this.positions[slot * 3]!;
    const length = this.keyMeta[slot]! - 1;
    this.liveCount--;
    if (this.ordered) this.staleCount++;
    if (this.ordered && slot < this.inBase.length && this.inBase[slot] === 1) {
      // base still orders this slot by its bytes: keep them until the next rebuild.
      this.keyMeta[slot] = -(length + 1);
      this.retiredSlots.push(slot);
      if (this.retiredSlots.length > Math.max(1024, this.base.length / 4)) this.dropOrderedView();
    } else {
      this.freeSlot(slot);
    }
    return previousSize;
  }

  /**
   * Slot of the key in `bytes[start, end)` if that key still points exactly at (fileId, offset) —
   * the record is live — else −1. A merge checks every record this way without a string per record.
   */
  liveSlotOfBytes(bytes: Uint8Array, start: number, end: number, fileId: number, offset: number): number {
    const slot = this.slotOfBytes(bytes, start, end);
    return slot >= 0 && this.positions[slot * 3] === fileId && this.positions[slot * 3 + 1] === offset ? slot : -1;
  }

  /**
   * Moves the key in `slot` to a new record if the slot still holds the record at (fileId, offset);
   * true when moved. A record position names one record of one key, so a slot freed and reused, or a
   * key written again, no longer matches.
   */
  relocateIfAt(slot: number, fileId: number, offset: number, newFileId: number, newOffset: number, newSize: number): boolean {
    if (slot >= this.slotCount || this.keyMeta[slot]! <= 0 || this.positions[slot * 3] !== fileId || this.positions[slot * 3 + 1] !== offset) return false;
    this.writePosition(slot, newFileId, newOffset, newSize);
    return true;
  }

  // ---------------------------------------------------------------- point operations on latin1 strings

  slotOf(key: string): number {
    const length = this.keyToScratch(key);
    return this.slotOfBytes(this.scratch, 0, length);
  }

  set(key: string, fileId: number, offset: number, size: number): number {
    const length = this.keyToScratch(key);
    return this.setBytes(this.scratch, 0, length, fileId, offset, size);
  }

  delete(key: string): number {
    const length = this.keyToScratch(key);
    return this.deleteBytes(this.scratch, 0, length);
  }

  /** True when `key` still points exactly at (fileId, offset): the record is live. */
  isLive(key: string, fileId: number, offset: number): boolean {
    const length = this.keyToScratch(key);
    return this.liveSlotOfBytes(this.scratch, 0, length, fileId, offset) >= 0;
  }

  // ---------------------------------------------------------------- slot accessors

  fileIdAt(slot: number): number {
    return this.positions[slot * 3]!;
  }

  offsetAt(slot: number): number {
    return this.positions[slot * 3 + 1]!;
  }

  sizeAt(slot: number): number {
    return this.positions[slot * 3 + 2]!;
  }

  /** The key of a live slot, as a latin1 string. */
  keyAt(slot: number): string {
    const meta = this.keyMeta[slot]!;
    if (!(slot < this.slotCount && meta > 0)) throw new Error(`key index: slot ${slot} is not live`);
    const start = this.keyOffsets[slot]!;
    return this.arena.toString('latin1', start, start + meta - 1);
  }

  /** Every live slot, in no particular order. */
  *slots(): IterableIterator<number> {
    for (let slot = 0; slot < this.slotCount; slot++) if (this.keyMeta[slot]! > 0) yield slot;
  }

  /** Sizes the hash table and slot arrays for `keys` keys, so loading them never rehashes. */
  reserve(keys: number): void {
    if (keys * 2 > this.table.length) this.resizeTable(keys);
    if (this.keyMeta.length < keys) this.growSlots(keys);
  }

  /** Empties the index and lets go of its arrays at once (a closed database holds no index memory). */
  clear(): void {
    this.arena = Buffer.allocUnsafe(INITIAL_ARENA_BYTES);
    this.arenaUsed = 0;
    this.arenaDeadBytes = 0;
    this.keyOffsets = new Uint32Array(INITIAL_SLOTS);
    this.keyMeta = new Int32Array(INITIAL_SLOTS);
    this.positions = new Uint32Array(INITIAL_SLOTS * 3);
    this.slotCount = 0;
    this.freeSlots = [];
    this.retiredSlots = [];
    this.table = new Int32Array(INITIAL_SLOTS * 2);
    this.tableMask = INITIAL_SLOTS * 2 - 1;
    this.tableUsed = 0;
    this.liveCount = 0;
    this.dropOrderedView();
  }

  // ---------------------------------------------------------------- ordered scans

  /**
   * Up to `limit` live entries of `range` in key order (or reverse), as [key, slot] pairs. Callers
   * that want more call again with the range narrowed past the last key returned.
   */
  scan(range: KeyRange, reverse: boolean, limit: number): Array<[string, number]> {
    if (!this.ordered) this.rebuildOrderedView();
    else this.foldPending();
    return reverse ? this.scanDown(range, limit) : this.scanUp(range, limit);
  }

  private scanUp(range: KeyRange, limit: number): Array<[string, number]> {
    const found: Array<[string, number]> = [];
    const base = this.base;
    let b = range.low === undefined ? 0 : this.baseLowerBound(range.low, range.lowInclusive === false);
    const deltaStart = range.low === undefined ? this.delta.minKey() : range.low;
    const deltaIterator = deltaStart === undefined ? undefined : this.delta.keys(deltaStart);
    let d = deltaIterator?.next();
    const aboveHigh = (key: string): boolean =>
      range.high !== undefined && (key > range.high || (key === range.high && range.highInclusive !== true));
    let last: string | undefined;
    while (found.length < limit) {
      while (d !== undefined && !d.done && range.low !== undefined && range.lowInclusive === false && d.value === range.low) d = deltaIterator!.next();
      const fromBase = b < base.length ? this.baseKey(base[b]!) : undefined;
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
    let b = range.high === undefined ? base.length - 1 : this.baseLowerBound(range.high, range.highInclusive === true) - 1;
    const deltaStart = range.high === undefined ? this.delta.maxKey() : range.high;
    const skipHigh = range.high !== undefined && range.highInclusive !== true;
    const deltaIterator = deltaStart === undefined ? undefined : this.delta.entriesReversed(deltaStart, undefined, skipHigh);
    let d = deltaIterator?.next();
    const belowLow = (key: string): boolean =>
      range.low !== undefined && (key < range.low || (key === range.low && range.lowInclusive === false));
    let last: string | undefined;
    while (found.length < limit) {
      const fromBase = b >= 0 ? this.baseKey(base[b]!) : undefined;
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

  /** The key a base entry sorts by (a retired slot keeps its bytes), as a latin1 string. */
  private baseKey(slot: number): string {
    const start = this.keyOffsets[slot]!;
    return this.arena.toString('latin1', start, start + Math.abs(this.keyMeta[slot]!) - 1);
  }

  /** First index in base whose key is ≥ `key` (or > when `exclusive`). */
  private baseLowerBound(key: string, exclusive: boolean): number {
    const length = this.keyToScratch(key);
    const base = this.base;
    let low = 0;
    let high = base.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const order = this.compareSlotTo(base[middle]!, this.scratch, length);
      if (order < 0 || (exclusive && order === 0)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Unsigned byte order of a (live or retired) slot's key against `bytes[0, length)`. */
  private compareSlotTo(slot: number, bytes: Uint8Array, length: number): number {
    const arena = this.arena;
    const start = this.keyOffsets[slot]!;
    const slotLength = Math.abs(this.keyMeta[slot]!) - 1;
    const common = Math.min(slotLength, length);
    for (let i = 0; i < common; i++) {
      const difference = arena[start + i]! - bytes[i]!;
      if (difference !== 0) return difference;
    }
    return slotLength - length;
  }

  /** Moves pending keys into the delta tree when few; rebuilds base when many or when much is stale. */
  private foldPending(): void {
    const pending = this.pendingSlots;
    const stale = this.staleCount > (this.base.length + this.delta.size) / 4 + 1024;
    if (pending.length === 0 && !stale) return;
    if (pending.length + this.delta.size <= this.deltaKeysMax && !stale) {
      // A pending slot freed and reused since holds another (also pending) key; a freed one is skipped.
      for (const slot of pending) if (this.keyMeta[slot]! > 0) this.delta.set(this.keyAt(slot), undefined, false);
      this.pendingSlots = [];
      return;
    }
    this.rebuildOrderedView();
  }

  private notePending(slot: number): void {
    this.pendingSlots.push(slot);
    // Nobody has iterated for a long while: drop the view instead of growing it; the next scan rebuilds.
    if (this.pendingSlots.length > this.deltaKeysMax * 4) this.dropOrderedView();
  }

  private dropOrderedView(): void {
    this.ordered = false;
    this.base = new Uint32Array(0);
    this.inBase = new Uint8Array(0);
    this.delta.clear();
    this.pendingSlots = [];
    this.staleCount = 0;
    this.releaseRetired();
  }

  private releaseRetired(): void {
    for (const slot of this.retiredSlots) this.freeSlot(slot);
    this.retiredSlots = [];
  }

  private rebuildOrderedView(): void {
    this.inBase = new Uint8Array(0);
    this.releaseRetired();
    const base = new Uint32Array(this.liveCount);
    let count = 0;
    for (let slot = 0; slot < this.slotCount; slot++) if (this.keyMeta[slot]! > 0) base[count++] = slot;
    this.sortSlots(base, 0, count, 0);
    const inBase = new Uint8Array(this.slotCount);
    for (let i = 0; i < count; i++) inBase[base[i]!] = 1;
    this.base = base;
    this.inBase = inBase;
    this.delta.clear();
    this.pendingSlots = [];
    this.staleCount = 0;
    this.ordered = true;
  }

  /**
   * Sorts `slots[low, high)` by key bytes, all of which agree on their first `depth` bytes: a native
   * numeric sort of (4-byte digit, slot) pairs, then each run of an equal digit — keys that end inside
   * the digit first, shortest first, then the rest one digit deeper.
   */
  private sortSlots(slots: Uint32Array, low: number, high: number, depth: number): void {
    const count = high - low;
    if (count < 2) return;
    if (count <= INSERTION_SORT_MAX) {
      for (let i = low + 1; i < high; i++) {
        const slot = slots[i]!;
        let j = i - 1;
        while (j >= low && this.compareSlots(slots[j]!, slot, depth) > 0) {
          slots[j + 1] = slots[j]!;
          j--;
        }
        slots[j + 1] = slot;
      }
      return;
    }
    const pairs = new BigUint64Array(count);
    const words = new Uint32Array(pairs.buffer); // little-endian: [2i] = slot (low word), [2i + 1] = digit
    for (let i = 0; i < count; i++) {
      const slot = slots[low + i]!;
      words[2 * i] = slot;
      words[2 * i + 1] = this.digitAt(slot, depth);
    }
    pairs.sort();
    for (let i = 0; i < count; i++) slots[low + i] = words[2 * i]!;
    for (let i = 0; i < count; ) {
      let j = i + 1;
      while (j < count && words[2 * j + 1] === words[2 * i + 1]) j++;
      if (j - i > 1) {
        // Equal digit: keys that end within it differ only in length (zero padding) and come first.
        const runLow = low + i;
        const runHigh = low + j;
        let split = runLow;
        for (let k = runLow; k < runHigh; k++) {
          const slot = slots[k]!;
          if (this.keyMeta[slot]! - 1 <= depth + 4) {
            slots[k] = slots[split]!;
            slots[split++] = slot;
          }
        }
        this.sortSlots(slots, runLow, split, depth + 4); // all end here: compared by length
        this.sortSlots(slots, split, runHigh, depth + 4);
      }
      i = j;
    }
  }

  /** Bytes [depth, depth + 4) of a live slot's key, big-endian, zero past its end. */
  private digitAt(slot: number, depth: number): number {
    const start = this.keyOffsets[slot]! + depth;
    const available = this.keyMeta[slot]! - 1 - depth;
    const arena = this.arena;
    if (available >= 4) return arena.readUInt32BE(start);
    let digit = 0;
    for (let i = 0; i < 4; i++) digit = digit * 256 + (i < available ? arena[start + i]! : 0);
    return digit;
  }

  /** Byte order of two live slots' keys, which agree on their first `depth` bytes. */
  private compareSlots(a: number, b: number, depth: number): number {
    const arena = this.arena;
    const aStart = this.keyOffsets[a]!;
    const bStart = this.keyOffsets[b]!;
    const aLength = this.keyMeta[a]! - 1;
    const bLength = this.keyMeta[b]! - 1;
    const common = Math.min(aLength, bLength);
    for (let i = depth; i < common; i++) {
      const difference = arena[aStart + i]! - arena[bStart + i]!;
      if (difference !== 0) return difference;
    }
    return aLength - bLength;
  }

  // ---------------------------------------------------------------- memory

  /** Bytes held: key arena, hash table, slot arrays and the ordered view. */
  estimateBytes(): number {
    const slotBytes = this.keyOffsets.byteLength + this.keyMeta.byteLength + this.positions.byteLength + (this.freeSlots.length + this.retiredSlots.length) * 8;
    const orderedBytes = this.base.byteLength + this.inBase.byteLength + this.delta.size * 48 + this.pendingSlots.length * 8;
    return this.arena.length + this.table.byteLength + slotBytes + orderedBytes;
  }

  // ---------------------------------------------------------------- internals

  private hashBytes(bytes: Uint8Array, start: number, end: number): number {
    let hash = 0x811c9dc5 ^ this.seed;
    for (let i = start; i < end; i++) {
      hash ^= bytes[i]!;
      hash = Math.imul(hash, 0x01000193);
    }
    return hash ^ (hash >>> 15);
  }

  /** Table index holding the key, or −1. */
  private find(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const table = this.table;
    const mask = this.tableMask;
    const meta = end - start + 1;
    let at = hash & mask;
    for (;;) {
      const entry = table[at]!;
      if (entry === EMPTY) return -1;
      if (entry > 0 && this.keyMeta[entry - 1] === meta && this.keyEquals(entry - 1, bytes, start, end)) return at;
      at = (at + 1) & mask;
    }
  }

  private keyEquals(slot: number, bytes: Uint8Array, start: number, end: number): boolean {
    const arena = this.arena;
    let at = this.keyOffsets[slot]!;
    for (let i = start; i < end; i++) if (arena[at++] !== bytes[i]) return false;
    return true;
  }

  /** Copies a latin1 string key into `scratch`; returns its length. */
  private keyToScratch(key: string): number {
    const length = key.length;
    if (length > this.scratch.length) this.scratch = Buffer.allocUnsafe(Math.max(length, this.scratch.length * 2));
    const scratch = this.scratch;
    if (length <= 64) for (let i = 0; i < length; i++) scratch[i] = key.charCodeAt(i);
    else scratch.write(key, 0, length, 'latin1');
    return length;
  }

  private takeSlot(): number {
    if (this.freeSlots.length > 0) return this.freeSlots.pop()!;
    if (this.slotCount === this.keyMeta.length) this.growSlots(this.slotCount + 1);
    return this.slotCount++;
  }

  private freeSlot(slot: number): void {
    const length = Math.abs(this.keyMeta[slot]!) - 1;
    this.keyMeta[slot] = FREE;
    this.arenaDeadBytes += length;
    this.freeSlots.push(slot);
  }

  private storeKey(slot: number, bytes: Uint8Array, start: number, end: number): void {
    const length = end - start;
    if (this.arenaUsed + length > this.arena.length) this.makeArenaRoom(length);
    const arena = this.arena;
    let at = this.arenaUsed;
    this.keyOffsets[slot] = at;
    this.keyMeta[slot] = length + 1;
    for (let i = start; i < end; i++) arena[at++] = bytes[i]!;
    this.arenaUsed = at;
  }

  /** Compacts the arena when much of it is dead, else grows it; afterwards `length` more bytes fit. */
  private makeArenaRoom(length: number): void {
    const needed = this.arenaUsed - this.arenaDeadBytes + length;
    const compact = this.arenaDeadBytes > this.arenaSlackBytesMin && this.arenaDeadBytes > this.arenaUsed * this.arenaSlackRatio;
    let capacity = this.arena.length;
    while (capacity < (compact ? needed : this.arenaUsed + length) * (compact ? 1.5 : 1)) capacity *= 2;
    const arena = Buffer.allocUnsafe(capacity);
    if (!compact) {
      this.arena.copy(arena, 0, 0, this.arenaUsed);
    } else {
      let at = 0;
      for (let slot = 0; slot < this.slotCount; slot++) {
        const meta = this.keyMeta[slot]!;
        if (meta === FREE) continue;
        const start = this.keyOffsets[slot]!;
        const keyLength = Math.abs(meta) - 1;
        this.arena.copy(arena, at, start, start + keyLength);
        this.keyOffsets[slot] = at;
        at += keyLength;
      }
      this.arenaUsed = at;
      this.arenaDeadBytes = 0;
    }
    this.arena = arena;
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
    for (let slot = 0; slot < this.slotCount; slot++) {
      const meta = this.keyMeta[slot]!;
      if (meta <= 0) continue;
      const start = this.keyOffsets[slot]!;
      let at = this.hashBytes(this.arena, start, start + meta - 1) & mask;
      while (table[at] !== EMPTY) at = (at + 1) & mask;
      table[at] = slot + 1;
    }
    this.table = table;
    this.tableMask = mask;
    this.tableUsed = this.liveCount;
  }

  private growSlots(slotsNeeded: number): void {
    let capacity = this.keyMeta.length;
    while (capacity < slotsNeeded) capacity *= 2;
    const keyOffsets = new Uint32Array(capacity);
    keyOffsets.set(this.keyOffsets);
    const keyMeta = new Int32Array(capacity);
    keyMeta.set(this.keyMeta);
    const positions = new Uint32Array(capacity * 3);
    positions.set(this.positions);
    this.keyOffsets = keyOffsets;
    this.keyMeta = keyMeta;
    this.positions = positions;
  }
}

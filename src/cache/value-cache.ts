// A bounded in-memory cache of record values by record position (file id, offset), so a hot `get` skips
// the pread(2) and the CRC check — on a VM the syscall is most of what a small read costs.
// - Values are appended to one ring buffer and evicted oldest-first as the ring wraps over them (FIFO):
//   no object per entry, so a full cache costs the garbage collector nothing.
// - A table of 2-way sets maps a position to its bytes in the ring; an entry counts only while the ring
//   has not wrapped over those bytes (`start` is an absolute byte count, so that is a subtraction).
// - Records never change once written, so an entry goes stale only if a position is reused for other
//   bytes: a merge install reuses file ids, and the Db clears the cache then. A write is cached only
//   after it reached the file, so a rolled-back partial write never is.
// Invariants: every valid entry's bytes are the value of the record at its position, and its record
// size matches the index's (checked on lookup); values longer than `valueBytesMax` are not cached.
// All its memory is committed when the cache is made (written once), not as it fills: on a VM a first
// touch of a page costs ~30 µs, which on the write path took a third off a cold server's SET rate;
// committing 32 MiB up front took ~110 ms at startup on the benchmark VM, and the footprint is then stable.

/** Ring bytes per table set: the table gets one 2-entry set per this many bytes of capacity. */
const BYTES_PER_SET = 256;
/**
 * A set is one 64-byte line of the table, so a lookup or insert touches one cache line: in 32-bit words,
 * entry i (0, 1) holds file id, offset, record size and value length at words 4i..4i+3, and its start
 * (an absolute ring position, a float64) at float64 index 4 + i of the set.
 */
const SET_WORDS = 16;
const FILE_ID = 0;
const OFFSET = 1;
const RECORD_SIZE = 2;
/** The value length + 1; 0 marks an empty entry, so a fresh (zeroed) table is all empty. */
const LENGTH_PLUS_1 = 3;
const ENTRY_WORDS = 4;
const START_F64 = 4;

export interface ValueCacheStats {
  capacityBytes: number;
  /** Ring bytes written so far, up to the capacity (old values of rewritten keys included). */
  usedBytes: number;
  hits: number;
  misses: number;
}

export class ValueCache {
  readonly capacityBytes: number;
  /** Longest value kept: a value above 1/16 of the ring would evict too much at once. */
  readonly valueBytesMax: number;
  private readonly ring: Buffer;
  /** Bytes appended to the ring so far (exact as a double up to 2^53), and where that is in the ring. */
  private head = 0;
  private headAt = 0;
  private readonly setMask: number;
  private readonly words: Int32Array;
  private readonly starts: Float64Array;
  hits = 0;
  misses = 0;

  constructor(capacityBytes: number) {
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 4096) throw new RangeError(`value cache capacity must be an integer of at least 4096 bytes, got ${capacityBytes}`);
    this.capacityBytes = capacityBytes;
    this.valueBytesMax = Math.floor(capacityBytes / 16);
    this.ring = Buffer.allocUnsafeSlow(capacityBytes).fill(0);
    let sets = 1;
    while (sets * BYTES_PER_SET < capacityBytes) sets *= 2;
    this.setMask = sets - 1;
    const table = new ArrayBuffer(sets * SET_WORDS * 4);
    this.words = new Int32Array(table);
    this.starts = new Float64Array(table);
    this.clear();
  }

  /** A copy of the cached value of the record at (fileId, offset) of `recordSize` bytes, or undefined. */
  get(fileId: number, offset: number, recordSize: number): Buffer | undefined {
    const set = this.setOf(fileId, offset);
    const words = this.words;
    for (let i = 0; i < 2; i++) {
      const w = set * SET_WORDS + i * ENTRY_WORDS;
      if (words[w + OFFSET] !== (offset | 0) || words[w + FILE_ID] !== fileId || words[w + RECORD_SIZE] !== recordSize) continue;
      const length = words[w + LENGTH_PLUS_1]! - 1;
      const start = this.starts[set * (SET_WORDS / 2) + START_F64 + i]!;
      if (length < 0 || !this.intact(start)) continue;
      this.hits++;
      const at = start % this.capacityBytes;
      const value = Buffer.allocUnsafe(length);
      this.ring.copy(value, 0, at, at + length);
      return value;
    }
    this.misses++;
    return undefined;
  }

  /** Caches `value` as the value of the record at (fileId, offset) of `recordSize` bytes. */
  set(fileId: number, offset: number, recordSize: number, value: Uint8Array): void {
    const length = value.length;
    if (length > this.valueBytesMax) {
      // Not kept; nor may an earlier value cached for this position outlive this one.
      const set = this.setOf(fileId, offset);
      for (let i = 0; i < 2; i++) if (this.holds(set, i, fileId, offset)) this.words[set * SET_WORDS + i * ENTRY_WORDS + LENGTH_PLUS_1] = 0;
      return;
    }
    let at = this.headAt;
    if (at + length > this.capacityBytes) {
      // A value never wraps: skip the ring's tail and start at its beginning.
      this.head += this.capacityBytes - at;
      at = 0;
    }
    const set = this.setOf(fileId, offset);
    // The entry for this position if there is one, else an invalid one, else the older of the two.
    const startsAt = set * (SET_WORDS / 2) + START_F64;
    let i = 0;
    if (this.holds(set, 1, fileId, offset)) i = 1;
    else if (!this.holds(set, 0, fileId, offset)) {
      const valid0 = this.valid(set, 0);
      const valid1 = this.valid(set, 1);
      if (valid0 && (!valid1 || this.starts[startsAt + 1]! < this.starts[startsAt]!)) i = 1;
    }
    this.ring.set(value, at);
    const w = set * SET_WORDS + i * ENTRY_WORDS;
    const words = this.words;
    words[w + FILE_ID] = fileId;
    words[w + OFFSET] = offset;
    words[w + RECORD_SIZE] = recordSize;
    words[w + LENGTH_PLUS_1] = length + 1;
    this.starts[startsAt + i] = this.head;
    this.head += length;
    this.headAt = at + length;
  }

  /** Forgets every entry (positions are about to be reused). */
  clear(): void {
    this.words.fill(0);
  }

  stats(): ValueCacheStats {
    return { capacityBytes: this.capacityBytes, usedBytes: Math.min(this.head, this.capacityBytes), hits: this.hits, misses: this.misses };
  }

  private holds(set: number, i: number, fileId: number, offset: number): boolean {
    const w = set * SET_WORDS + i * ENTRY_WORDS;
    return this.words[w + LENGTH_PLUS_1] !== 0 && this.words[w + FILE_ID] === fileId && this.words[w + OFFSET] === (offset | 0);
  }

  private valid(set: number, i: number): boolean {
    return this.words[set * SET_WORDS + i * ENTRY_WORDS + LENGTH_PLUS_1] !== 0 && this.intact(this.starts[set * (SET_WORDS / 2) + START_F64 + i]!);
  }

  /**
   * True while the ring has not been written over a value that starts at absolute position `start`: the
   * first write to reach its bytes is the one that reaches absolute position start + capacity.
   */
  private intact(start: number): boolean {
    return this.head - start <= this.capacityBytes;
  }

  private setOf(fileId: number, offset: number): number {
    let h = Math.imul(offset ^ Math.imul(fileId, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h & this.setMask;
  }
}

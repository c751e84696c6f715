// A bounded in-memory cache of record values by record position (file id, offset), so a hot `get` skips
// the pread(2) and the CRC check — on a VM the syscall is most of what a small read costs.
// - Values are appended to one ring buffer and evicted oldest-first as the ring wraps over them (FIFO):
//   no object per entry, so a full cache costs the garbage collector nothing.
// - A table of 4-way sets maps a position to its entry in the ring (record size, value length, value); an
//   entry counts only while the ring has not wrapped over its first byte (`start` is an absolute byte
//   count, so that is a subtraction), and a set replaces its oldest entry first.
// - Records never change once written, so an entry goes stale only if a position is reused for other
//   bytes: a merge install reuses file ids, and the Db clears the cache then. A write is cached only
//   after it reached the file, so a rolled-back partial write never is.
// Invariants: every valid entry's bytes are the value of the record at its position, and its record
// size matches the index's (checked on lookup); values longer than `valueBytesMax` are not cached.
// All its memory is committed when the cache is made (written once), not as it fills: on a VM a first
// touch of a page costs ~30 µs, which on the write path took a third off a cold server's SET rate;
// committing 32 MiB up front took ~110 ms at startup on the benchmark VM, and the footprint is then stable.

/** Ring bytes per table set: the table gets one 4-entry set per this many bytes of capacity. */
const BYTES_PER_SET = 256;
/**
 * A set is one 64-byte line of the table, so a lookup or insert touches one cache line: entry i (0–3)
 * holds its file id and offset at 32-bit words 2i and 2i+1, and its start (an absolute ring position, a
 * float64; −Infinity when empty) at float64 index 4 + i. The record size and value length are the first
 * 8 bytes of the entry in the ring, so four entries fit a line (with them in the table, two did: in a
 * server bench with the ring 60% full, 2-way sets lost 18% of the cached values to conflicts).
 */
const SET_WORDS = 16;
const WAYS = 4;
const START_F64 = 4;
/** Ring bytes before each value: record size and value length, 32-bit little-endian each. */
const ENTRY_HEADER_BYTES = 8;

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
    const ring = this.ring;
    for (let i = 0; i < WAYS; i++) {
      const w = set * SET_WORDS + 2 * i;
      if (words[w + 1] !== (offset | 0) || words[w] !== fileId) continue;
      const start = this.starts[set * (SET_WORDS / 2) + START_F64 + i]!;
      if (!this.intact(start)) continue;
      const at = start % this.capacityBytes;
      if (ring.readUInt32LE(at) !== recordSize) continue;
      const length = ring.readUInt32LE(at + 4);
      this.hits++;
      const value = Buffer.allocUnsafe(length);
      ring.copy(value, 0, at + ENTRY_HEADER_BYTES, at + ENTRY_HEADER_BYTES + length);
      return value;
    }
    this.misses++;
    return undefined;
  }

  /** Caches `value` as the value of the record at (fileId, offset) of `recordSize` bytes. */
  set(fileId: number, offset: number, recordSize: number, value: Uint8Array): void {
    const length = value.length;
    const set = this.setOf(fileId, offset);
    const startsAt = set * (SET_WORDS / 2) + START_F64;
    if (length > this.valueBytesMax) {
      // Not kept; nor may an earlier value cached for this position outlive this one.
      for (let i = 0; i < WAYS; i++) if (this.holds(set, i, fileId, offset)) this.starts[startsAt + i] = Number.NEGATIVE_INFINITY;
      return;
    }
    const bytes = ENTRY_HEADER_BYTES + length;
    let at = this.headAt;
    if (at + bytes > this.capacityBytes) {
      // An entry never wraps: skip the ring's tail and start at its beginning.
      this.head += this.capacityBytes - at;
      at = 0;
    }
    // The entry for this position if there is one, else the one that starts oldest (an empty or
    // overwritten one starts oldest of all, being −Infinity or more than a ring behind).
    let way = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < WAYS; i++) {
      if (this.holds(set, i, fileId, offset)) {
        way = i;
        break;
      }
      const start = this.starts[startsAt + i]!;
      if (start < oldest) {
        oldest = start;
        way = i;
      }
    }
    const ring = this.ring;
    ring.writeUInt32LE(recordSize, at);
    ring.writeUInt32LE(length, at + 4);
    ring.set(value, at + ENTRY_HEADER_BYTES);
    const w = set * SET_WORDS + 2 * way;
    this.words[w] = fileId;
    this.words[w + 1] = offset;
    this.starts[startsAt + way] = this.head;
    this.head += bytes;
    this.headAt = at + bytes;
  }

  /** Forgets every entry (positions are about to be reused). */
  clear(): void {
    this.words.fill(0);
    for (let set = 0; set <= this.setMask; set++) {
      const startsAt = set * (SET_WORDS / 2) + START_F64;
      for (let i = 0; i < WAYS; i++) this.starts[startsAt + i] = Number.NEGATIVE_INFINITY;
    }
  }

  stats(): ValueCacheStats {
    return { capacityBytes: this.capacityBytes, usedBytes: Math.min(this.head, this.capacityBytes), hits: this.hits, misses: this.misses };
  }

  /** True when entry `i` of `set` is keyed by this position (whether or not its bytes are still intact). */
  private holds(set: number, i: number, fileId: number, offset: number): boolean {
    const w = set * SET_WORDS + 2 * i;
    return this.words[w] === fileId && this.words[w + 1] === (offset | 0) && this.starts[set * (SET_WORDS / 2) + START_F64 + i] !== Number.NEGATIVE_INFINITY;
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

// The durable Raft log and hard state (the core's `Storage`, persisted): segment files `log/<id>.log` of
// engine-format records — key `E` holds a batch of entries (raft codec), key `H` a hard state — plus an
// atomically replaced `snapshot-meta` file. Invariants: `save` returns only after fdatasync when asked
// (before votes and acknowledgements leave); a later `E` record overrides the log from its first index on;
// the newest `H` wins; every segment starts with the hard state current at its creation; segments below
// the snapshot's `segmentFloor` are ignored (a snapshot install replaces the whole log).
import fs from 'node:fs';
import { join } from 'node:path';
import { encodeRecord, HeaderStatus, newHeaderFields, readHeaderInto, recordCrcMatches, RecordType } from '../codec/record.js';
import { decodeEntries, decodeSnapshot, encodeEntries, encodeSnapshot } from '../raft/codec.js';
import { MemoryStorage, type InitialState, type Storage } from '../raft/storage.js';
import { type ConfState, type Entry, type HardState, type Snapshot, emptyHardState } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { CaskError, ErrorCode, ioError } from '../util/errors.js';
import { writeFullySync } from '../io/write-fully.js';

const KEY_ENTRIES = Buffer.from('E');
const KEY_HARD_STATE = Buffer.from('H');
const KEY_SNAPSHOT = Buffer.from('S');
const SEGMENT_BYTES_MAX = 64 * 1024 * 1024;
const SNAPSHOT_META = 'snapshot-meta';

interface Segment {
  readonly id: number;
  readonly path: string;
  /** Highest entry index written into the segment (0 = none). */
  lastIndex: number;
}

export function segmentName(id: number): string {
  return `${String(id).padStart(9, '0')}.log`;
}

function encodeHardState(hs: HardState): Buffer {
  const b = Buffer.allocUnsafe(24);
  b.writeDoubleLE(hs.term, 0);
  b.writeDoubleLE(hs.vote, 8);
  b.writeDoubleLE(hs.commit, 16);
  return b;
}

function decodeHardState(b: Buffer, file: string): HardState {
  if (b.length !== 24) throw new CaskError(ErrorCode.Corruption, `hard state record of ${b.length} bytes`, { file });
  return { term: b.readDoubleLE(0), vote: b.readDoubleLE(8), commit: b.readDoubleLE(16) };
}

function fdatasync(fd: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(ioError('fdatasync', path, e)) : resolve())));
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `data` to `path` atomically: temp file, fsync, rename, directory fsync. */
export function writeFileAtomic(path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    writeFullySync(fd, data, tmp);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  syncDir(join(path, '..'));
}

/** Reads every valid record of a file: [key, value] pairs; stops at the end of valid data. */
export function readRecords(path: string): { records: Array<[Buffer, Buffer]>; validBytes: number; size: number } {
  const buf = fs.readFileSync(path);
  const records: Array<[Buffer, Buffer]> = [];
  const h = newHeaderFields();
  let off = 0;
  while (off < buf.length) {
    const st = readHeaderInto(buf, off, buf.length, h);
    if (st !== HeaderStatus.Ok) break;
    const len = h.headerLength + h.keyLength + h.valueLength;
    if (off + len > buf.length) break;
    if (!recordCrcMatches(buf, off, len, h.crc)) break;
    const k = buf.subarray(off + h.headerLength, off + h.headerLength + h.keyLength);
    const v = buf.subarray(off + h.headerLength + h.keyLength, off + len);
    records.push([k, v]);
    off += len;
  }
  return { records, validBytes: off, size: buf.length };
}

export class DurableRaftStorage implements Storage {
  private readonly mem: MemoryStorage;
  private hardState: HardState;
  private segments: Segment[];
  private fd: number;
  private activeBytes: number;
  private segmentFloor: number;
  /** Highest log index known to be on disk (fsynced); entries up to min(commit, this) may be applied. */
  durableIndex: number;

  private constructor(
    readonly dir: string,
    mem: MemoryStorage,
    hs: HardState,
    segments: Segment[],
    fd: number,
    activeBytes: number,
    floor: number,
  ) {
    this.mem = mem;
    this.hardState = hs;
    this.segments = segments;
    this.fd = fd;
    this.activeBytes = activeBytes;
    this.segmentFloor = floor;
    this.durableIndex = mem.lastIndex();
  }

  /** Recovers the log, hard state and snapshot metadata from `dir` (created when missing). */
  static open(dir: string): DurableRaftStorage {
    const logDir = join(dir, 'log');
    fs.mkdirSync(logDir, { recursive: true });
    const mem = new MemoryStorage();
    let floor = 0;
    const metaPath = join(dir, SNAPSHOT_META);
    if (fs.existsSync(metaPath)) {
      const { records } = readRecords(metaPath);
      const rec = records.find(([k]) => k.equals(KEY_SNAPSHOT));
      if (rec === undefined) throw new CaskError(ErrorCode.Corruption, 'snapshot-meta holds no snapshot record', { file: metaPath });
      floor = rec[1].readUInt32LE(0);
      mem.applySnapshot(decodeSnapshot(rec[1].subarray(4)));
    }
    let hs: HardState = emptyHardState;
    const ids = fs
      .readdirSync(logDir)
      .filter((n) => /^\d{9}\.log$/.test(n))
      .map((n) => Number(n.slice(0, 9)))
      .sort((a, b) => a - b);
    const segments: Segment[] = [];
    for (const [i, id] of ids.entries()) {
      const path = join(logDir, segmentName(id));
      if (id < floor) {
        fs.unlinkSync(path);
        continue;
      }
      const { records, validBytes, size } = readRecords(path);
      if (validBytes < size) {
        if (i !== ids.length - 1) throw new CaskError(ErrorCode.Corruption, `raft log segment damaged at ${validBytes}`, { file: path, offset: validBytes });
        fs.truncateSync(path, validBytes); // torn tail of the last segment: never acknowledged
      }
      const seg: Segment = { id, path, lastIndex: 0 };
      for (const [k, v] of records) {
        if (k.equals(KEY_HARD_STATE)) hs = decodeHardState(v, path);
        else if (k.equals(KEY_ENTRIES)) {
          const ents = decodeEntries(v);
          const first = ents[0];
          if (first === undefined) continue;
          if (first.index > mem.lastIndex() + 1) {
            throw new CaskError(ErrorCode.Corruption, `raft log gap: entry ${first.index} after ${mem.lastIndex()}`, { file: path });
          }
          mem.append(ents);
          seg.lastIndex = Math.max(seg.lastIndex, ents[ents.length - 1]!.index);
        }
      }
      segments.push(seg);
    }
    const snapIndex = mem.snapshot().metadata.index;
    if (hs.commit < snapIndex) hs = { ...hs, commit: snapIndex };
    if (hs.commit > mem.lastIndex()) hs = { ...hs, commit: mem.lastIndex() };
    mem.setHardState(hs);
    let fd: number;
    let activeBytes = 0;
    const last = segments[segments.length - 1];
    if (last === undefined) {
      const id = Math.max(1, floor);
      const path = join(logDir, segmentName(id));
      fd = fs.openSync(path, 'a');
      segments.push({ id, path, lastIndex: 0 });
      const rec = encodeRecord(RecordType.Normal, undefined, KEY_HARD_STATE, encodeHardState(hs));
      writeFullySync(fd, rec, path);
      fs.fsyncSync(fd);
      syncDir(logDir);
      activeBytes = rec.length;
    } else {
      fd = fs.openSync(last.path, 'a');
      activeBytes = fs.fstatSync(fd).size;
    }
    return new DurableRaftStorage(dir, mem, hs, segments, fd, activeBytes, floor);
  }

  // ---- Storage (reads) ----
  initialState(): InitialState {
    return this.mem.initialState();
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.mem.entries(lo, hi, maxBytes);
  }
  term(i: number): number {
    return this.mem.term(i);
  }
  firstIndex(): number {
    return this.mem.firstIndex();
  }
  lastIndex(): number {
    return this.mem.lastIndex();
  }
  snapshot(): Snapshot {
    return this.mem.snapshot();
  }
  get persistedHardState(): HardState {
    return this.hardState;
  }

  // ---- writes ----

  /** A founding member's first state (bootstrapState), written and fsynced before anything else. */
  bootstrap(hs: HardState, entries: readonly Entry[]): void {
    assert(this.mem.lastIndex() === 0, 'bootstrap of a non-empty log');
    this.appendOrRollBack([
      encodeRecord(RecordType.Normal, undefined, KEY_ENTRIES, encodeEntries(entries)),
      encodeRecord(RecordType.Normal, undefined, KEY_HARD_STATE, encodeHardState(hs)),
    ]);
    fs.fsyncSync(this.fd);
    this.mem.append(entries);
    this.segments[this.segments.length - 1]!.lastIndex = entries[entries.length - 1]!.index;
    this.hardState = hs;
    this.mem.setHardState(hs);
    this.durableIndex = this.mem.lastIndex();
  }

  /**
   * Entries the state machine has applied were committed: if the persisted commit lags them (a commit-only
   * hard state is written without fsync), raise it so the core starts consistent.
   */
  ensureCommitted(applied: number): void {
    if (applied <= this.hardState.commit) return;
    if (applied > this.mem.lastIndex()) {
      throw new CaskError(ErrorCode.Corruption, `the engine has applied index ${applied} but the raft log ends at ${this.mem.lastIndex()}`, { file: this.dir });
    }
    this.hardState = { ...this.hardState, commit: applied };
    this.mem.setHardState(this.hardState);
  }

  /** Appends entries and the hard state in one write; with `sync`, resolves after fdatasync. */
  async save(hs: HardState | undefined, entries: readonly Entry[], sync: boolean): Promise<void> {
    if (entries.length === 0 && hs === undefined) return;
    const parts: Buffer[] = [];
    if (entries.length > 0) parts.push(encodeRecord(RecordType.Normal, undefined, KEY_ENTRIES, encodeEntries(entries)));
    if (hs !== undefined) parts.push(encodeRecord(RecordType.Normal, undefined, KEY_HARD_STATE, encodeHardState(hs)));
    const seg = this.segments[this.segments.length - 1]!;
    this.appendOrRollBack(parts);
    this.mem.append(entries);
    if (entries.length > 0) seg.lastIndex = entries[entries.length - 1]!.index;
    if (hs !== undefined) {
      this.hardState = hs;
      this.mem.setHardState(hs);
    }
    if (sync) {
      await fdatasync(this.fd, seg.path);
      if (entries.length > 0) this.durableIndex = entries[entries.length - 1]!.index;
    }
    if (this.activeBytes >= SEGMENT_BYTES_MAX) this.rotate();
  }

  /**
   * Appends `parts` to the active segment whole, or not at all: after a failed or partial write (a full disk)
   * the segment is cut back to its length before, so no part of a record that was never acknowledged stays
   * behind, and the error is thrown (the node stops: it cannot persist its log).
   */
  private appendOrRollBack(parts: readonly Buffer[]): void {
    const path = this.segments[this.segments.length - 1]!.path;
    let bytes = 0;
    try {
      // One write per part: joining them first would copy a large entry once more.
      for (const part of parts) {
        writeFullySync(this.fd, part, path);
        bytes += part.length;
      }
    } catch (error) {
      try {
        fs.ftruncateSync(this.fd, this.activeBytes);
      } catch {
        // Recovery cuts a torn tail of the last segment anyway; the write's own error is the one to report.
      }
      throw error;
    }
    this.activeBytes += bytes;
  }

  /** Starts a new segment that opens with the current hard state. */
  private rotate(): void {
    const prev = this.segments[this.segments.length - 1]!;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    const id = prev.id + 1;
    const path = join(this.dir, 'log', segmentName(id));
    this.fd = fs.openSync(path, 'a');
    const rec = encodeRecord(RecordType.Normal, undefined, KEY_HARD_STATE, encodeHardState(this.hardState));
    writeFullySync(this.fd, rec, path);
    fs.fsyncSync(this.fd);
    syncDir(join(this.dir, 'log'));
    this.activeBytes = rec.length;
    this.segments.push({ id, path, lastIndex: 0 });
  }

  private writeMeta(snap: Snapshot, floor: number): void {
    const enc = encodeSnapshot(snap);
    const value = Buffer.allocUnsafe(4 + enc.byteLength);
    value.writeUInt32LE(floor, 0);
    value.set(enc, 4);
    writeFileAtomic(join(this.dir, SNAPSHOT_META), encodeRecord(RecordType.Normal, undefined, KEY_SNAPSHOT, value));
  }

  /** Installs a snapshot received from the leader: the whole log is replaced by it (durably). */
  applySnapshot(snap: Snapshot): void {
    if (snap.metadata.index <= this.mem.snapshot().metadata.index) return;
    this.rotate();
    const floor = this.segments[this.segments.length - 1]!.id;
    this.writeMeta(snap, floor);
    this.segmentFloor = floor;
    for (const seg of this.segments.slice(0, -1)) fs.rmSync(seg.path, { force: true });
    this.segments = this.segments.slice(-1);
    this.mem.applySnapshot(snap);
    this.durableIndex = snap.metadata.index;
    if (this.hardState.commit < snap.metadata.index) this.hardState = { ...this.hardState, commit: snap.metadata.index };
  }

  /** Records a local snapshot at `index` and drops log segments wholly below `compactIndex`. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array, compactIndex: number): Snapshot {
    const snap = this.mem.createSnapshot(index, confState, data);
    this.writeMeta(snap, this.segmentFloor);
    const to = Math.min(compactIndex, index);
    this.mem.compact(to);
    // Segments whose every entry is ≤ `to` are no longer needed (the active one always stays).
    const keep: Segment[] = [];
    for (const [i, seg] of this.segments.entries()) {
      if (i < this.segments.length - 1 && seg.lastIndex <= to) fs.rmSync(seg.path, { force: true });
      else keep.push(seg);
    }
    this.segments = keep;
    return snap;
  }

  /** Bytes of log on disk (INFO). */
  get logSegments(): number {
    return this.segments.length;
  }

  close(): void {
    assert(this.fd >= 0, 'storage closed twice');
    try {
      fs.fsyncSync(this.fd);
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

// The narrow, read-only view of the persisted log that the Raft core needs (etcd's Storage), and
// MemoryStorage, the in-memory implementation used by tests, the simulator and as the model for the
// durable one. Invariant: the log is contiguous from firstIndex() to lastIndex(), and term(firstIndex()-1)
// is the snapshot's term.
import { assert } from '../util/assert.js';
import {
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
  emptyHardState,
  entrySizeBytes,
} from './types.js';

export const StorageErrorKind = {
  /** The requested index is older than the last snapshot. */
  Compacted: 'compacted',
  /** The requested index is beyond the last index. */
  Unavailable: 'unavailable',
  /** The snapshot is being prepared; Raft retries later. */
  SnapshotTemporarilyUnavailable: 'snapshot-temporarily-unavailable',
} as const;
export type StorageErrorKindValue = (typeof StorageErrorKind)[keyof typeof StorageErrorKind];

/** Expected storage conditions the core branches on. Any other thrown error is fatal to the node. */
export class RaftStorageError extends Error {
  constructor(readonly kind: StorageErrorKindValue, message: string) {
    super(message);
    this.name = 'RaftStorageError';
  }
}

export function isStorageError(e: unknown, kind: StorageErrorKindValue): e is RaftStorageError {
  return e instanceof RaftStorageError && e.kind === kind;
}

export interface InitialState {
  readonly hardState: HardState;
  /** The configuration as of the latest snapshot (conf changes in the log after it are replayed by Raft). */
  readonly confState: ConfState;
}

export interface Storage {
  initialState(): InitialState;
  /** Entries in [lo, hi), at least one if any, then as many as fit in `maxBytes`. Throws Compacted/Unavailable. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry `i`, for i in [firstIndex()-1, lastIndex()]. Throws Compacted/Unavailable outside. */
  term(i: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot. May throw SnapshotTemporarilyUnavailable. */
  snapshot(): Snapshot;
}

/** Takes entries from `ents` while their total size stays within `maxBytes` (always at least one). */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySizeBytes(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySizeBytes(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/**
 * Storage held in memory. `ents[0]` is a dummy entry carrying the snapshot's index and term, so
 * firstIndex() = ents[0].index + 1. Writers (the application) call setHardState/append/applySnapshot
 * before sending a Ready's messages; createSnapshot/compact whenever they choose to trim the log.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState;
  private snap: Snapshot;
  private ents: Entry[];

  constructor(confState: ConfState = { voters: [], learners: [] }) {
    this.snap = { metadata: { index: 0, term: 0, confState }, data: new Uint8Array(0) };
    this.ents = [{ term: 0, index: 0, type: 0, data: new Uint8Array(0) }];
  }

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  get persistedHardState(): HardState {
    return this.hardState;
  }

  private offset(): number {
    return this.ents[0]!.index;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new RaftStorageError(StorageErrorKind.Compacted, `entries(${lo}) compacted at ${offset}`);
    if (hi > this.lastIndex() + 1) {
      throw new RaftStorageError(StorageErrorKind.Unavailable, `entries(${lo}, ${hi}) beyond ${this.lastIndex()}`);
    }
    assert(lo <= hi, `entries: lo ${lo} > hi ${hi}`);
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new RaftStorageError(StorageErrorKind.Compacted, `term(${i}) compacted at ${offset}`);
    const e = this.ents[i - offset];
    if (e === undefined) throw new RaftStorageError(StorageErrorKind.Unavailable, `term(${i}) beyond last index`);
    return e.term;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot received from the leader. Older snapshots are ignored. */
  applySnapshot(snap: Snapshot): boolean {
    if (snap.metadata.index <= this.snap.metadata.index) return false;
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index: snap.metadata.index, type: 0, data: new Uint8Array(0) }];
    return true;
  }

  /** Records a snapshot of the applied state at `index` (≤ last index); the log is not trimmed (see compact). */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    assert(index > this.snap.metadata.index, `createSnapshot(${index}) not after ${this.snap.metadata.index}`);
    assert(index <= this.lastIndex(), `createSnapshot(${index}) beyond last index ${this.lastIndex()}`);
    this.snap = { metadata: { index, term: this.term(index), confState }, data };
    return this.snap;
  }

  /** Drops entries before `compactIndex` (which becomes the dummy entry). Requires a snapshot covering them. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) return;
    assert(compactIndex <= this.lastIndex(), `compact(${compactIndex}) beyond last index ${this.lastIndex()}`);
    const i = compactIndex - offset;
    const dummy = this.ents[i]!;
    this.ents = [{ term: dummy.term, index: dummy.index, type: 0, data: new Uint8Array(0) }, ...this.ents.slice(i + 1)];
  }

  /** Appends entries, truncating any conflicting suffix. Entries already compacted are skipped. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[entries.length - 1]!.index;
    if (last < first) return;
    const ents = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const offset = ents[0]!.index - this.offset();
    assert(offset <= this.ents.length, `append: gap, last ${this.lastIndex()} next ${ents[0]!.index}`);
    if (offset === this.ents.length) {
      for (const e of ents) this.ents.push(e); // the common case: no conflict, no copy
    } else {
      this.ents = this.ents.slice(0, offset).concat(ents);
    }
  }
}

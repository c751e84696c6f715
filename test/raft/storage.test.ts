// MemoryStorage and RaftLog: the etcd Storage contract (dummy entry at the snapshot, Compacted/Unavailable
// conditions, size-limited reads, truncating appends) and the unstable tail handed out through Ready.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftLog } from '../../src/raft/raft-log.js';
import { MemoryStorage, StorageErrorKind, isStorageError } from '../../src/raft/storage.js';
import { entry } from './harness.js';

const conf = { voters: [1], learners: [] };

test('MemoryStorage: term/entries bounds, compaction and snapshots', () => {
  const s = new MemoryStorage(conf);
  s.append([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2), entry(5, 3)]);
  assert.equal(s.firstIndex(), 1);
  assert.equal(s.lastIndex(), 5);
  assert.equal(s.term(0), 0);
  assert.equal(s.term(3), 2);
  assert.throws(() => s.term(6), (e: unknown) => isStorageError(e, StorageErrorKind.Unavailable));
  s.createSnapshot(3, conf, new Uint8Array([7]));
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.term(3), 2, 'the dummy entry keeps the snapshot term');
  assert.throws(() => s.term(2), (e: unknown) => isStorageError(e, StorageErrorKind.Compacted));
  assert.throws(() => s.entries(3, 5, Infinity), (e: unknown) => isStorageError(e, StorageErrorKind.Compacted));
  assert.deepEqual(s.entries(4, 6, Infinity).map((e) => e.index), [4, 5]);
  assert.equal(s.snapshot().metadata.index, 3);
  assert.equal(s.snapshot().metadata.term, 2);
});

test('MemoryStorage: entries() honours maxBytes but always returns at least one entry', () => {
  const s = new MemoryStorage(conf);
  s.append([entry(1, 1, 'aaaaaaaaaa'), entry(2, 1, 'bbbbbbbbbb'), entry(3, 1, 'cccccccccc')]);
  assert.equal(s.entries(1, 4, 0).length, 1);
  assert.equal(s.entries(1, 4, 68).length, 2);
  assert.equal(s.entries(1, 4, Infinity).length, 3);
});

test('MemoryStorage: an append that conflicts truncates the suffix; one older than the snapshot is trimmed', () => {
  const s = new MemoryStorage(conf);
  s.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
  s.append([entry(2, 2)]);
  assert.equal(s.lastIndex(), 2);
  assert.equal(s.term(2), 2);
  s.createSnapshot(2, conf, new Uint8Array());
  s.compact(2);
  s.append([entry(1, 1), entry(2, 2), entry(3, 2)]);
  assert.equal(s.firstIndex(), 3);
  assert.equal(s.lastIndex(), 3);
});

test('MemoryStorage: applySnapshot replaces the log; an older snapshot is ignored', () => {
  const s = new MemoryStorage(conf);
  s.append([entry(1, 1), entry(2, 1)]);
  const snap = { metadata: { index: 10, term: 4, confState: conf }, data: new Uint8Array([1]) };
  assert.equal(s.applySnapshot(snap), true);
  assert.equal(s.firstIndex(), 11);
  assert.equal(s.lastIndex(), 10);
  assert.equal(s.applySnapshot({ ...snap, metadata: { ...snap.metadata, index: 5 } }), false);
});

test('RaftLog: unstable entries overlay storage; a conflicting append replaces the tail; stableTo hands them over', () => {
  const s = new MemoryStorage(conf);
  s.append([entry(1, 1), entry(2, 1)]);
  const log = new RaftLog(s, Infinity);
  log.append([entry(3, 1), entry(4, 1)]);
  assert.equal(log.lastIndex(), 4);
  assert.equal(log.maybeAppend(2, 1, 0, [entry(3, 2)], () => {}), 3);
  assert.equal(log.lastIndex(), 3);
  assert.equal(log.term(3), 2);
  assert.deepEqual(log.unstableEntries().map((e) => [e.index, e.term]), [[3, 2]]);
  s.append(log.unstableEntries());
  log.stableTo(3, 2);
  assert.deepEqual(log.unstableEntries(), []);
  assert.equal(log.term(3), 2);
});

test('RaftLog: stableTo is ignored when the entry was replaced after the Ready was taken', () => {
  const s = new MemoryStorage(conf);
  const log = new RaftLog(s, Infinity);
  log.append([entry(1, 1), entry(2, 1)]);
  const handedOut = log.unstableEntries();
  log.maybeAppend(1, 1, 0, [entry(2, 2)], () => {}); // replaced before advance
  s.append(handedOut);
  log.stableTo(2, 1);
  assert.deepEqual(
    log.unstableEntries().map((e) => [e.index, e.term]),
    [
      [1, 1],
      [2, 2],
    ],
    'nothing is marked stable: the replacement is still to persist',
  );
});

test('RaftLog: findConflictByTerm walks back to the last index whose term is ≤ the given term', () => {
  const s = new MemoryStorage(conf);
  s.append([entry(1, 1), entry(2, 1), entry(3, 3), entry(4, 3), entry(5, 5)]);
  const log = new RaftLog(s, Infinity);
  assert.deepEqual(log.findConflictByTerm(5, 4), { index: 4, term: 3 });
  assert.deepEqual(log.findConflictByTerm(5, 2), { index: 2, term: 1 });
  assert.deepEqual(log.findConflictByTerm(4, 3), { index: 4, term: 3 });
});

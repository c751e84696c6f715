// The durable Raft log: what is saved is what a reopen recovers (entries, hard state, overridden suffixes,
// snapshots), a torn tail is cut, a corrupt middle segment is an error; and the peer frame reader gives the
// same frames whatever the chunking.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { encodeFrame, FrameReader } from '../../src/cluster/peer-transport.js';
import { DurableRaftStorage, segmentName } from '../../src/cluster/raft-log-storage.js';
import { ErrorCode, isCaskError } from '../../src/util/errors.js';
import { mountSmallDisk } from '../support/full-disk.js';
import { EntryType, type Entry } from '../../src/raft/types.js';

const ent = (index: number, term: number, text = `e${index}`): Entry => ({ index, term, type: EntryType.Normal, data: Buffer.from(text) });
const tmp = (): string => fs.mkdtempSync(join(os.tmpdir(), 'caskdb-raftlog-'));
const texts = (es: Entry[]): string[] => es.map((e) => `${e.term}/${e.index}/${Buffer.from(e.data).toString()}`);

describe('DurableRaftStorage', () => {
  it('recovers saved entries and the newest hard state', async () => {
    const dir = tmp();
    try {
      const s = DurableRaftStorage.open(dir);
      await s.save({ term: 1, vote: 2, commit: 0 }, [ent(1, 1), ent(2, 1)], true);
      await s.save({ term: 2, vote: 3, commit: 2 }, [ent(3, 2)], true);
      s.close();
      const r = DurableRaftStorage.open(dir);
      assert.deepEqual(r.initialState().hardState, { term: 2, vote: 3, commit: 2 });
      assert.equal(r.firstIndex(), 1);
      assert.equal(r.lastIndex(), 3);
      assert.deepEqual(texts(r.entries(1, 4, Infinity)), ['1/1/e1', '1/2/e2', '2/3/e3']);
      r.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a later batch overrides the log from its first index on (conflicting suffix)', async () => {
    const dir = tmp();
    try {
      const s = DurableRaftStorage.open(dir);
      await s.save({ term: 1, vote: 0, commit: 1 }, [ent(1, 1), ent(2, 1), ent(3, 1)], true);
      await s.save({ term: 2, vote: 0, commit: 1 }, [ent(2, 2, 'new2')], true);
      s.close();
      const r = DurableRaftStorage.open(dir);
      assert.deepEqual(texts(r.entries(1, r.lastIndex() + 1, Infinity)), ['1/1/e1', '2/2/new2']);
      r.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cuts a torn tail of the last segment and keeps what came before', async () => {
    const dir = tmp();
    try {
      const s = DurableRaftStorage.open(dir);
      await s.save({ term: 1, vote: 1, commit: 1 }, [ent(1, 1), ent(2, 1)], true);
      s.close();
      const seg = join(dir, 'log', fs.readdirSync(join(dir, 'log'))[0]!);
      const size = fs.statSync(seg).size;
      fs.appendFileSync(seg, Buffer.from([0x12, 0x34, 0x56, 0x78, 0x00, 0x02, 0x10, 0x45]));
      const r = DurableRaftStorage.open(dir);
      assert.equal(r.lastIndex(), 2);
      assert.equal(fs.statSync(seg).size, size, 'the torn bytes are cut');
      await r.save(undefined, [ent(3, 1)], true);
      r.close();
      assert.equal(DurableRaftStorage.open(dir).lastIndex(), 3);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a damaged record inside the log is a corruption error, not a silent cut', async () => {
    const dir = tmp();
    try {
      const s = DurableRaftStorage.open(dir);
      await s.save({ term: 1, vote: 1, commit: 1 }, [ent(1, 1, 'x'.repeat(100))], true);
      s.close();
      // Make a second segment by hand so the damaged one is not the last.
      const logDir = join(dir, 'log');
      const first = join(logDir, fs.readdirSync(logDir)[0]!);
      fs.copyFileSync(first, join(logDir, '000000009.log'));
      const buf = fs.readFileSync(first);
      buf[buf.length - 20] = buf[buf.length - 20]! ^ 0xff;
      fs.writeFileSync(first, buf);
      assert.throws(() => DurableRaftStorage.open(dir), { code: 'CASKDB_CORRUPTION' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a local snapshot compacts the log; reopen starts after it', async () => {
    const dir = tmp();
    try {
      const s = DurableRaftStorage.open(dir);
      const es = Array.from({ length: 20 }, (_, i) => ent(i + 1, 1));
      await s.save({ term: 1, vote: 0, commit: 20 }, es, true);
      s.createSnapshot(15, { voters: [1, 2, 3], learners: [] }, Buffer.from('{"index":15}'), 10);
      assert.equal(s.firstIndex(), 11);
      s.close();
      const r = DurableRaftStorage.open(dir);
      assert.equal(r.snapshot().metadata.index, 15);
      assert.deepEqual(r.snapshot().metadata.confState.voters, [1, 2, 3]);
      assert.equal(r.firstIndex(), 16);
      assert.equal(r.lastIndex(), 20);
      assert.equal(r.term(15), 1);
      r.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an installed snapshot replaces the whole log, also after reopen', async () => {
    const dir = tmp();
    try {
      const s = DurableRaftStorage.open(dir);
      await s.save({ term: 1, vote: 0, commit: 3 }, [ent(1, 1), ent(2, 1), ent(3, 1), ent(4, 1)], true);
      s.applySnapshot({ metadata: { index: 50, term: 3, confState: { voters: [1, 2, 3], learners: [] } }, data: Buffer.from('{}') });
      await s.save({ term: 3, vote: 0, commit: 51 }, [ent(51, 3)], true);
      s.close();
      const r = DurableRaftStorage.open(dir);
      assert.equal(r.firstIndex(), 51);
      assert.equal(r.lastIndex(), 51);
      assert.equal(r.term(50), 3);
      assert.deepEqual(r.initialState().hardState, { term: 3, vote: 0, commit: 51 });
      r.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('DurableRaftStorage on a full disk', () => {
  it('a save that does not fit fails with CASKDB_NO_SPACE, is cut back whole, and is not in the reopened log', async (t) => {
    const disk = mountSmallDisk(t, 1);
    const s = DurableRaftStorage.open(disk.mountPoint);
    const segment = join(disk.mountPoint, 'log', segmentName(1));
    // 40 KiB entries: the disk fills in the middle of one (a short write(2), then ENOSPC).
    const big = (index: number): Entry => ({ index, term: 1, type: EntryType.Normal, data: Buffer.alloc(40 * 1024, index % 251) });
    let saved = 0;
    let failure: unknown;
    let sizeBefore = 0;
    for (let index = 1; index < 100 && failure === undefined; index++) {
      sizeBefore = fs.statSync(segment).size;
      try {
        await s.save({ term: 1, vote: 0, commit: saved }, [big(index)], true);
        saved = index;
      } catch (error) {
        failure = error;
      }
    }
    assert.ok(isCaskError(failure, ErrorCode.NoSpace), `expected CASKDB_NO_SPACE, got ${String(failure)}`);
    assert.ok(saved > 5, `${saved} entries fit first`);
    assert.equal(s.lastIndex(), saved, 'the failed entry is not in the log');
    assert.equal(fs.statSync(segment).size, sizeBefore, 'no part of the failed record stays in the segment');
    s.close();
    disk.grow(4);
    const r = DurableRaftStorage.open(disk.mountPoint);
    assert.equal(r.lastIndex(), saved);
    assert.deepEqual(r.entries(saved, saved + 1, Infinity)[0]!.data, big(saved).data);
    await r.save(undefined, [big(saved + 1)], true);
    assert.equal(r.lastIndex(), saved + 1);
    r.close();
  });
});

describe('FrameReader', () => {
  it('yields the same frames whole and split at every byte', () => {
    const frames = [encodeFrame(2, Buffer.from('hello')), encodeFrame(3, Buffer.alloc(0)), encodeFrame(4, Buffer.alloc(300, 7))];
    const stream = Buffer.concat(frames);
    const expected = [[2, 'hello'], [3, ''], [4, Buffer.alloc(300, 7).toString('hex')]];
    for (let cut = 0; cut <= stream.length; cut++) {
      const got: Array<[number, string]> = [];
      const r = new FrameReader();
      const on = (kind: number, payload: Buffer): void => void got.push([kind, kind === 4 ? payload.toString('hex') : payload.toString()]);
      r.feed(stream.subarray(0, cut), on);
      r.feed(stream.subarray(cut), on);
      assert.deepEqual(got, expected, `split at ${cut}`);
    }
    const bytewise: Array<[number, string]> = [];
    const r = new FrameReader();
    for (const b of stream) r.feed(Buffer.from([b]), (kind, p) => void bytewise.push([kind, kind === 4 ? p.toString('hex') : p.toString()]));
    assert.deepEqual(bytewise, expected);
  });

  it('yields the same frames from any split into many pieces, large frames included', () => {
    const frames = [encodeFrame(2, Buffer.from('a')), encodeFrame(4, Buffer.alloc(200_000, 9)), encodeFrame(3, Buffer.alloc(0)), encodeFrame(2, Buffer.alloc(70_000, 1))];
    const stream = Buffer.concat(frames);
    const expected = frames.map((f) => [f[4]!, f.subarray(5).toString('hex')]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 40 }), (sizes) => {
        const got: Array<[number, string]> = [];
        const r = new FrameReader();
        let off = 0;
        for (let i = 0; off < stream.length; i++) {
          const n = sizes[i % sizes.length]!;
          r.feed(stream.subarray(off, off + n), (kind, p) => void got.push([kind, p.toString('hex')]));
          off += n;
        }
        assert.deepEqual(got, expected);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a frame longer than the bound', () => {
    const b = Buffer.alloc(5);
    b.writeUInt32LE(0xffffffff, 0);
    assert.throws(() => new FrameReader().feed(b, () => undefined), { code: 'CASKDB_CORRUPTION' });
  });
});

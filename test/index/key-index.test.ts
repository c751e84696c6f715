// The in-memory index: an ordered map from byte keys (latin1 strings) to positions, checked against a
// sorted model; overwrites and deletes report the superseded record size for the reclaimable total.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KeyIndex, sharedPagePool, type KeyRange } from '../../src/index/key-index.js';

const keyArb = fc.uint8Array({ maxLength: 4 }).map((u) => Buffer.from(u).toString('latin1'));

/** Every key of the index in order, walked in chunks of `chunkEntries` that re-seek past the last key. */
function scanAll(index: KeyIndex, chunkEntries: number): string[] {
  const got: string[] = [];
  let range: KeyRange = {};
  for (;;) {
    const chunk = index.scan(range, false, chunkEntries);
    for (const [key] of chunk) got.push(key);
    if (chunk.length < chunkEntries) return got;
    range = { low: chunk[chunk.length - 1]![0], lowInclusive: false };
  }
}

test('set and delete return the size of the record they supersede', () => {
  const index = new KeyIndex(12345);
  assert.equal(index.set('a', 1, 0, 10), 0);
  assert.equal(index.set('a', 1, 10, 12), 10);
  assert.equal(index.delete('a'), 12);
  assert.equal(index.delete('a'), 0);
  assert.equal(index.size, 0);
});

test('isLive is true only for the exact (file, offset) the key points at', () => {
  const index = new KeyIndex(12345);
  index.set('k', 2, 100, 20);
  assert.ok(index.isLive('k', 2, 100));
  assert.ok(!index.isLive('k', 1, 100));
  assert.ok(!index.isLive('k', 2, 99));
  assert.ok(!index.isLive('other', 2, 100));
});

test('positions survive slot reuse and growth past the initial capacity', () => {
  const index = new KeyIndex(12345);
  for (let i = 0; i < 5000; i++) index.set(`k${i}`, i % 7, i * 3, 7 + (i % 100));
  for (let i = 0; i < 5000; i += 2) index.delete(`k${i}`);
  for (let i = 0; i < 2000; i++) index.set(`n${i}`, 9, 2 ** 32 - 1 - i, 8);
  for (let i = 1; i < 5000; i += 2) {
    const slot = index.slotOf(`k${i}`);
    assert.deepEqual([index.fileIdAt(slot), index.offsetAt(slot), index.sizeAt(slot)], [i % 7, i * 3, 7 + (i % 100)]);
  }
  const slot = index.slotOf('n1999');
  assert.equal(index.offsetAt(slot), 2 ** 32 - 1 - 1999, 'offsets use all 32 bits (data files are at most 4 GiB)');
  assert.equal(index.size, 2500 + 2000);
  assert.ok(index.estimateBytes() > 0);
});

test('the hash table doubles a few entries per write, and every key stays findable while it does', () => {
  const index = new KeyIndex(777);
  const rehash = index as unknown as { oldTable: Int32Array | undefined };
  const model = new Map<string, number>();
  let seed = 42;
  const random = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  let doublings = 0;
  let writesWhileDoubling = 0;
  let longestDoubling = 0;
  let current = 0;
  const check = (key: string): void => {
    const slot = index.slotOf(key);
    const offset = model.get(key);
    if (offset === undefined) assert.equal(slot, -1, `${key} is absent`);
    else assert.equal(index.offsetAt(slot), offset, `${key} points at its last position`);
  };
  for (let step = 0; step < 120_000; step++) {
    const key = `key-${random(40_000)}`;
    const wasDoubling = rehash.oldTable !== undefined;
    if (random(10) < 7) {
      index.set(key, 1, step, 10);
      model.set(key, step);
    } else {
      index.delete(key);
      model.delete(key);
    }
    const doubling = rehash.oldTable !== undefined;
    if (doubling && !wasDoubling) doublings++;
    if (doubling) {
      writesWhileDoubling++;
      current++;
      longestDoubling = Math.max(longestDoubling, current);
    } else {
      current = 0;
    }
    check(key);
    check(`key-${random(40_000)}`);
  }
  assert.ok(doublings >= 4, `${doublings} doublings happened`);
  assert.ok(writesWhileDoubling > 1000 && longestDoubling > 500, `doublings were spread over writes (${longestDoubling} at most)`);
  assert.equal(index.size, model.size);
  for (const key of model.keys()) check(key);
  for (let i = 0; i < 40_000; i++) check(`key-${i}`);
  assert.deepEqual(scanAll(index, 333), [...model.keys()].sort());
});

test('while a small table doubles, every key is found after every write, deletes and slot reuse included', () => {
  // Moved and unmoved keys, keys deleted after moving, and chains around the table's end, over many
  // hash seeds: every key is checked after every write.
  for (let seed = 1; seed <= 24; seed++) {
    const index = new KeyIndex(seed * 7919);
    const rehash = index as unknown as { oldTable: Int32Array | undefined };
    const live = new Map<string, number>();
    // First, twelve keys whose home is the table's last entry (2,048 entries before the first doubling):
    // their chain wraps to the start, past the first entries a doubling moves.
    const hashOf = (index as unknown as { hashBytes(b: Uint8Array, s: number, e: number): number }).hashBytes.bind(index);
    for (let j = 0; live.size < 12; j++) {
      const key = Buffer.from(`w${j}`, 'latin1');
      if ((hashOf(key, 0, key.length) & 2047) !== 2047) continue;
      index.set(key.toString('latin1'), 2, j, 10);
      live.set(key.toString('latin1'), j);
    }
    let i = 0;
    while (rehash.oldTable === undefined) {
      index.set(`k${i}`, 1, i, 10);
      live.set(`k${i}`, i);
      i++;
    }
    const keysAtStart = live.size;
    let writes = 0;
    while (rehash.oldTable !== undefined) {
      if (writes % 3 === 2) {
        // Keys already moved and keys not moved yet (from the far end of the slots).
        const victim = writes % 2 === 0 ? `k${(writes * 31) % i}` : `k${keysAtStart - 20 - writes}`;
        index.delete(victim);
        live.delete(victim);
      } else {
        index.set(`k${i}`, 1, i, 10);
        live.set(`k${i}`, i);
        i++;
      }
      writes++;
      for (const [key, offset] of live) assert.equal(index.offsetAt(index.slotOf(key)), offset, `seed ${seed}: ${key} after ${writes} writes`);
    }
    // One entry per live key: none was moved twice (a slot freed and reused while the doubling ran).
    const table = (index as unknown as { table: Int32Array }).table;
    assert.equal(table.filter((entry) => entry > 0).length, live.size, `seed ${seed}: entries of the doubled table`);
    // The keys of 32 slots move per write.
    assert.ok(writes >= Math.floor(keysAtStart / 32) && writes > 20, `the doubling took ${writes} writes`);
  }
});

test('scan walks any range forward and backward in unsigned byte order, like a sorted model', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(keyArb, fc.boolean()), { maxLength: 120 }),
      fc.option(keyArb, { nil: undefined }),
      fc.boolean(),
      fc.option(keyArb, { nil: undefined }),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 1, max: 50 }),
      (ops, low, lowInclusive, high, highInclusive, reverse, limit) => {
        const index = new KeyIndex(12345);
        const model = new Set<string>();
        for (const [key, isSet] of ops) {
          if (isSet) {
            index.set(key, 1, 0, 10);
            model.add(key);
          } else {
            index.delete(key);
            model.delete(key);
          }
        }
        const range: KeyRange = {};
        if (low !== undefined) Object.assign(range, { low, lowInclusive });
        if (high !== undefined) Object.assign(range, { high, highInclusive });
        const compare = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
        let expected = [...model].sort(compare).filter((key) => {
          if (low !== undefined && (compare(key, low) < 0 || (key === low && !lowInclusive))) return false;
          if (high !== undefined && (compare(key, high) > 0 || (key === high && !highInclusive))) return false;
          return true;
        });
        if (reverse) expected = expected.reverse();
        expected = expected.slice(0, limit);
        assert.deepEqual(
          index.scan(range, reverse, limit).map(([key]) => key),
          expected,
        );
        assert.equal(index.size, model.size);
      },
    ),
    { numRuns: 400 },
  );
});

test('interleaved sets, deletes and scans stay exact through folds, rebuilds, retired slots and arena compaction', () => {
  // Tiny limits so a short run crosses every internal threshold many times.
  const opArb = fc.oneof(
    fc.tuple(fc.constant('set' as const), keyArb, fc.nat({ max: 1000 })),
    fc.tuple(fc.constant('delete' as const), keyArb, fc.constant(0)),
    fc.tuple(fc.constant('scan' as const), fc.option(keyArb, { nil: undefined }), fc.nat({ max: 1 })),
  );
  const compare = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 300 }), fc.integer({ min: 1, max: 8 }), (ops, deltaKeysMax) => {
      const index = new KeyIndex(777, { deltaKeysMax, arenaSlackRatio: 0.1, arenaSlackBytesMin: 0 });
      const model = new Map<string, number>();
      for (const [kind, key, n] of ops) {
        if (kind === 'set') {
          const had = model.get(key!);
          assert.equal(index.set(key!, 1, n, n + 1), had === undefined ? 0 : had + 1);
          model.set(key!, n);
        } else if (kind === 'delete') {
          const had = model.get(key!);
          assert.equal(index.delete(key!), had === undefined ? 0 : had + 1);
          model.delete(key!);
        } else {
          const reverse = n === 1;
          let expected = [...model.keys()].sort(compare);
          if (key !== undefined) expected = expected.filter((k) => (reverse ? compare(k, key) <= 0 : compare(k, key) >= 0));
          if (reverse) expected.reverse();
          const range: KeyRange = key === undefined ? {} : reverse ? { high: key, highInclusive: true } : { low: key, lowInclusive: true };
          const got = index.scan(range, reverse, 1000);
          assert.deepEqual(got.map(([k]) => k), expected);
          for (const [k, slot] of got) assert.equal(index.offsetAt(slot), model.get(k));
        }
      }
      assert.equal(index.size, model.size);
      for (const [key, n] of model) assert.equal(index.offsetAt(index.slotOf(key)), n);
    }),
    { numRuns: 500 },
  );
});

test('bytes and string forms of a key are the same key; merge relocation follows only the exact record', () => {
  const index = new KeyIndex(5);
  const bytes = Buffer.from([0x00, 0xff, 0x80, 0x41]);
  index.setBytes(Buffer.concat([Buffer.from('xx'), bytes]), 2, 6, 3, 40, 20);
  const slot = index.slotOf(bytes.toString('latin1'));
  assert.ok(slot >= 0);
  assert.equal(index.liveSlotOfBytes(bytes, 0, 4, 3, 40), slot);
  assert.equal(index.liveSlotOfBytes(bytes, 0, 4, 3, 41), -1);
  assert.ok(index.relocateIfAt(slot, 3, 40, 9, 0, 20));
  assert.equal(index.fileIdAt(slot), 9);
  assert.ok(!index.relocateIfAt(slot, 3, 40, 10, 0, 20), 'the slot no longer holds the old record');
  index.deleteBytes(bytes, 0, 4);
  index.set('other', 1, 1, 1); // may reuse the slot
  assert.ok(!index.relocateIfAt(slot, 9, 0, 11, 0, 20), 'a freed or reused slot is not relocated');
  assert.equal(index.slotOfBytes(bytes, 0, 4), -1);
});

test('a large index sorts keys of shared prefixes and mixed lengths exactly (radix over 4-byte digits)', () => {
  const index = new KeyIndex(9);
  const keys: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    const key = i % 3 === 0 ? `user:${i % 97}` : i % 3 === 1 ? `user:${String(i).padStart(7, '0')}:x` : Buffer.from([i & 0xff, (i >> 8) & 0xff, 0, 0, i % 5]).toString('latin1').slice(0, 1 + (i % 5));
    keys.push(key);
    index.set(key, 1, i, 1);
  }
  const expected = [...new Set(keys)].sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')));
  const got = scanAll(index, 256);
  assert.deepEqual(got, expected);
  assert.ok(index.estimateBytes() / index.size < 100);
});

test('above 65,536 keys the ordered view is sorted bucket by bucket, still exactly (empty, 1-byte, shared-prefix keys)', () => {
  const index = new KeyIndex(5);
  const keys = new Set<string>(['', '\x00', '\xff', '\x00\x00', 'a', 'a\x00', 'a\x00\x01']);
  let state = 12345;
  const nextByte = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 24;
  };
  while (keys.size < 90_000) {
    const length = nextByte() % 7; // 0..6 bytes, so many keys end inside the first two bytes or share them
    let key = keys.size % 4 === 0 ? 'ab' : '';
    for (let i = 0; i < length; i++) key += String.fromCharCode(nextByte());
    keys.add(key);
  }
  for (const key of keys) index.set(key, 1, 0, 1);
  const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')));
  const got = scanAll(index, 4096);
  assert.equal(got.length, expected.length);
  assert.deepEqual(got, expected);
});

test('many pages: keys across arena and slot pages, a key longer than a page, compaction after mass deletes', () => {
  const index = new KeyIndex(3, { arenaSlackRatio: 0.3, arenaSlackBytesMin: 0 });
  const model = new Map<string, number>();
  const put = (key: string, n: number): void => {
    index.set(key, 2, n, 1);
    model.set(key, n);
  };
  for (let i = 0; i < 150_000; i++) put(`key-${String(i).padStart(9, '0')}-${'z'.repeat(i % 7)}`, i);
  const huge = `huge-${'h'.repeat(1_500_000)}`;
  put(huge, 1);
  assert.ok(index.scan({}, false, 1).length === 1, 'builds the ordered view');
  const beforeDeletes = index.estimateBytes();
  for (const key of [...model.keys()]) {
    const n = model.get(key)!;
    if (n % 3 !== 0 && key !== huge) {
      index.delete(key);
      model.delete(key);
    }
  }
  for (let i = 0; i < 60_000; i++) put(`new-${i}`, 1_000_000 + i); // reuses slots, fills and compacts the arena
  assert.equal(index.size, model.size);
  for (const [key, n] of model) assert.equal(index.offsetAt(index.slotOf(key)), n, key.slice(0, 30));
  const expected = [...model.keys()].sort();
  const got = scanAll(index, 4096);
  assert.equal(got.length, expected.length);
  assert.ok(got.every((key, i) => key === expected[i]));
  assert.ok(index.estimateBytes() < beforeDeletes, `compaction gave bytes back: ${index.estimateBytes()} vs ${beforeDeletes}`);
});

test('a cleared index hands its pages to the next one, which sees none of the old keys', () => {
  sharedPagePool.drop();
  const first = new KeyIndex(1);
  for (let i = 0; i < 200_000; i++) first.set(`first-${i}-${'p'.repeat(i % 9)}`, 1, i, 1);
  first.clear();
  assert.equal(first.size, 0);
  const kept = sharedPagePool.keptBytes();
  assert.ok(kept > 4 * 1024 * 1024, `pages kept: ${kept}`);
  const second = new KeyIndex(2);
  for (let i = 0; i < 150_000; i++) second.set(`second-${i}`, 2, i, 2);
  assert.ok(sharedPagePool.keptBytes() < kept, 'the second index took pages from the pool');
  assert.equal(second.slotOf('first-5-ppppp'), -1);
  for (let i = 0; i < 150_000; i += 997) assert.equal(second.offsetAt(second.slotOf(`second-${i}`)), i);
  const scanned = second.scan({}, false, 200_000);
  assert.equal(scanned.length, 150_000);
  assert.ok(scanned.every(([key]) => key.startsWith('second-')));
  sharedPagePool.drop();
  assert.equal(sharedPagePool.keptBytes(), 0);
});

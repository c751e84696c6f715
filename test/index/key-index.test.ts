// The in-memory index: an ordered map from byte keys (latin1 strings) to positions, checked against a
// sorted model; overwrites and deletes report the superseded record size for the reclaimable total.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KeyIndex, type KeyRange } from '../../src/index/key-index.js';

const keyArb = fc.uint8Array({ maxLength: 4 }).map((u) => Buffer.from(u).toString('latin1'));

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

// The value cache: hits return a copy of exactly the bytes cached for that record position; the ring
// evicts oldest-first and an entry never outlives its bytes; a property test against a Map of positions
// checks that a lookup is either a miss or the last value cached there, across many ring wraps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ValueCache } from '../../src/cache/value-cache.js';

test('a cached value comes back as a copy; other positions and sizes miss', () => {
  const cache = new ValueCache(64 * 1024);
  cache.set(3, 1000, 120, Buffer.from('hello'));
  const hit = cache.get(3, 1000, 120);
  assert.deepEqual(hit, Buffer.from('hello'));
  hit![0] = 0x58;
  assert.deepEqual(cache.get(3, 1000, 120), Buffer.from('hello'), 'the caller owns its copy');
  assert.equal(cache.get(3, 1001, 120), undefined);
  assert.equal(cache.get(4, 1000, 120), undefined);
  assert.equal(cache.get(3, 1000, 121), undefined, 'a record of another size at that position is not this one');
  cache.set(3, 1000, 120, Buffer.alloc(0));
  assert.deepEqual(cache.get(3, 1000, 120), Buffer.alloc(0), 'empty values are values; the later set wins');
  // Offsets use all 32 bits.
  cache.set(9, 2 ** 32 - 10, 30, Buffer.from('top'));
  assert.deepEqual(cache.get(9, 2 ** 32 - 10, 30), Buffer.from('top'));
  // Ring bytes: three entries of an 8-byte header (record size, value length) plus 5, 0 and 3 value bytes.
  assert.deepEqual(cache.stats(), { capacityBytes: 64 * 1024, usedBytes: 32, hits: 4, misses: 3 });
});

test('the ring evicts the oldest values first and never returns overwritten bytes', () => {
  const capacity = 4096;
  const cache = new ValueCache(capacity);
  const value = (i: number): Buffer => Buffer.alloc(100, i % 251);
  for (let i = 0; i < 36; i++) cache.set(1, i * 200, 150, value(i));
  // 36 entries of 8 + 100 bytes = 3888 bytes: all still in the ring (sets permitting).
  let hits = 0;
  for (let i = 0; i < 36; i++) {
    const got = cache.get(1, i * 200, 150);
    if (got !== undefined) {
      assert.deepEqual(got, value(i));
      hits++;
    }
  }
  assert.ok(hits >= 30, `${hits} of 36 recent values found`);
  // 45 more values wrap the ring: the first ones' bytes are overwritten and must miss.
  for (let i = 36; i < 81; i++) cache.set(1, i * 200, 150, value(i));
  for (let i = 0; i < 36; i++) assert.equal(cache.get(1, i * 200, 150), undefined, `value ${i} was overwritten`);
  const last = cache.get(1, 80 * 200, 150);
  assert.deepEqual(last, value(80));
});

test('a set holds four positions and, when a fifth comes, replaces the one cached first', () => {
  const cache = new ValueCache(64 * 1024);
  const setOf = (cache as unknown as { setOf(fileId: number, offset: number): number }).setOf.bind(cache);
  // Five offsets that share one set.
  const offsets: number[] = [];
  for (let offset = 0; offsets.length < 5; offset += 64) if (setOf(1, offset) === setOf(1, 0)) offsets.push(offset);
  const value = (i: number): Buffer => Buffer.alloc(50, i + 1);
  for (let i = 0; i < 4; i++) cache.set(1, offsets[i]!, 80, value(i));
  for (let i = 0; i < 4; i++) assert.deepEqual(cache.get(1, offsets[i]!, 80), value(i), `way ${i}`);
  // Re-caching a position reuses its own entry rather than evicting another.
  cache.set(1, offsets[2]!, 80, value(7));
  for (let i = 0; i < 4; i++) assert.deepEqual(cache.get(1, offsets[i]!, 80), i === 2 ? value(7) : value(i));
  cache.set(1, offsets[4]!, 80, value(4));
  assert.equal(cache.get(1, offsets[0]!, 80), undefined, 'the oldest entry made room');
  for (let i = 1; i < 5; i++) assert.deepEqual(cache.get(1, offsets[i]!, 80), i === 2 ? value(7) : value(i));
});

test('values above 1/16 of the capacity are not cached; clear() forgets everything', () => {
  const cache = new ValueCache(16 * 1024);
  assert.equal(cache.valueBytesMax, 1024);
  cache.set(1, 0, 2000, Buffer.alloc(1025));
  assert.equal(cache.get(1, 0, 2000), undefined);
  cache.set(1, 0, 2000, Buffer.alloc(1024, 7));
  assert.deepEqual(cache.get(1, 0, 2000), Buffer.alloc(1024, 7));
  // A value too long to keep still supersedes what was cached for its position.
  cache.set(1, 4096, 2000, Buffer.alloc(10, 1));
  cache.set(1, 4096, 2000, Buffer.alloc(1025, 2));
  assert.equal(cache.get(1, 4096, 2000), undefined, 'the earlier value of that position is forgotten');
  cache.clear();
  assert.equal(cache.get(1, 0, 2000), undefined);
  cache.set(1, 0, 2000, Buffer.alloc(3, 1));
  assert.deepEqual(cache.get(1, 0, 2000), Buffer.alloc(3, 1), 'usable after clear');
});

test('a capacity below 4096 bytes is refused', () => {
  assert.throws(() => new ValueCache(100), /at least 4096 bytes/);
  assert.throws(() => new ValueCache(5000.5), RangeError);
});

test('property: a lookup is a miss or the last value cached at that position, across ring wraps', () => {
  const positionArb = fc.record({ fileId: fc.integer({ min: 1, max: 3 }), offset: fc.integer({ min: 0, max: 40 }).map((o) => o * 97) });
  const stepArb = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), at: positionArb, value: fc.uint8Array({ maxLength: 300 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('get' as const), at: positionArb }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
  );
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 400 }), fc.constantFrom(4096, 8192), (steps, capacity) => {
      const cache = new ValueCache(capacity);
      const model = new Map<string, Buffer>();
      // Bytes cached since each position's value was set: past the capacity it must be gone.
      let written = 0;
      const writtenAt = new Map<string, number>();
      for (const step of steps) {
        if (step.kind === 'clear') {
          cache.clear();
          model.clear();
          continue;
        }
        const name = `${step.at.fileId}:${step.at.offset}`;
        const size = 10 + (step.at.offset % 7);
        if (step.kind === 'set') {
          cache.set(step.at.fileId, step.at.offset, size, step.value);
          if (step.value.length <= cache.valueBytesMax) {
            model.set(name, Buffer.from(step.value));
            writtenAt.set(name, written);
            written += step.value.length;
          } else {
            model.delete(name);
          }
          continue;
        }
        const got = cache.get(step.at.fileId, step.at.offset, size);
        if (got !== undefined) {
          assert.deepEqual(got, model.get(name), `position ${name}`);
          // Skipped ring tails make room shorter than the capacity, never longer.
          assert.ok(written - writtenAt.get(name)! <= capacity, 'a hit is never older than one ring');
        }
      }
    }),
    { numRuns: 300 },
  );
});

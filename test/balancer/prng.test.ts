// The seeded PRNG: same seed → same sequence; randomInt stays in range and is uniform.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrng, randomInt } from '../../src/balancer/index.js';
import { chiSquare } from './helpers.js';

test('the same seed gives the same sequence, another seed another one', () => {
  const take = (seed: number): number[] => { const r = createPrng(seed); return Array.from({ length: 8 }, () => r.nextUint32()); };
  assert.deepEqual(take(42), take(42));
  assert.notDeepEqual(take(42), take(43));
  for (const v of take(7)) assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** 32);
});

test('randomInt is in [0, bound) and uniform (chi-square, 9 degrees of freedom, p > 0.001)', () => {
  const r = createPrng(1);
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const v = randomInt(r, 10);
    assert.ok(v >= 0 && v < 10);
    counts[v] = (counts[v] as number) + 1;
  }
  assert.ok(chiSquare(counts, new Array<number>(10).fill(0.1)) < 27.88);
});

test('randomInt rejects a bound outside [1, 2^32]', () => {
  const r = createPrng(1);
  assert.throws(() => randomInt(r, 0), RangeError);
  assert.throws(() => randomInt(r, 1.5), RangeError);
  assert.equal(randomInt(r, 1), 0);
});

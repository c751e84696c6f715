// Random and weighted random: distributions with fixed seeds (chi-square at p > 0.001), weight rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrng, createRandomBalancer, createWeightedRandomBalancer } from '../../src/balancer/index.js';
import { chiSquare, countPicks, servers } from './helpers.js';

test('random picks every server equally often, ignoring weights', () => {
  const list = servers(['a:1', 1], ['b:1', 50], ['c:1', 1000]);
  const counts = countPicks(createRandomBalancer(createPrng(11)), list, 30_000);
  assert.ok(chiSquare([...counts.values()], [1 / 3, 1 / 3, 1 / 3]) < 13.82, JSON.stringify([...counts]));
});

test('random with a fixed seed is reproducible', () => {
  const list = servers(['a:1'], ['b:1'], ['c:1']);
  const run = (): string[] => { const b = createRandomBalancer(createPrng(5)); return Array.from({ length: 20 }, () => b.pick({ key: 'x', cluster: 'c', write: false }, list).address); };
  assert.deepEqual(run(), run());
});

test('weighted random picks in proportion to weight (weights 1, 2, 3, 4 → 10%, 20%, 30%, 40%)', () => {
  const list = servers(['a:1', 1], ['b:1', 2], ['c:1', 3], ['d:1', 4]);
  const counts = countPicks(createWeightedRandomBalancer(createPrng(3)), list, 40_000);
  const observed = [...counts.values()];
  assert.ok(chiSquare(observed, [0.1, 0.2, 0.3, 0.4]) < 16.27, JSON.stringify(observed));
  observed.forEach((o, i) => assert.ok(Math.abs(o / 40_000 - (i + 1) / 10) < 0.01));
});

test('weight −1 everywhere means equal weights', () => {
  const list = servers(['a:1', -1], ['b:1', -1], ['c:1', -1]);
  const counts = countPicks(createWeightedRandomBalancer(createPrng(9)), list, 30_000);
  assert.ok(chiSquare([...counts.values()], [1 / 3, 1 / 3, 1 / 3]) < 13.82);
});

test('weight −1 next to set weights counts as the default weight 100', () => {
  const list = servers(['a:1', -1], ['b:1', 300]);
  const counts = countPicks(createWeightedRandomBalancer(createPrng(9)), list, 40_000);
  assert.ok(chiSquare([...counts.values()], [0.25, 0.75]) < 10.83);
});

test('weight 0 is never picked while another server has weight; all zero → uniform', () => {
  const b = createWeightedRandomBalancer(createPrng(2));
  const counts = countPicks(b, servers(['a:1', 0], ['b:1', 5]), 5_000);
  assert.equal(counts.get('a:1'), 0);
  const zero = countPicks(b, servers(['a:1', 0], ['b:1', 0]), 10_000);
  assert.ok(chiSquare([...zero.values()], [0.5, 0.5]) < 10.83);
});

// Round robin: the exact cycle, one counter per cluster, and a list change keeps cycling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRoundRobinBalancer } from '../../src/balancer/index.js';
import { request, servers } from './helpers.js';

test('round robin cycles through the list in order, starting at the first server', () => {
  const b = createRoundRobinBalancer();
  const list = servers(['a:1'], ['b:1'], ['c:1']);
  const picked = Array.from({ length: 7 }, () => b.pick(request('k'), list).address);
  assert.deepEqual(picked, ['a:1', 'b:1', 'c:1', 'a:1', 'b:1', 'c:1', 'a:1']);
});

test('round robin keeps one counter per cluster', () => {
  const b = createRoundRobinBalancer();
  const list = servers(['a:1'], ['b:1']);
  assert.equal(b.pick(request('k', 'one'), list).address, 'a:1');
  assert.equal(b.pick(request('k', 'two'), list).address, 'a:1');
  assert.equal(b.pick(request('k', 'one'), list).address, 'b:1');
  assert.equal(b.pick(request('k', 'two'), list).address, 'b:1');
});

test('round robin ignores weights and keys', () => {
  const b = createRoundRobinBalancer();
  const list = servers(['a:1', 1], ['b:1', 1000]);
  const picked = ['x', 'x', 'y', 'y'].map((k) => b.pick(request(k), list).address);
  assert.deepEqual(picked, ['a:1', 'b:1', 'a:1', 'b:1']);
});

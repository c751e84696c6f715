// Least active: fewest in-flight wins, ties go by weighted random, and in a simulated run a slow server
// (its requests stay in flight 10× longer) is steered away from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLeastActiveBalancer, createPrng, type BalancerServer } from '../../src/balancer/index.js';
import { chiSquare, countPicks, request, servers } from './helpers.js';

test('the server with the fewest requests in flight is picked', () => {
  const b = createLeastActiveBalancer(createPrng(1));
  const list = servers(['a:1', 100, 5], ['b:1', 100, 2], ['c:1', 100, 9]);
  for (let i = 0; i < 100; i++) assert.equal(b.pick(request(`k${i}`), list).address, 'b:1');
});

test('ties are broken by weighted random', () => {
  const b = createLeastActiveBalancer(createPrng(4));
  const counts = countPicks(b, servers(['a:1', 100, 1], ['b:1', 300, 1], ['c:1', 100, 7]), 40_000);
  assert.equal(counts.get('c:1'), 0);
  assert.ok(chiSquare([counts.get('a:1') ?? 0, counts.get('b:1') ?? 0], [0.25, 0.75]) < 10.83);
});

test('in a simulated run, a server 10× slower gets far fewer requests', () => {
  // Discrete time: 1 request arrives per tick; a request lasts 2 ticks on fast servers, 20 on the slow one.
  const b = createLeastActiveBalancer(createPrng(8));
  const duration = new Map([['fast1:1', 2], ['fast2:1', 2], ['slow:1', 20]]);
  const inFlight = new Map<string, number[]>([...duration.keys()].map((a) => [a, []]));
  const served = new Map<string, number>([...duration.keys()].map((a) => [a, 0]));
  for (let tick = 0; tick < 30_000; tick++) {
    for (const [a, ends] of inFlight) inFlight.set(a, ends.filter((end) => end > tick));
    const list: BalancerServer[] = [...duration.keys()].map((address) => ({ address, weight: 100, role: 'standalone', inFlight: inFlight.get(address)?.length ?? 0 }));
    const chosen = b.pick(request(`k${tick}`), list).address;
    inFlight.get(chosen)?.push(tick + (duration.get(chosen) ?? 0));
    served.set(chosen, (served.get(chosen) ?? 0) + 1);
  }
  const slowShare = (served.get('slow:1') ?? 0) / 30_000;
  assert.ok(slowShare < 0.15, `slow server share ${slowShare}`);
});

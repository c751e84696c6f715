// Consistent hash: a key stays on one server, adding a server moves ≈ 1/N of the keys (all of them to the
// new server), removing one moves only its keys, the ring follows the Java TreeMap.tailMap rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsistentHashBalancer, fnv1Hash32 } from '../../src/balancer/index.js';
import { request, servers } from './helpers.js';

const KEYS = Array.from({ length: 20_000 }, (_, i) => `user:${i}`);

function assign(virtualNodes: number, addresses: string[]): Map<string, string> {
  const b = createConsistentHashBalancer({ virtualNodes });
  const list = servers(...addresses.map((a): [string] => [a]));
  return new Map(KEYS.map((k) => [k, b.pick(request(k), list).address]));
}

test('a key always goes to the same server', () => {
  const b = createConsistentHashBalancer();
  const list = servers(['10.0.0.1:7379'], ['10.0.0.2:7379'], ['10.0.0.3:7379']);
  for (const key of ['a', 'user:1', 'order:77']) {
    const first = b.pick(request(key), list).address;
    for (let i = 0; i < 50; i++) assert.equal(b.pick(request(key), list).address, first);
    // A fresh balancer (a fresh client) agrees.
    assert.equal(createConsistentHashBalancer().pick(request(key), list).address, first);
  }
});

test('adding a 5th server moves about 1/5 of the keys, and only onto the new server', () => {
  const four = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003', '127.0.0.1:7004'];
  const before = assign(160, four);
  const after = assign(160, [...four, '127.0.0.1:7005']);
  let moved = 0;
  for (const key of KEYS) {
    if (before.get(key) !== after.get(key)) {
      moved++;
      assert.equal(after.get(key), '127.0.0.1:7005');
    }
  }
  const fraction = moved / KEYS.length;
  assert.ok(fraction > 0.13 && fraction < 0.27, `moved ${fraction}`);
});

test('removing a server moves only the keys it held', () => {
  const five = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003', '127.0.0.1:7004', '127.0.0.1:7005'];
  const before = assign(160, five);
  const after = assign(160, five.filter((a) => a !== '127.0.0.1:7003'));
  for (const key of KEYS) if (before.get(key) !== '127.0.0.1:7003') assert.equal(after.get(key), before.get(key));
});

test('160 virtual nodes spread keys within ±35% of an even share', () => {
  const addresses = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003', '127.0.0.1:7004'];
  const counts = new Map<string, number>();
  for (const owner of assign(160, addresses).values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  for (const a of addresses) {
    const share = (counts.get(a) ?? 0) / KEYS.length;
    assert.ok(share > 0.25 * 0.65 && share < 0.25 * 1.35, `${a}: ${share}`);
  }
});

test('the ring is the Java TreeMap rule: first virtual node with hash ≥ key hash, else the first one', () => {
  const addresses = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];
  const virtualNodes = 3;
  const ring: Array<[number, string]> = [];
  const seen = new Map<number, string>();
  for (let s = addresses.length - 1; s >= 0; s--) for (let v = 0; v < virtualNodes; v++) seen.set(fnv1Hash32(`${addresses[s]}#${v}`), addresses[s] as string);
  for (const entry of seen) ring.push(entry);
  ring.sort((x, y) => x[0] - y[0]);
  const b = createConsistentHashBalancer({ virtualNodes });
  const list = servers(...addresses.map((a): [string] => [a]));
  for (const key of KEYS.slice(0, 2000)) {
    const h = fnv1Hash32(key);
    const expected = (ring.find(([p]) => p >= h) ?? ring[0])?.[1];
    assert.equal(b.pick(request(key), list).address, expected);
  }
});

test('the ring lookup matches the TreeMap rule on larger rings, also for keys hashing exactly onto ring points', () => {
  for (const [count, virtualNodes] of [[2, 1], [5, 160], [7, 1000]] as const) {
    const addresses = Array.from({ length: count }, (_, i) => `10.0.${i}.9:7379`);
    const owner = new Map<number, string>();
    for (let s = addresses.length - 1; s >= 0; s--) for (let v = 0; v < virtualNodes; v++) owner.set(fnv1Hash32(`${addresses[s]}#${v}`), addresses[s] as string);
    const points = [...owner.keys()].sort((x, y) => x - y);
    const expected = (key: string): string => {
      const h = fnv1Hash32(key);
      let lo = 0;
      let hi = points.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if ((points[mid] as number) < h) lo = mid + 1; else hi = mid; }
      return owner.get(points[lo === points.length ? 0 : lo] as number) as string;
    };
    const b = createConsistentHashBalancer({ virtualNodes });
    const list = servers(...addresses.map((a): [string] => [a]));
    const onPoints = addresses.flatMap((a) => Array.from({ length: Math.min(virtualNodes, 200) }, (_, v) => `${a}#${v}`));
    for (const key of [...KEYS.slice(0, 3000), ...onPoints, ...onPoints.map((k) => `${k}x`), '']) {
      assert.equal(b.pick(request(key), list).address, expected(key), `key ${key} (${count} servers × ${virtualNodes})`);
    }
  }
});

test('one server takes every key (no ring needed); an empty list is an error', () => {
  const b = createConsistentHashBalancer();
  const list = servers(['127.0.0.1:7001']);
  for (const key of KEYS.slice(0, 100)) assert.equal(b.pick(request(key), list), list[0]);
  assert.throws(() => b.pick(request('k'), []), RangeError);
});

test('virtualNodes is configurable and validated', () => {
  assert.throws(() => createConsistentHashBalancer({ virtualNodes: 0 }), RangeError);
  const one = assign(1, ['127.0.0.1:7001', '127.0.0.1:7002']);
  assert.equal(new Set(one.values()).size, 2);
});

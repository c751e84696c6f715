// Consistent hash (notes §3.4) of the request key on a ring of virtual nodes: each server is placed at
// fnv1Hash32(`${address}#${i}`) for i < virtualNodes (default 160); a key goes to the first ring point
// ≥ its hash, wrapping to the first point. On a hash collision the server earlier in the list wins (the
// original fills its TreeMap from the end). The ring is cached per server list (same addresses → same ring);
// callers must not mutate a list array after passing it (the client replaces its array on every change).
import type { Balancer, BalancerRequest, BalancerServer } from './types.js';
import { fnv1Hash32 } from './fnv1-hash.js';

export const DEFAULT_VIRTUAL_NODES = 160;

export interface ConsistentHashOptions {
  virtualNodes?: number;
}

interface Ring {
  /** Ascending ring points. */
  readonly points: Int32Array;
  /** owners[i] is the index (in the server list) of the server at points[i]. */
  readonly owners: Uint32Array;
  /**
   * Search index over the non-negative hashes, which split into 2^bucketBits equal buckets by their top bits:
   * bucketStart[b] is the index of the first point ≥ the bucket's lowest hash, bucketStart[last + 1] =
   * points.length. A key's ceiling lies in [bucketStart[b], bucketStart[b + 1]], a range of about two
   * points, so a lookup is a table read and a step or two instead of a binary search over the whole ring.
   */
  readonly bucketStart: Uint32Array;
  /** 31 − bucketBits: `hash >>> bucketShift` is the bucket of a non-negative hash. */
  readonly bucketShift: number;
}

export function virtualNodeName(address: string, index: number): string {
  return `${address}#${index}`;
}

function buildRing(addresses: readonly string[], virtualNodes: number): Ring {
  const byPoint = new Map<number, number>();
  for (let s = addresses.length - 1; s >= 0; s--) {
    const address = addresses[s] as string;
    for (let v = 0; v < virtualNodes; v++) byPoint.set(fnv1Hash32(virtualNodeName(address, v)), s);
  }
  const points = Int32Array.from(byPoint.keys()).sort();
  const owners = Uint32Array.from(points, (p) => byPoint.get(p) as number);
  // About two buckets per point, between 2^8 and 2^16 buckets.
  const bucketBits = Math.min(16, Math.max(8, Math.ceil(Math.log2(points.length)) + 1));
  const bucketShift = 31 - bucketBits;
  const buckets = 2 ** bucketBits;
  const bucketStart = new Uint32Array(buckets + 1);
  let i = 0;
  for (let b = 0; b < buckets; b++) {
    const low = b * 2 ** bucketShift; // lowest hash of bucket b, ≤ 2^31 − 2^bucketShift
    while (i < points.length && (points[i] as number) < low) i++;
    bucketStart[b] = i;
  }
  bucketStart[buckets] = points.length;
  return { points, owners, bucketStart, bucketShift };
}

/** Index of the first point ≥ hash, or 0 when every point is below it (the ring wraps). */
function ceilingIndex(ring: Ring, hash: number): number {
  // The only negative hash is −2^31 (Java's Math.abs corner case): every point is ≥ it.
  if (hash < 0) return 0;
  const { points, bucketStart } = ring;
  const bucket = hash >>> ring.bucketShift;
  let lo = bucketStart[bucket] as number;
  let hi = bucketStart[bucket + 1] as number;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((points[mid] as number) < hash) lo = mid + 1;
    else hi = mid;
  }
  return lo === points.length ? 0 : lo;
}

export function createConsistentHashBalancer(options: ConsistentHashOptions = {}): Balancer {
  const virtualNodes = options.virtualNodes ?? DEFAULT_VIRTUAL_NODES;
  if (!Number.isInteger(virtualNodes) || virtualNodes < 1 || virtualNodes > 10_000) {
    throw new RangeError(`consistent hash: virtualNodes must be an integer in [1, 10000], got ${virtualNodes}`);
  }
  let cachedKey = '';
  let cachedList: readonly BalancerServer[] | undefined;
  let cachedRing: Ring | undefined;
  return {
    name: 'consistent-hash',
    pick<S extends BalancerServer>(request: BalancerRequest, servers: readonly S[]): S {
      if (servers.length <= 1) {
        // One server owns every ring point: the key needs no hashing.
        if (servers.length === 1) return servers[0] as S;
        throw new RangeError('consistent hash: empty server list');
      }
      // Same array as last time → same ring (the client passes a stable array); otherwise compare addresses.
      if (cachedRing === undefined || servers !== cachedList) {
        const listKey = servers.map((s) => s.address).join('\n');
        if (cachedRing === undefined || listKey !== cachedKey) cachedRing = buildRing(servers.map((s) => s.address), virtualNodes);
        cachedKey = listKey;
        cachedList = servers;
      }
      const i = ceilingIndex(cachedRing, fnv1Hash32(request.key ?? ''));
      return servers[cachedRing.owners[i] as number] as S;
    },
  };
}

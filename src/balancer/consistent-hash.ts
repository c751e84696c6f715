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
  return { points, owners };
}

/** Index of the first point ≥ hash, or 0 when every point is below it (the ring wraps). */
function ceilingIndex(points: Int32Array, hash: number): number {
  let lo = 0;
  let hi = points.length;
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
      const i = ceilingIndex(cachedRing.points, fnv1Hash32(request.key ?? ''));
      return servers[cachedRing.owners[i] as number] as S;
    },
  };
}

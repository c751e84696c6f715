// Round robin (notes §3.3), the one stateful balancer: one int32 counter per cluster starting at −1,
// incremented before use; index = |counter mod n| (Java semantics, so the counter may wrap past 2^31 − 1).
import type { Balancer, BalancerRequest, BalancerServer } from './types.js';

export function createRoundRobinBalancer(): Balancer {
  const counters = new Map<string, number>();
  return {
    name: 'round-robin',
    pick<S extends BalancerServer>(request: BalancerRequest, servers: readonly S[]): S {
      const counter = ((counters.get(request.cluster) ?? -1) + 1) | 0;
      counters.set(request.cluster, counter);
      const server = servers[Math.abs(counter % servers.length)];
      if (server === undefined) throw new RangeError('round robin: empty server list');
      return server;
    },
  };
}

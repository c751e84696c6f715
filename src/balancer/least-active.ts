// Least active (notes §3.5): the server with the fewest requests in flight from this client; ties are
// broken by weighted random, so an idle cluster still spreads load by weight.
import type { Balancer, BalancerRequest, BalancerServer } from './types.js';
import type { RandomSource } from './prng.js';
import { pickWeighted } from './weighted-random.js';

export function createLeastActiveBalancer(random: RandomSource): Balancer {
  return {
    name: 'least-active',
    pick<S extends BalancerServer>(_request: BalancerRequest, servers: readonly S[]): S {
      let least = Infinity;
      for (const server of servers) least = Math.min(least, server.inFlight);
      return pickWeighted(random, servers.filter((s) => s.inFlight === least));
    },
  };
}

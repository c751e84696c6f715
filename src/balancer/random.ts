// Simple random: every server equally likely, whatever its weight (notes §3.1).
import type { Balancer, BalancerRequest, BalancerServer } from './types.js';
import { randomInt, type RandomSource } from './prng.js';

export function createRandomBalancer(random: RandomSource): Balancer {
  return {
    name: 'random',
    pick<S extends BalancerServer>(_request: BalancerRequest, servers: readonly S[]): S {
      const server = servers[randomInt(random, servers.length)];
      if (server === undefined) throw new RangeError('random balancer: empty server list');
      return server;
    },
  };
}

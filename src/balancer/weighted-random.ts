// Weighted random (notes §3.2): draw r in [0, sum of weights) and walk the list from its end, as the
// original does, until the running total exceeds r. Weight −1 counts as DEFAULT_WEIGHT, so a cluster
// with no weights set is uniform; weight 0 is never picked unless every weight is 0 (then uniform).
import { effectiveWeight, type Balancer, type BalancerRequest, type BalancerServer } from './types.js';
import { randomInt, type RandomSource } from './prng.js';

/** Picks from `servers` with probability proportional to weight; exported for least-active's ties. */
export function pickWeighted<S extends BalancerServer>(random: RandomSource, servers: readonly S[]): S {
  if (servers.length === 0) throw new RangeError('weighted random: empty server list');
  let sum = 0;
  for (const server of servers) sum += effectiveWeight(server);
  if (sum === 0) return servers[randomInt(random, servers.length)] as S;
  const r = randomInt(random, sum);
  let total = 0;
  for (let i = servers.length - 1; i >= 0; i--) {
    const server = servers[i] as S;
    total += effectiveWeight(server);
    if (total > r) return server;
  }
  return servers[0] as S;
}

export function createWeightedRandomBalancer(random: RandomSource): Balancer {
  return {
    name: 'weighted-random',
    pick: <S extends BalancerServer>(_request: BalancerRequest, servers: readonly S[]): S => pickWeighted(random, servers),
  };
}

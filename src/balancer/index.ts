// Balancer registry: names → factories, plus the types for custom balancers. A custom balancer is any
// object implementing `Balancer`; it is used as given (the client never wraps or copies it).
import type { Balancer } from './types.js';
import { createPrng, type RandomSource } from './prng.js';
import { createRandomBalancer } from './random.js';
import { createWeightedRandomBalancer } from './weighted-random.js';
import { createRoundRobinBalancer } from './round-robin.js';
import { createConsistentHashBalancer } from './consistent-hash.js';
import { createLeastActiveBalancer } from './least-active.js';

export type { Balancer, BalancerRequest, BalancerServer } from './types.js';
export { DEFAULT_WEIGHT, effectiveWeight } from './types.js';
export { createPrng, randomInt, type RandomSource } from './prng.js';
export { fnv1Hash32, javaAbsInt } from './fnv1-hash.js';
export { createRandomBalancer } from './random.js';
export { createWeightedRandomBalancer, pickWeighted } from './weighted-random.js';
export { createRoundRobinBalancer } from './round-robin.js';
export { createConsistentHashBalancer, DEFAULT_VIRTUAL_NODES, type ConsistentHashOptions } from './consistent-hash.js';
export { createLeastActiveBalancer } from './least-active.js';

export const BALANCER_NAMES = ['random', 'weighted-random', 'round-robin', 'consistent-hash', 'least-active'] as const;
export type BalancerName = (typeof BALANCER_NAMES)[number];

export interface BalancerOptions {
  /** Source of randomness (random, weighted random, least-active ties); pass a seeded one for reproducibility. */
  random?: RandomSource;
  /** Consistent hash: virtual nodes per server (default 160). */
  virtualNodes?: number;
}

export function isBalancerName(name: string): name is BalancerName {
  return (BALANCER_NAMES as readonly string[]).includes(name);
}

/** `seed` feeds the default random source when `options.random` is not given; the caller picks it. */
export function createBalancer(name: BalancerName, seed: number, options: BalancerOptions = {}): Balancer {
  const random = options.random ?? createPrng(seed);
  switch (name) {
    case 'random': return createRandomBalancer(random);
    case 'weighted-random': return createWeightedRandomBalancer(random);
    case 'round-robin': return createRoundRobinBalancer();
    case 'consistent-hash':
      return createConsistentHashBalancer(options.virtualNodes === undefined ? {} : { virtualNodes: options.virtualNodes });
    case 'least-active': return createLeastActiveBalancer(random);
  }
}

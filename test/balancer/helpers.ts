// Shared fixtures for balancer tests: server lists and a pick-counting loop.
import type { Balancer, BalancerRequest, BalancerServer } from '../../src/balancer/index.js';

export function servers(...specs: Array<[address: string, weight?: number, inFlight?: number]>): BalancerServer[] {
  return specs.map(([address, weight = 100, inFlight = 0]) => ({ address, weight, role: 'standalone', inFlight }));
}

export function request(key?: string, cluster = 'default'): BalancerRequest {
  return { key, cluster, write: false };
}

/** Picks `n` times (key `k<i>`) and returns how often each address was chosen. */
export function countPicks(balancer: Balancer, list: readonly BalancerServer[], n: number): Map<string, number> {
  const counts = new Map<string, number>(list.map((s) => [s.address, 0]));
  for (let i = 0; i < n; i++) {
    const chosen = balancer.pick(request(`k${i}`), list);
    counts.set(chosen.address, (counts.get(chosen.address) ?? 0) + 1);
  }
  return counts;
}

/** Pearson's chi-square statistic of observed counts against expected proportions. */
export function chiSquare(observed: readonly number[], proportions: readonly number[]): number {
  const total = observed.reduce((a, b) => a + b, 0);
  let chi = 0;
  observed.forEach((o, i) => {
    const e = total * (proportions[i] as number);
    chi += ((o - e) * (o - e)) / e;
  });
  return chi;
}

// The balancer contract from the original design: a function of (request, server list) → server.
// Balancers are pure (no I/O, no clock, no Math.random); randomness comes from a seeded source passed in,
// and round robin is the only one that keeps state of its own (a counter per cluster).

/** A server as a balancer sees it. `weight` −1 means "no weight set" and counts as the default weight. */
export interface BalancerServer {
  /** host:port the client connects to; unique within a list. */
  readonly address: string;
  /** Relative weight, an integer ≥ −1; −1 = not set (counts as DEFAULT_WEIGHT); 0 = only when all are 0. */
  readonly weight: number;
  /** Role the server reports: 'standalone', 'leader', 'follower', … ('unknown' when not reported). */
  readonly role: string;
  /** Requests this client has in flight on the server (least-active uses it; others ignore it). */
  readonly inFlight: number;
}

/** What a balancer may look at in a request. */
export interface BalancerRequest {
  /** The key the request is about (first key of a multi-key command); undefined for keyless commands. */
  readonly key: string | undefined;
  /** The cluster the server list belongs to (round robin keeps one counter per cluster). */
  readonly cluster: string;
  /** True when the request changes data. */
  readonly write: boolean;
}

export interface Balancer {
  readonly name: string;
  /** Picks one of `servers` (never empty: callers check first). Returns an element of `servers`. */
  pick<S extends BalancerServer>(request: BalancerRequest, servers: readonly S[]): S;
}

/** The weight a server with weight −1 ("not set") counts as; also the registry's default weight. */
export const DEFAULT_WEIGHT = 100;

export function effectiveWeight(server: BalancerServer): number {
  return server.weight === -1 ? DEFAULT_WEIGHT : Math.max(0, server.weight);
}

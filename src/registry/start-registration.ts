// What `caskdb server` calls: register this server in ZooKeeper from its `registry.*` config, keep the
// node current (role changes), and remove it on graceful shutdown. Never blocks or fails server startup
// because ZooKeeper is down: registration happens in the background and retries with backoff.
import { ZooKeeperRegistry } from './zookeeper-registry.js';
import { DEFAULT_CLUSTER, DEFAULT_ROOT, isAddress, type Registration, type Registry } from './types.js';
import { DEFAULT_WEIGHT } from '../balancer/types.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import { version as caskdbVersion } from '../util/version.js';

export interface RegistrationConfig {
  /** `registry.zookeeper`: connect string host:port[,host:port…]. */
  zookeeper: string;
  /** `registry.root`, default /caskdb. */
  root?: string;
  /** `registry.cluster`, default `default`. */
  cluster?: string;
  /** `registry.weight`, default 100; −1 = no weight. */
  weight?: number;
  /** `registry.advertise`: host:port clients should use (defaults to the server's bind:port, see below). */
  advertise: string;
  /** Role to publish first: 'standalone' for a standalone server; a Raft node passes its current role. */
  role?: string;
  /** `registry.sessionTimeoutMs`, default 10 000 (how fast a crashed server disappears). */
  sessionTimeoutMs?: number;
  log?: (line: string) => void;
  /** For tests: a registry to use instead of connecting to ZooKeeper. */
  registry?: Registry;
}

export interface ServerRegistration {
  /** Resolves when the node exists for the first time. */
  readonly registered: Promise<void>;
  /** Publishes a role change (Raft: leader/follower/candidate). */
  setRole(role: string): Promise<void>;
  /** Deletes the node and closes the session (bounded: returns within a few seconds even if ZooKeeper is down). */
  stop(): Promise<void>;
}

/** The address to advertise: `registry.advertise`, else bind:port unless bind is a wildcard. */
export function advertiseAddress(advertise: string | undefined, bind: string, port: number): string {
  if (advertise !== undefined && advertise !== '') return advertise;
  if (bind === '0.0.0.0' || bind === '::' || bind === '') {
    throw new CaskError(ErrorCode.Config, `registry.advertise is required when binding to '${bind}' (clients need a reachable host:port)`);
  }
  return bind.includes(':') ? `[${bind}]:${port}` : `${bind}:${port}`;
}

export function startRegistration(config: RegistrationConfig): ServerRegistration {
  if (!isAddress(config.advertise)) throw new CaskError(ErrorCode.Config, `registry.advertise must be host:port, got '${config.advertise}'`);
  const weight = config.weight ?? DEFAULT_WEIGHT;
  if (!Number.isInteger(weight) || weight < -1) throw new CaskError(ErrorCode.Config, `registry.weight must be an integer ≥ −1, got ${weight}`);
  const registry = config.registry ?? new ZooKeeperRegistry({
    connect: config.zookeeper,
    root: config.root ?? DEFAULT_ROOT,
    ...(config.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: config.sessionTimeoutMs }),
    ...(config.log === undefined ? {} : { log: config.log }),
  });
  const registration: Registration = registry.register(config.cluster ?? DEFAULT_CLUSTER, config.advertise, {
    weight,
    role: config.role ?? 'standalone',
    version: caskdbVersion,
    startedAt: new Date().toISOString(),
  });
  let stopped: Promise<void> | undefined;
  return {
    registered: registration.registered,
    setRole: (role) => registration.update({ role }),
    stop: () => (stopped ??= registry.close()),
  };
}

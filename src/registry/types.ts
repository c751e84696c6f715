// The registry contract shared by the ZooKeeper and in-memory implementations (one conformance suite runs
// against both). A registry session owns ephemeral registrations: they vanish when the session ends and are
// re-created by the implementation after a session expiry. Watches deliver the whole current list.
import { DEFAULT_WEIGHT } from '../balancer/types.js';

export const DEFAULT_ROOT = '/caskdb';
export const DEFAULT_CLUSTER = 'default';

/** The JSON document stored in `/<root>/<cluster>/<host:port>`. */
export interface RegistrationData {
  /** Integer ≥ −1; −1 = no weight (counts as the default, 100). */
  weight: number;
  /** 'standalone', 'leader', 'follower', 'candidate', … */
  role: string;
  /** caskdb version of the server. */
  version: string;
  /** ISO-8601 time the server process started. */
  startedAt: string;
}

export interface ServerRecord {
  /** host:port, the znode's name. */
  readonly address: string;
  readonly data: RegistrationData;
}

export interface Registration {
  readonly cluster: string;
  readonly address: string;
  /** Resolves when the node has been created for the first time (never rejects; may stay pending while unreachable). */
  readonly registered: Promise<void>;
  /** Changes the stored data (e.g. the role); applied at once when connected, on reconnect otherwise. */
  update(patch: Partial<RegistrationData>): Promise<void>;
  /** Deletes the node and stops maintaining it. */
  unregister(): Promise<void>;
}

export type ServersListener = (servers: readonly ServerRecord[]) => void;

export interface RegistryWatch {
  /** The last list delivered, or undefined before the first one. Kept while the registry is unreachable. */
  readonly current: readonly ServerRecord[] | undefined;
  close(): void;
}

export interface Registry {
  readonly root: string;
  /** Starts maintaining the ephemeral node /<root>/<cluster>/<address>; returns at once. */
  register(cluster: string, address: string, data: RegistrationData): Registration;
  /** The cluster's servers, sorted by address; [] when the cluster has none. Rejects when unreachable. */
  list(cluster: string): Promise<ServerRecord[]>;
  /** Calls `listener` with the sorted list now and after every change (children added/removed, data changed). */
  watch(cluster: string, listener: ServersListener): RegistryWatch;
  /** Ends the session: its registrations vanish, its watches stop. */
  close(): Promise<void>;
}

/** `host:port` with a non-empty host and a port in 1..65535 (no slashes: it is a znode name). */
export function isAddress(address: string): boolean {
  const m = /^([^/\s:]+|\[[0-9a-fA-F:.]+\]):(\d{1,5})$/.exec(address);
  if (m === null) return false;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535;
}

export function isClusterName(name: string): boolean {
  return /^[A-Za-z0-9._-]+$/.test(name) && name !== '.' && name !== '..';
}

/** Parses a node's data leniently: bytes from the network are never asserted on; bad fields get defaults. */
export function parseRegistrationData(bytes: Uint8Array | undefined): RegistrationData {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes ?? new Uint8Array()).toString('utf8'));
  } catch {
    raw = undefined;
  }
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const weight = typeof o['weight'] === 'number' && Number.isInteger(o['weight']) && o['weight'] >= -1 ? o['weight'] : DEFAULT_WEIGHT;
  return {
    weight,
    role: typeof o['role'] === 'string' && o['role'] !== '' ? o['role'] : 'unknown',
    version: typeof o['version'] === 'string' ? o['version'] : '',
    startedAt: typeof o['startedAt'] === 'string' ? o['startedAt'] : '',
  };
}

export function encodeRegistrationData(data: RegistrationData): Buffer {
  return Buffer.from(JSON.stringify({ weight: data.weight, role: data.role, version: data.version, startedAt: data.startedAt }));
}

export function sortServers(servers: ServerRecord[]): ServerRecord[] {
  return servers.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

export function sameServers(a: readonly ServerRecord[] | undefined, b: readonly ServerRecord[]): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

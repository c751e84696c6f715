// Where the client's server list comes from: a fixed list, or a registry watch (ZooKeeper or any
// Registry). The list is kept as last delivered: while ZooKeeper is unreachable the last known list stays.
import type { Registry, RegistryWatch, ServerRecord } from '../registry/types.js';
import { DEFAULT_WEIGHT } from '../balancer/types.js';

export interface ServerSource {
  /** Resolves when a first list is known. */
  readonly ready: Promise<void>;
  readonly current: readonly ServerRecord[];
  onChange(listener: (servers: readonly ServerRecord[]) => void): void;
  close(): Promise<void>;
}

export function staticSource(addresses: readonly string[]): ServerSource {
  const current = addresses.map((address) => ({ address, data: { weight: DEFAULT_WEIGHT, role: 'unknown', version: '', startedAt: '' } }));
  return { ready: Promise.resolve(), current, onChange: () => undefined, close: async () => undefined };
}

export function registrySource(registry: Registry, cluster: string, ownsRegistry: boolean): ServerSource {
  let current: readonly ServerRecord[] = [];
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  const listeners: Array<(servers: readonly ServerRecord[]) => void> = [];
  const watch: RegistryWatch = registry.watch(cluster, (servers) => {
    current = servers;
    resolveReady();
    for (const l of listeners) l(servers);
  });
  return {
    ready,
    get current() { return current; },
    onChange: (listener) => void listeners.push(listener),
    close: async () => {
      watch.close();
      if (ownsRegistry) await registry.close();
    },
  };
}

// In-memory registry with ZooKeeper's semantics, for tests and single-process setups: a hub holds the
// nodes; each `connect()` is a session owning its ephemeral nodes. Closing a session removes them;
// `expire()` removes them and the session re-creates them, as the ZooKeeper registry does after expiry.
// Notifications are delivered asynchronously (a microtask later), like ZooKeeper watch events.
import {
  isAddress, isClusterName, sameServers, sortServers, DEFAULT_ROOT,
  type Registration, type RegistrationData, type Registry, type RegistryWatch, type ServerRecord, type ServersListener,
} from './types.js';
import { CaskError, ErrorCode } from '../util/errors.js';

interface MemoryNode {
  data: RegistrationData;
  owner: MemoryRegistry;
}

export class MemoryRegistryHub {
  readonly root: string;
  /** cluster → address → node */
  private readonly clusters = new Map<string, Map<string, MemoryNode>>();
  private readonly watchers = new Set<{ cluster: string; notify(): void }>();
  private readonly sessions = new Set<MemoryRegistry>();
  /** While true, every session behaves as if the registry were unreachable. */
  private down = false;

  constructor(root: string = DEFAULT_ROOT) {
    this.root = root;
  }

  connect(): MemoryRegistry {
    const session = new MemoryRegistry(this);
    this.sessions.add(session);
    return session;
  }

  /** Ends `session`'s ephemeral nodes as a session expiry would; the session then re-registers. */
  expire(session: MemoryRegistry): void {
    this.dropOwnedBy(session);
    // Re-register a moment later, as a ZooKeeper client does after learning of the expiry on reconnect.
    setTimeout(() => session.reRegister(), 10);
  }

  setReachable(reachable: boolean): void {
    this.down = !reachable;
    if (!reachable) return;
    for (const session of this.sessions) session.reRegister();
    for (const w of this.watchers) w.notify();
  }

  get reachable(): boolean {
    return !this.down;
  }

  /** @internal */
  read(cluster: string): ServerRecord[] {
    const nodes = this.clusters.get(cluster);
    if (nodes === undefined) return [];
    return sortServers([...nodes].map(([address, node]) => ({ address, data: { ...node.data } })));
  }

  /** @internal Creates or takes over the node (a node left by another session for the same address). */
  put(cluster: string, address: string, data: RegistrationData, owner: MemoryRegistry): void {
    let nodes = this.clusters.get(cluster);
    if (nodes === undefined) this.clusters.set(cluster, (nodes = new Map()));
    nodes.set(address, { data: { ...data }, owner });
    this.changed(cluster);
  }

  /** @internal */
  remove(cluster: string, address: string, owner: MemoryRegistry): void {
    const nodes = this.clusters.get(cluster);
    if (nodes?.get(address)?.owner !== owner) return;
    nodes.delete(address);
    this.changed(cluster);
  }

  /** @internal */
  closed(session: MemoryRegistry): void {
    this.sessions.delete(session);
    this.dropOwnedBy(session);
  }

  /** @internal */
  dropOwnedBy(owner: MemoryRegistry): void {
    for (const [cluster, nodes] of this.clusters) {
      let changed = false;
      for (const [address, node] of nodes) if (node.owner === owner) { nodes.delete(address); changed = true; }
      if (changed) this.changed(cluster);
    }
  }

  /** @internal */
  addWatcher(w: { cluster: string; notify(): void }): () => void {
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  private changed(cluster: string): void {
    for (const w of this.watchers) if (w.cluster === cluster) w.notify();
  }
}

class MemoryRegistration implements Registration {
  readonly registered: Promise<void>;
  private resolveRegistered!: () => void;
  active = true;

  constructor(private readonly session: MemoryRegistry, readonly cluster: string, readonly address: string, public data: RegistrationData) {
    this.registered = new Promise((resolve) => (this.resolveRegistered = resolve));
  }

  /** Writes the node if the hub is reachable; otherwise the next `sync` (on reachability) does. */
  sync(): void {
    if (!this.active || !this.session.hub.reachable || this.session.closed) return;
    this.session.hub.put(this.cluster, this.address, this.data, this.session);
    this.resolveRegistered();
  }

  async update(patch: Partial<RegistrationData>): Promise<void> {
    this.data = { ...this.data, ...patch };
    this.sync();
  }

  async unregister(): Promise<void> {
    this.active = false;
    this.session.forget(this);
    this.session.hub.remove(this.cluster, this.address, this.session);
  }
}

export class MemoryRegistry implements Registry {
  readonly root: string;
  closed = false;
  private readonly registrations = new Set<MemoryRegistration>();
  private readonly unwatchers = new Set<() => void>();

  constructor(readonly hub: MemoryRegistryHub) {
    this.root = hub.root;
  }

  register(cluster: string, address: string, data: RegistrationData): Registration {
    if (!isClusterName(cluster)) throw new CaskError(ErrorCode.InvalidArgument, `bad cluster name '${cluster}'`);
    if (!isAddress(address)) throw new CaskError(ErrorCode.InvalidArgument, `bad server address '${address}' (want host:port)`);
    const registration = new MemoryRegistration(this, cluster, address, { ...data });
    this.registrations.add(registration);
    queueMicrotask(() => registration.sync());
    return registration;
  }

  async list(cluster: string): Promise<ServerRecord[]> {
    if (this.closed) throw new CaskError(ErrorCode.Closed, 'registry session closed');
    if (!this.hub.reachable) throw new CaskError(ErrorCode.Timeout, 'registry unreachable');
    return this.hub.read(cluster);
  }

  watch(cluster: string, listener: ServersListener): RegistryWatch {
    let current: readonly ServerRecord[] | undefined;
    let scheduled = false;
    let open = true;
    const deliver = (): void => {
      scheduled = false;
      if (!open || this.closed || !this.hub.reachable) return;
      const list = this.hub.read(cluster);
      if (sameServers(current, list)) return;
      current = list;
      listener(list);
    };
    const notify = (): void => {
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(deliver);
    };
    const unwatch = this.hub.addWatcher({ cluster, notify });
    this.unwatchers.add(unwatch);
    notify();
    return {
      get current() { return current; },
      close: () => { open = false; unwatch(); this.unwatchers.delete(unwatch); },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const unwatch of this.unwatchers) unwatch();
    this.unwatchers.clear();
    this.registrations.clear();
    this.hub.closed(this);
  }

  /** @internal */
  forget(registration: MemoryRegistration): void {
    this.registrations.delete(registration);
  }

  /** @internal Re-creates this session's nodes (after expiry or when the hub becomes reachable). */
  reRegister(): void {
    for (const r of this.registrations) r.sync();
  }
}

// The ZooKeeper registry: one session at a time, replaced by a fresh one after expiry. Registrations are
// ephemeral znodes /<root>/<cluster>/<host:port> kept in their desired state by a single-flight sync loop
// (create, take over a stale node of a dead session, update, delete); watches re-arm on every event
// (ZooKeeper watches fire once) and re-read everything on each (re)connection. While ZooKeeper is
// unreachable nothing fails: registrations wait and retry with backoff, watches keep their last list, and
// the outage is logged once per outage.
import {
  DEFAULT_ROOT, encodeRegistrationData, isAddress, isClusterName, parseRegistrationData, sameServers, sortServers,
  type Registration, type RegistrationData, type Registry, type RegistryWatch, type ServerRecord, type ServersListener,
} from './types.js';
import {
  abandonZkClient, createZkClient, guardHandshake, zkCreate, zkErrorCode, zkExists, zkGetChildren, zkGetData, zkMkdirp, zkRemove, zkSetData,
  ZkCode, ZkState, type ZkClient, type ZkEvent,
} from './zk-client.js';
import { Backoff } from './backoff.js';
import { CaskError, ErrorCode } from '../util/errors.js';

export interface ZooKeeperRegistryOptions {
  /** Connect string: host:port[,host:port…] */
  connect: string;
  /** Root path, default /caskdb. */
  root?: string;
  /** Requested session timeout; ZooKeeper bounds it to [2, 20] × its tickTime. Default 10 000. */
  sessionTimeoutMs?: number;
  /** How long `list()` waits for a connection and answers. Default 5 000. */
  operationTimeoutMs?: number;
  /** Where the few operational lines go (outage, recovery, expiry). Default: stderr. */
  log?: (line: string) => void;
}

export function validateRoot(root: string): string {
  if (!/^(\/[A-Za-z0-9._-]+)+$/.test(root)) throw new CaskError(ErrorCode.Config, `registry root must be an absolute znode path like /caskdb, got '${root}'`);
  return root;
}

function isConnectionProblem(error: unknown): boolean {
  const code = zkErrorCode(error);
  return code === ZkCode.connectionLoss || code === ZkCode.sessionExpired || code === undefined;
}

/** Runs `job` one at a time; a kick during a run makes the loop go round once more. */
class SingleFlight {
  private dirty = false;
  private running: Promise<void> | undefined;

  constructor(private readonly job: () => Promise<void>) {}

  kick(): Promise<void> {
    this.dirty = true;
    this.running ??= this.loop().finally(() => (this.running = undefined));
    return this.running;
  }

  private async loop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      await this.job();
    }
  }
}

class ZkRegistration implements Registration {
  readonly registered: Promise<void>;
  readonly path: string;
  active = true;
  private resolveRegistered!: () => void;
  private readonly flight = new SingleFlight(() => this.syncOnce());
  private readonly backoff = new Backoff({ baseMs: 100, maxMs: 10_000 });
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly registry: ZooKeeperRegistry, readonly cluster: string, readonly address: string, private data: RegistrationData) {
    this.path = `${registry.root}/${cluster}/${address}`;
    this.registered = new Promise((resolve) => (this.resolveRegistered = resolve));
  }

  kick(): Promise<void> {
    return this.flight.kick();
  }

  async update(patch: Partial<RegistrationData>): Promise<void> {
    this.data = { ...this.data, ...patch };
    await this.kick();
  }

  async unregister(): Promise<void> {
    this.active = false;
    await this.kick();
    this.registry.forget(this);
  }

  stop(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private async syncOnce(): Promise<void> {
    const client = this.registry.liveClient();
    if (client === undefined) return; // re-kicked on (re)connection
    try {
      if (this.active) await this.ensureNode(client);
      else await this.removeOwnNode(client);
      this.backoff.reset();
    } catch (error) {
      if (this.registry.liveClient() !== client) return; // the session changed; the new one re-kicks
      const delayMs = this.backoff.next();
      if (this.backoff.failures === 1) this.registry.log(`registry: cannot write ${this.path} (${String(error)}); retrying with backoff`);
      this.stop();
      this.retryTimer = setTimeout(() => void this.kick(), delayMs);
    }
  }

  private async ensureNode(client: ZkClient): Promise<void> {
    const bytes = encodeRegistrationData(this.data);
    await zkMkdirp(client, `${this.registry.root}/${this.cluster}`);
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        await zkCreate(client, this.path, bytes, true);
        this.resolveRegistered();
        return;
      } catch (error) {
        if (zkErrorCode(error) !== ZkCode.nodeExists) throw error;
      }
      const stat = await zkExists(client, this.path);
      if (stat === undefined) continue;
      if (stat.ephemeralOwner.equals(client.getSessionId())) {
        await zkSetData(client, this.path, bytes, -1);
        this.resolveRegistered();
        return;
      }
      // Left by an earlier session of this address (a crashed or restarted server whose session has not
      // expired yet): this process owns the address now, so take the node over.
      try {
        await zkRemove(client, this.path, stat.version);
      } catch (error) {
        const code = zkErrorCode(error);
        if (code !== ZkCode.noNode && code !== ZkCode.badVersion) throw error;
      }
    }
    throw new CaskError(ErrorCode.Io, `could not take over ${this.path}: another live session keeps re-creating it`);
  }

  private async removeOwnNode(client: ZkClient): Promise<void> {
    const stat = await zkExists(client, this.path);
    if (stat === undefined || !stat.ephemeralOwner.equals(client.getSessionId())) return;
    try {
      await zkRemove(client, this.path, -1);
    } catch (error) {
      if (zkErrorCode(error) !== ZkCode.noNode) throw error;
    }
  }
}

class ZkWatch implements RegistryWatch {
  current: readonly ServerRecord[] | undefined;
  open = true;
  private readonly path: string;
  private readonly flight = new SingleFlight(() => this.refreshOnce());
  private readonly backoff = new Backoff({ baseMs: 100, maxMs: 5_000 });
  private retryTimer: NodeJS.Timeout | undefined;
  /** One function for every path: node-zookeeper-client keeps a watcher once per (path, function). */
  private readonly onEvent = (_event: ZkEvent): void => void this.kick();

  constructor(private readonly registry: ZooKeeperRegistry, cluster: string, private readonly listener: ServersListener) {
    this.path = `${registry.root}/${cluster}`;
  }

  kick(): Promise<void> {
    return this.flight.kick();
  }

  close(): void {
    this.open = false;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.registry.forgetWatch(this);
  }

  private async refreshOnce(): Promise<void> {
    const client = this.registry.liveClient();
    if (!this.open || client === undefined) return;
    try {
      const list = await readServers(client, this.path, this.onEvent);
      this.backoff.reset();
      if (!this.open || sameServers(this.current, list)) return;
      this.current = list;
      this.listener(list);
    } catch (error) {
      if (this.registry.liveClient() !== client || !this.open) return;
      if (isConnectionProblem(error) && !this.registry.connected) return; // re-kicked on reconnection
      if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.kick(), this.backoff.next());
    }
  }
}

/** Reads the cluster's children and their data; with a watcher, arms it on the parent (or its absence) and every child. */
async function readServers(client: ZkClient, path: string, watcher?: (event: ZkEvent) => void): Promise<ServerRecord[]> {
  let children: string[];
  try {
    children = await zkGetChildren(client, path, watcher);
  } catch (error) {
    if (zkErrorCode(error) !== ZkCode.noNode) throw error;
    // No cluster node yet: watch for its creation; if it appeared meanwhile, read it now.
    if ((await zkExists(client, path, watcher)) === undefined) return [];
    children = await zkGetChildren(client, path, watcher);
  }
  const records = await Promise.all(
    children.filter(isAddress).map(async (address): Promise<ServerRecord | undefined> => {
      try {
        const { data } = await zkGetData(client, `${path}/${address}`, watcher);
        return { address, data: parseRegistrationData(data) };
      } catch (error) {
        if (zkErrorCode(error) === ZkCode.noNode) return undefined; // removed between the two reads
        throw error;
      }
    }),
  );
  return sortServers(records.filter((r): r is ServerRecord => r !== undefined));
}

export class ZooKeeperRegistry implements Registry {
  readonly root: string;
  connected = false;
  private client: ZkClient;
  private closed = false;
  private outageLogged = false;
  private outageTimer: NodeJS.Timeout | undefined;
  private readonly registrations = new Set<ZkRegistration>();
  private readonly watches = new Set<ZkWatch>();
  private readonly sessionTimeoutMs: number;
  private readonly operationTimeoutMs: number;
  private readonly connectionWaiters = new Set<() => void>();
  readonly log: (line: string) => void;

  constructor(private readonly options: ZooKeeperRegistryOptions) {
    this.root = validateRoot(options.root ?? DEFAULT_ROOT);
    if (!/^[^,\s/]+:\d+(,[^,\s/]+:\d+)*$/.test(options.connect)) {
      throw new CaskError(ErrorCode.Config, `registry.zookeeper must be host:port[,host:port…], got '${options.connect}'`);
    }
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? 5_000;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.client = this.openSession();
  }

  register(cluster: string, address: string, data: RegistrationData): Registration {
    this.assertOpen();
    if (!isClusterName(cluster)) throw new CaskError(ErrorCode.InvalidArgument, `bad cluster name '${cluster}'`);
    if (!isAddress(address)) throw new CaskError(ErrorCode.InvalidArgument, `bad server address '${address}' (want host:port)`);
    const registration = new ZkRegistration(this, cluster, address, { ...data });
    this.registrations.add(registration);
    void registration.kick();
    return registration;
  }

  async list(cluster: string): Promise<ServerRecord[]> {
    this.assertOpen();
    if (!isClusterName(cluster)) throw new CaskError(ErrorCode.InvalidArgument, `bad cluster name '${cluster}'`);
    const deadline = Date.now() + this.operationTimeoutMs;
    const unreachable = (): CaskError => new CaskError(ErrorCode.Timeout, `ZooKeeper at ${this.options.connect} did not answer within ${this.operationTimeoutMs} ms`);
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw unreachable();
      if (!this.connected) {
        await this.waitConnected(remaining);
        continue;
      }
      const client = this.client;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(unreachable()), remaining)));
      try {
        return await Promise.race([readServers(client, `${this.root}/${cluster}`), timeout]);
      } catch (error) {
        if (error instanceof CaskError || !isConnectionProblem(error)) throw error;
      } finally {
        clearTimeout(timer);
      }
    }
  }

  watch(cluster: string, listener: ServersListener): RegistryWatch {
    this.assertOpen();
    if (!isClusterName(cluster)) throw new CaskError(ErrorCode.InvalidArgument, `bad cluster name '${cluster}'`);
    const watch = new ZkWatch(this, cluster, listener);
    this.watches.add(watch);
    void watch.kick();
    return watch;
  }

  /** Deletes this session's nodes (bounded wait), then ends the session. */
  async close(): Promise<void> {
    if (this.closed) return;
    const removals = Promise.all([...this.registrations].map((r) => r.unregister().catch(() => undefined)));
    if (this.connected) await withTimeout(removals, this.operationTimeoutMs);
    this.closed = true;
    for (const r of this.registrations) r.stop();
    for (const w of this.watches) w.close();
    if (this.outageTimer !== undefined) clearTimeout(this.outageTimer);
    for (const wake of this.connectionWaiters) wake();
    const client = this.client;
    const wasConnected = this.connected;
    this.connected = false;
    if (!wasConnected) {
      abandonZkClient(client); // nothing to close on the server; the session (if any) expires on its own
      return;
    }
    const disconnected = new Promise<void>((resolve) => client.once('disconnected', () => resolve()));
    client.close();
    await withTimeout(disconnected, 1_000);
  }

  /** Test hook: the current session's id and password (to force an expiry from outside). */
  sessionCredentials(): { id: Buffer; password: Buffer } {
    return { id: this.client.getSessionId(), password: this.client.getSessionPassword() };
  }

  /** @internal The client when connected and open, else undefined. */
  liveClient(): ZkClient | undefined {
    return this.connected && !this.closed ? this.client : undefined;
  }

  /** @internal */
  forget(registration: ZkRegistration): void {
    registration.stop();
    this.registrations.delete(registration);
  }

  /** @internal */
  forgetWatch(watch: ZkWatch): void {
    this.watches.delete(watch);
  }

  private assertOpen(): void {
    if (this.closed) throw new CaskError(ErrorCode.Closed, 'registry closed');
  }

  private openSession(): ZkClient {
    const client = createZkClient(this.options.connect, { sessionTimeout: this.sessionTimeoutMs, spinDelay: 500, retries: 0 });
    guardHandshake(client, handshakeTimeoutMs(this.sessionTimeoutMs));
    client.on('state', (state) => this.onState(client, state));
    client.connect();
    this.armOutageLog();
    return client;
  }

  /** Logs "unreachable" once if no connection comes within a grace period; reset by a connection. */
  private armOutageLog(): void {
    if (this.outageTimer !== undefined || this.outageLogged) return;
    this.outageTimer = setTimeout(() => {
      this.outageTimer = undefined;
      if (this.connected || this.closed || this.outageLogged) return;
      this.outageLogged = true;
      this.log(`registry: ZooKeeper at ${this.options.connect} is unreachable; serving on with the last known state and retrying`);
    }, Math.min(2_000, this.sessionTimeoutMs));
    this.outageTimer.unref();
  }

  private onState(client: ZkClient, state: { name: string; code: number }): void {
    if (client !== this.client || this.closed) return;
    if (state.code === ZkState.SYNC_CONNECTED.code) {
      this.connected = true;
      if (this.outageTimer !== undefined) clearTimeout(this.outageTimer);
      this.outageTimer = undefined;
      if (this.outageLogged) this.log(`registry: ZooKeeper at ${this.options.connect} reachable again`);
      this.outageLogged = false;
      for (const wake of this.connectionWaiters) wake();
      this.connectionWaiters.clear();
      for (const r of this.registrations) void r.kick();
      for (const w of this.watches) void w.kick();
    } else if (state.code === ZkState.DISCONNECTED.code) {
      this.connected = false;
      this.armOutageLog();
    } else if (state.code === ZkState.EXPIRED.code) {
      this.connected = false;
      this.log('registry: ZooKeeper session expired; opening a new session and registering again');
      abandonZkClient(client);
      this.client = this.openSession();
    } else {
      this.connected = false;
      this.log(`registry: ZooKeeper session state ${state.name}`);
    }
  }

  private waitConnected(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => { clearTimeout(timer); this.connectionWaiters.delete(wake); resolve(); };
      const timer = setTimeout(wake, timeoutMs);
      this.connectionWaiters.add(wake);
    });
  }
}

/** How long a session handshake may take before the connection is dropped and tried again: a third of the session timeout, within [1 s, 5 s]. */
function handshakeTimeoutMs(sessionTimeoutMs: number): number {
  return Math.min(5_000, Math.max(1_000, Math.floor(sessionTimeoutMs / 3)));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
  ]).finally(() => clearTimeout(timer));
}

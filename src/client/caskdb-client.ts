// The load-balancing client: discovers servers (fixed list or registry watch), picks one per request
// with a balancer, and fails over. Rules: a request never written (connection not ready) may go to any
// other server; once written, a read may be retried elsewhere, a write may not (it may have been applied)
// and fails with a typed error; at most `maxAttempts` servers are tried. In Raft mode (servers report
// leader/follower roles) writes go to the leader only.
import { Command, type Redis } from 'ioredis';
import { createBalancer, isBalancerName, type Balancer, type BalancerName, type BalancerRequest } from '../balancer/index.js';
import type { Registry, ServerRecord } from '../registry/types.js';
import { DEFAULT_CLUSTER, isAddress } from '../registry/types.js';
import { ZooKeeperRegistry } from '../registry/zookeeper-registry.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import { CommandTimeoutError, NotSentError, ServerConnection, type ConnectionOptions } from './server-connection.js';
import { registrySource, staticSource, type ServerSource } from './server-source.js';

export type ClientTarget =
  | { zookeeper: string; cluster?: string; root?: string; sessionTimeoutMs?: number }
  | { registry: Registry; cluster?: string }
  | { servers: readonly string[] };

export interface ClientOptions {
  /** A balancer name or a custom Balancer. Default 'consistent-hash' (keeps each key on one server). */
  balancer?: BalancerName | Balancer;
  /** Seed of the balancer's PRNG (random, weighted random, least-active ties). Default 1. */
  seed?: number;
  /** Consistent hash: virtual nodes per server. Default 160. */
  virtualNodes?: number;
  /** Servers tried per request, at most. Default 3. */
  maxAttempts?: number;
  connectTimeoutMs?: number;
  /** A command without a reply after this long fails (reads move on to another server). Default 5 000; 0 = never. */
  commandTimeoutMs?: number;
  /** How long a request waits for the first server list from the registry. Default 5 000. */
  discoveryTimeoutMs?: number;
  /** Reconnect backoff of a down server: base and cap. Defaults 100 and 5 000. */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
}

export type Value = string | Buffer | number;

export interface SetOptions {
  /** Only set when the key does not exist. */
  nx?: boolean;
  /** Only set when the key exists. */
  xx?: boolean;
}

export interface ScanOptions {
  match?: string;
  count?: number;
}

/**
 * One request. It is also the request the balancer sees (key, cluster, write), so a pick allocates nothing.
 * `name` is sent as given; the built-in commands use lower case, as ioredis's own methods do (ioredis
 * lower-cases the name for its flag lookups on every send, which allocates unless it already is).
 */
interface CommandSpec extends BalancerRequest {
  readonly name: string;
  readonly args: readonly Value[];
  readonly key: string | undefined;
  readonly write: boolean;
  readonly cluster: string;
}

const RAFT_ROLES = new Set(['leader', 'follower', 'candidate', 'learner']);

function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

const identity = <T>(value: T): T => value;
type Run<T> = (redis: Redis, spec: CommandSpec) => Promise<T>;

/** Command options shared by every request (ioredis only reads them in the Command constructor). */
const UTF8_REPLY = { replyEncoding: 'utf8' } as const;
const BUFFER_REPLY = { replyEncoding: null } as const;
/**
 * What `redis.call(name, args)` does, minus its generic argument handling (rest array, shift, options object
 * per call): the connections have no key prefix, no friendly error stacks and no auto-pipelining.
 */
const callCommand: Run<unknown> = (redis, spec) =>
  redis.sendCommand(new Command(spec.name, spec.args as Value[], UTF8_REPLY)) as Promise<unknown>;
const callCommandBuffer: Run<unknown> = (redis, spec) =>
  redis.sendCommand(new Command(spec.name, spec.args as Value[], BUFFER_REPLY)) as Promise<unknown>;

/**
 * The fast path's request: an ioredis Command whose own promise is the one the caller gets, so a request
 * costs no promise, closure or microtask beyond what a bare ioredis call costs. The reply is mapped (and
 * the server's in-flight count ended) in `transformReply`, which ioredis calls right before it resolves;
 * a failure (ioredis calls `command.reject(error)`, always as a method) ends the in-flight count and goes
 * through the same failover as the slow path, whose outcome then settles this command's promise.
 */
class ClientCommand<R> extends Command {
  /** True from `caskSend` until the reply or failure on `caskServer` is accounted (`end()`). */
  private caskInFlight = false;
  /** Set when a retry on another server answered: its reply was already converted by its own Command. */
  private caskRetried = false;
  /** The promise's own reject (ioredis's `reject` is replaced by `caskFail`). */
  private readonly caskReject: (error: Error) => void;

  constructor(
    private readonly caskClient: CaskClient,
    private readonly caskSpec: CommandSpec,
    private readonly caskRun: Run<unknown>,
    private readonly caskMap: (reply: unknown) => R,
    private readonly caskServer: ServerConnection,
  ) {
    super(caskSpec.name, caskSpec.args as Value[], caskRun === callCommandBuffer ? BUFFER_REPLY : UTF8_REPLY);
    this.caskReject = this.reject;
    this.reject = this.caskFail;
  }

  /** Writes the command on `redis` (the server's ready connection), counted in flight on the server. */
  caskSend(redis: Redis): Promise<R> {
    this.caskInFlight = true;
    this.caskServer.begin();
    void redis.sendCommand(this);
    return this.promise as Promise<R>;
  }

  override transformReply(result: Buffer | Buffer[]): ReturnType<Command['transformReply']> {
    if (this.caskRetried) return this.caskMap(result) as ReturnType<Command['transformReply']>;
    const value = super.transformReply(result);
    if (this.caskInFlight) {
      this.caskInFlight = false;
      this.caskServer.end();
    }
    return this.caskMap(value) as ReturnType<Command['transformReply']>;
  }

  private caskFail(error: Error): void {
    const server = this.caskServer;
    if (!this.caskInFlight) {
      // Already answered (the mapping threw) or already failed over: nothing left to retry.
      this.caskReject(error);
      return;
    }
    this.caskInFlight = false;
    server.end();
    let retry: Promise<unknown>;
    try {
      retry = this.caskClient.afterFailure(this.caskSpec, this.caskRun, server, server.classify(error), new Set(), []);
    } catch (final) {
      this.caskReject(final as Error);
      return;
    }
    retry.then(
      (reply) => { this.caskRetried = true; this.resolve(reply); },
      (final: unknown) => this.caskReject(final as Error),
    );
  }
}

const isOk = (reply: unknown): boolean => reply === 'OK';
const toOptional = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
const toOptionalArray = (v: unknown): Array<string | undefined> => (v as unknown[]).map(toOptional);
const toOptionalBuffer = (v: unknown): Buffer | undefined => (v === null || v === undefined ? undefined : (v as Buffer));

export class CaskClient {
  readonly cluster: string;
  private readonly balancer: Balancer;
  private readonly source: ServerSource;
  private readonly servers = new Map<string, ServerConnection>();
  /** The servers in registry order; replaced (never mutated) on every list change. */
  private serverList: ServerConnection[] = [];
  /**
   * What the balancer may pick from for a read / a write, recomputed when the list, a role or a server's
   * health changes (never per request). Each is `serverList` itself when every server qualifies, so
   * balancers that cache per list (the consistent-hash ring) see a stable array.
   */
  private readCandidates: ServerConnection[] = [];
  private writeCandidates: ServerConnection[] = [];
  /** True when some server reports a Raft role: writes then go to the leader only. */
  private raftMode = false;
  private discovered = false;
  private readonly maxAttempts: number;
  private readonly discoveryTimeoutMs: number;
  private readonly connectionOptions: ConnectionOptions;
  private closed = false;

  constructor(target: ClientTarget, options: ClientOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 3;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new CaskError(ErrorCode.InvalidOption, 'maxAttempts must be a positive integer');
    this.discoveryTimeoutMs = options.discoveryTimeoutMs ?? 5_000;
    this.connectionOptions = {
      connectTimeoutMs: options.connectTimeoutMs ?? 2_000,
      commandTimeoutMs: options.commandTimeoutMs ?? 5_000,
      reconnectBaseMs: options.reconnectBaseMs ?? 100,
      reconnectMaxMs: options.reconnectMaxMs ?? 5_000,
    };
    const balancer = options.balancer ?? 'consistent-hash';
    if (typeof balancer === 'string') {
      if (!isBalancerName(balancer)) throw new CaskError(ErrorCode.InvalidOption, `unknown balancer '${String(balancer)}'`);
      this.balancer = createBalancer(balancer, options.seed ?? 1, options.virtualNodes === undefined ? {} : { virtualNodes: options.virtualNodes });
    } else {
      this.balancer = balancer;
    }
    if ('servers' in target) {
      if (target.servers.length === 0) throw new CaskError(ErrorCode.InvalidOption, 'servers must list at least one host:port');
      for (const a of target.servers) if (!isAddress(a)) throw new CaskError(ErrorCode.InvalidOption, `bad server address '${a}' (want host:port)`);
      this.cluster = DEFAULT_CLUSTER;
      this.source = staticSource(target.servers);
    } else if ('registry' in target) {
      this.cluster = target.cluster ?? DEFAULT_CLUSTER;
      this.source = registrySource(target.registry, this.cluster, false);
    } else {
      this.cluster = target.cluster ?? DEFAULT_CLUSTER;
      const registry = new ZooKeeperRegistry({
        connect: target.zookeeper,
        ...(target.root === undefined ? {} : { root: target.root }),
        ...(target.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: target.sessionTimeoutMs }),
        log: () => undefined, // the client reports through errors, never through stderr
      });
      this.source = registrySource(registry, this.cluster, true);
    }
    this.applyServerList(this.source.current);
    this.source.onChange((list) => this.applyServerList(list));
  }

  /** Resolves once a server list is known (a request waits for it anyway, up to discoveryTimeoutMs). */
  async ready(): Promise<void> {
    await this.waitForDiscovery();
  }

  /** The servers currently known, with their health and in-flight counts (for tools and tests). */
  serverStates(): Array<{ address: string; weight: number; role: string; health: string; inFlight: number; served: number }> {
    return [...this.servers.values()].map((s) => ({ address: s.address, weight: s.weight, role: s.role, health: s.health, inFlight: s.inFlight, served: s.served }));
  }

  // ---- string commands -------------------------------------------------------------------------------

  get(key: string): Promise<string | undefined> {
    return this.request(this.spec('get', [key], key, false), callCommand, toOptional);
  }

  getBuffer(key: string): Promise<Buffer | undefined> {
    return this.request(this.spec('get', [key], key, false), callCommandBuffer, toOptionalBuffer);
  }

  /** True when the value was stored (false when NX/XX prevented it). */
  set(key: string, value: Value, options?: SetOptions): Promise<boolean> {
    const args: Value[] = [key, value];
    if (options !== undefined) {
      if (options.nx === true) args.push('NX');
      if (options.xx === true) args.push('XX');
    }
    return this.request(this.spec('set', args, key, true), callCommand, isOk);
  }

  /** Number of keys removed. */
  del(...keys: string[]): Promise<number> {
    return this.request(this.spec('del', keys, keys[0], true), callCommand, Number);
  }

  /** Number of the given keys that exist (a key named twice counts twice). */
  exists(...keys: string[]): Promise<number> {
    return this.request(this.spec('exists', keys, keys[0], false), callCommand, Number);
  }

  mget(keys: readonly string[]): Promise<Array<string | undefined>> {
    return this.request(this.spec('mget', keys, keys[0], false), callCommand, toOptionalArray);
  }

  async mset(entries: Readonly<Record<string, Value>> | ReadonlyArray<readonly [string, Value]>): Promise<void> {
    const pairs = Array.isArray(entries) ? (entries as ReadonlyArray<readonly [string, Value]>) : Object.entries(entries);
    const args = pairs.flatMap(([k, v]) => [k, v]);
    await this.call(this.spec('mset', args, pairs[0]?.[0], true));
  }

  incr(key: string): Promise<number> {
    return this.request(this.spec('incr', [key], key, true), callCommand, Number);
  }

  incrby(key: string, by: number): Promise<number> {
    return this.request(this.spec('incrby', [key, by], key, true), callCommand, Number);
  }

  decr(key: string): Promise<number> {
    return this.request(this.spec('decr', [key], key, true), callCommand, Number);
  }

  decrby(key: string, by: number): Promise<number> {
    return this.request(this.spec('decrby', [key, by], key, true), callCommand, Number);
  }

  /** Length of the value after appending. */
  append(key: string, value: Value): Promise<number> {
    return this.request(this.spec('append', [key, value], key, true), callCommand, Number);
  }

  strlen(key: string): Promise<number> {
    return this.request(this.spec('strlen', [key], key, false), callCommand, Number);
  }

  /** Returns the value and deletes the key (undefined when it did not exist). */
  getdel(key: string): Promise<string | undefined> {
    return this.request(this.spec('getdel', [key], key, true), callCommand, toOptional);
  }

  /** Sets the value and returns the previous one (undefined when there was none). */
  getset(key: string, value: Value): Promise<string | undefined> {
    return this.request(this.spec('getset', [key, value], key, true), callCommand, toOptional);
  }

  ping(): Promise<string> {
    return this.request(this.spec('ping', [], undefined, false), callCommand, String);
  }

  /** One SCAN step on one server (`server`, or the balancer's choice for a keyless request). */
  async scan(cursor: string, options: ScanOptions & { server?: string } = {}): Promise<[cursor: string, keys: string[]]> {
    const args: Value[] = [cursor];
    if (options.match !== undefined) args.push('MATCH', options.match);
    if (options.count !== undefined) args.push('COUNT', options.count);
    const spec = this.spec('scan', args, undefined, false);
    const reply = options.server === undefined
      ? await this.call(spec)
      : await this.callOn(options.server, spec);
    const [next, keys] = reply as [unknown, unknown[]];
    return [String(next), keys.map(String)];
  }

  /**
   * Every key matching `match`, once per data set: in Raft mode from the leader only (all servers hold the
   * same data), otherwise from every server (standalone servers hold disjoint data under consistent hash).
   */
  async *scanIterator(options: ScanOptions = {}): AsyncGenerator<string> {
    await this.waitForDiscovery();
    const targets = this.raftMode ? this.serverList.filter((s) => s.role === 'leader') : this.serverList;
    for (const server of targets) {
      let cursor = '0';
      do {
        const [next, keys] = await this.scan(cursor, { ...options, server: server.address });
        yield* keys;
        cursor = next;
      } while (cursor !== '0');
    }
  }

  /** A MULTI/EXEC transaction, sent to one server (chosen by its first key) and never retried once sent. */
  multi(): CaskMulti {
    return new CaskMulti(this);
  }

  /** Any command: `write` says whether it changes data (decides failover and Raft leader routing). */
  async command(name: string, args: readonly Value[], options: { key?: string; write: boolean }): Promise<unknown> {
    return this.call(this.spec(name, args, options.key ?? (typeof args[0] === 'string' ? args[0] : undefined), options.write));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.source.close();
    await Promise.all([...this.servers.values()].map((s) => s.close()));
    this.servers.clear();
  }

  // ---- routing and failover ----------------------------------------------------------------------

  /** @internal A request of this client's cluster (every request object has this one shape). */
  spec(name: string, args: readonly Value[], key: string | undefined, write: boolean): CommandSpec {
    return { name, args, key, write, cluster: this.cluster };
  }

  /** @internal */
  call(spec: CommandSpec): Promise<unknown> {
    return this.request(spec, callCommand, identity);
  }

  /**
   * @internal Sends one command with failover. The common case (discovered, a candidate picked, its
   * connection ready) is one balancer pick and one ioredis Command, whose promise is the caller's; anything
   * else takes `sendSlow`.
   */
  request<R>(spec: CommandSpec, run: typeof callCommand, map: (reply: unknown) => R): Promise<R> {
    if (!this.closed && this.discovered) {
      const candidates = spec.write ? this.writeCandidates : this.readCandidates;
      if (candidates.length > 0) {
        let command: ClientCommand<R> | undefined;
        let redis: Redis | undefined;
        try {
          // A custom balancer or an unconvertible argument may throw: the caller gets a rejection, as from sendSlow.
          const server = this.balancer.pick(spec, candidates);
          redis = server.readyNow();
          if (redis !== undefined) command = new ClientCommand(this, spec, run, map, server);
        } catch (error) {
          return Promise.reject(error);
        }
        if (command !== undefined && redis !== undefined) return command.caskSend(redis);
      }
    }
    return this.sendSlow(spec, run, new Set(), []).then(map);
  }

  /** @internal Runs `spec` on one named server only (no failover). */
  async callOn(address: string, spec: CommandSpec): Promise<unknown> {
    const server = this.servers.get(address);
    if (server === undefined) throw new CaskError(ErrorCode.NoServer, `${address} is not a known server of cluster '${this.cluster}'`);
    const redis = server.readyNow() ?? (await server.ready());
    server.begin();
    try {
      return await callCommand(redis, spec);
    } catch (error) {
      throw server.classify(error);
    } finally {
      server.end();
    }
  }

  /**
   * @internal Sends `spec` with failover. The common case (discovered, every server healthy, connection
   * ready) is one balancer pick and one promise continuation; everything else takes `sendSlow`.
   */
  send<T, R = T>(spec: CommandSpec, run: (redis: Redis, spec: CommandSpec) => Promise<T>, map?: (reply: T) => R): Promise<R> {
    if (map === undefined) return this.send(spec, run, identity as (reply: T) => R);
    if (!this.closed && this.discovered) {
      const candidates = spec.write ? this.writeCandidates : this.readCandidates;
      if (candidates.length > 0) {
        const server = this.balancer.pick(spec, candidates);
        const redis = server.readyNow();
        if (redis !== undefined) {
          server.begin();
          return run(redis, spec).then(
            (value) => { server.end(); return map(value); },
            (error: unknown) => { server.end(); return this.afterFailure(spec, run, server, server.classify(error), new Set(), []).then(map); },
          );
        }
      }
    }
    return this.sendSlow(spec, run, new Set(), []).then(map);
  }

  /** @internal Decides what a failed attempt on `server` means: rethrow, retry elsewhere, or a typed error. */
  afterFailure<T>(spec: CommandSpec, run: (redis: Redis, spec: CommandSpec) => Promise<T>, server: ServerConnection,
    error: unknown, tried: Set<string>, failures: string[]): Promise<T> {
    if (isReplyError(error) || error instanceof CaskError) throw error;
    tried.add(server.address);
    failures.push(error instanceof NotSentError || error instanceof CommandTimeoutError ? error.message : `${server.address}: ${error instanceof Error ? error.message : String(error)}`);
    if (spec.write && !(error instanceof NotSentError)) {
      const code = error instanceof CommandTimeoutError ? ErrorCode.Timeout : ErrorCode.Io;
      const reason = error instanceof Error ? error.message : String(error);
      throw new CaskError(code, `${spec.name.toUpperCase()} was sent to ${server.address} but no reply came (${reason}); it may or may not have been applied, so it was not retried`, { cause: error });
    }
    // Nothing was written, or a read: any other server may take it.
    return this.sendSlow(spec, run, tried, failures, error);
  }

  private async sendSlow<T>(spec: CommandSpec, run: (redis: Redis, spec: CommandSpec) => Promise<T>, tried: Set<string>,
    failures: string[], lastError?: unknown): Promise<T> {
    if (this.closed) throw new CaskError(ErrorCode.Closed, 'client closed');
    if (!this.discovered) await this.waitForDiscovery();
    while (tried.size < this.maxAttempts) {
      const candidates = this.candidates(spec.write, tried);
      if (candidates.length === 0) break;
      const server = this.balancer.pick(spec, candidates);
      let redis: Redis;
      try {
        redis = server.readyNow() ?? (await server.ready());
      } catch (error) {
        tried.add(server.address);
        failures.push(error instanceof Error ? error.message : String(error));
        lastError = error;
        continue;
      }
      server.begin();
      let result: T;
      try {
        result = await run(redis, spec);
      } catch (error) {
        server.end();
        return this.afterFailure(spec, run, server, server.classify(error), tried, failures);
      }
      server.end();
      return result;
    }
    if (spec.write && this.raftMode && failures.length === 0) {
      throw new CaskError(ErrorCode.NoLeader, `no reachable leader in cluster '${this.cluster}' for ${spec.name.toUpperCase()}`);
    }
    throw new CaskError(
      ErrorCode.NoServer,
      `no server of cluster '${this.cluster}' could take ${spec.name.toUpperCase()} (${this.serverList.length} known, ${tried.size} tried${failures.length > 0 ? `: ${failures.join('; ')}` : ''})`,
      lastError === undefined ? {} : { cause: lastError },
    );
  }

  /**
   * The servers the balancer may choose from on a retry: the precomputed candidates (the same array when
   * none of them was tried, so balancers can keep caching per list), else a filtered copy.
   */
  private candidates(write: boolean, tried: ReadonlySet<string>): ServerConnection[] {
    const base = write ? this.writeCandidates : this.readCandidates;
    if (tried.size === 0 || !base.some((s) => tried.has(s.address))) return base;
    return base.filter((s) => !tried.has(s.address));
  }

  /**
   * Recomputes the candidate lists: eligible servers (not down, not closed), and for writes in Raft mode
   * the eligible leaders only. Runs on every list, role or health change, synchronously.
   */
  private refreshCandidates(): void {
    const list = this.serverList;
    const leaderOnly = this.raftMode;
    let allEligible = true;
    let allWritable = true;
    for (const s of list) {
      if (!s.eligible) { allEligible = false; allWritable = false; break; }
      if (leaderOnly && s.role !== 'leader') allWritable = false;
    }
    this.readCandidates = allEligible ? list : list.filter((s) => s.eligible);
    this.writeCandidates = allWritable ? list
      : leaderOnly ? list.filter((s) => s.eligible && s.role === 'leader') : this.readCandidates;
  }

  private async waitForDiscovery(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.discoveryTimeoutMs)));
    try {
      const outcome = await Promise.race([this.source.ready.then(() => 'ready' as const), timeout]);
      if (outcome === 'timeout') {
        throw new CaskError(ErrorCode.NoServer, `no server list for cluster '${this.cluster}' within ${this.discoveryTimeoutMs} ms (is ZooKeeper reachable?)`);
      }
      this.discovered = true;
    } finally {
      clearTimeout(timer);
    }
  }

  private applyServerList(list: readonly ServerRecord[]): void {
    if (this.closed) return;
    // Empty-list protection: a registry that suddenly lists no server at all, while servers are known, is
    // kept as no news. It happens when every server's session ends at once — a ZooKeeper restart or outage
    // longer than the session timeout — and they re-register moments later, while the known servers go on
    // answering. A server that is really gone fails its connection, is marked down and is not picked, so
    // requests fail over or fail with CASKDB_NO_SERVER; the next non-empty list replaces the known one.
    if (list.length === 0 && this.servers.size > 0) return;
    const seen = new Set<string>();
    for (const record of list) {
      seen.add(record.address);
      const existing = this.servers.get(record.address);
      if (existing !== undefined) existing.update(record.data);
      else this.servers.set(record.address, new ServerConnection(record.address, record.data, this.connectionOptions, this.onEligibilityChange));
    }
    for (const [address, server] of this.servers) {
      if (seen.has(address)) continue;
      this.servers.delete(address);
      void server.close();
    }
    this.serverList = list.map((r) => this.servers.get(r.address)).filter((s): s is ServerConnection => s !== undefined);
    this.raftMode = this.serverList.some((s) => RAFT_ROLES.has(s.role));
    this.refreshCandidates();
  }

  private readonly onEligibilityChange = (): void => this.refreshCandidates();
}

/** Commands queued for one MULTI/EXEC. Results come back in order; a failed command's slot holds its Error. */
export class CaskMulti {
  private readonly commands: Array<{ name: string; args: Value[]; write: boolean }> = [];

  constructor(private readonly client: CaskClient) {}

  get(key: string): this { return this.push('GET', [key], false); }
  set(key: string, value: Value): this { return this.push('SET', [key, value], true); }
  del(...keys: string[]): this { return this.push('DEL', keys, true); }
  incr(key: string): this { return this.push('INCR', [key], true); }
  incrby(key: string, by: number): this { return this.push('INCRBY', [key, by], true); }
  exists(...keys: string[]): this { return this.push('EXISTS', keys, false); }
  mget(keys: readonly string[]): this { return this.push('MGET', [...keys], false); }
  mset(entries: Readonly<Record<string, Value>>): this { return this.push('MSET', Object.entries(entries).flat(), true); }
  append(key: string, value: Value): this { return this.push('APPEND', [key, value], true); }
  command(name: string, args: readonly Value[], write: boolean): this { return this.push(name, [...args], write); }

  get length(): number {
    return this.commands.length;
  }

  async exec(): Promise<unknown[]> {
    const first = this.commands[0];
    if (first === undefined) return [];
    const write = this.commands.some((c) => c.write);
    const key = typeof first.args[0] === 'string' ? first.args[0] : undefined;
    const commands = this.commands.slice();
    const replies = await this.client.send(this.client.spec('multi', [], key, write), async (redis: Redis) => {
      const tx = redis.multi();
      for (const c of commands) tx.call(c.name, c.args);
      return tx.exec();
    });
    if (replies === null) throw new CaskError(ErrorCode.InvalidArgument, 'transaction aborted by the server (EXEC returned nil)');
    return replies.map(([error, value]) => error ?? value);
  }

  private push(name: string, args: Value[], write: boolean): this {
    this.commands.push({ name, args, write });
    return this;
  }
}

export function createClient(target: ClientTarget, options: ClientOptions = {}): CaskClient {
  return new CaskClient(target, options);
}

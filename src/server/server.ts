// The Redis-protocol server: one net.Server on the event loop serving every connection over a `KvStore`.
// Lifecycle: listen → hooks start → serve; shutdown (SHUTDOWN, SIGTERM, SIGINT): hooks stop, stop
// accepting, let every connection finish the commands it has in flight, then close the store (in-flight
// writes, sync, engine close — which releases the directory lock). Limits come from the live config.
import net from 'node:net';
import type { ConfigSource } from '../config/load-config.js';
import type { ServerConfig } from '../config/schema.js';
import type { ParserLimits } from '../resp/parser.js';
import type { KvStore } from '../store/kv-store.js';
import { Connection } from './connection.js';
import type { MonitorSink, ServerContext, ServerStats } from './context.js';
import type { ServerHook } from './hooks.js';
import type { ServerLogger } from './logger.js';
import { CommandStats } from './command-stats.js';
import { Slowlog } from './slowlog.js';

export interface CaskServerOptions {
  config: ServerConfig;
  sources?: Record<string, ConfigSource>;
  configFile?: string | undefined;
  store: KvStore;
  log: ServerLogger;
  hooks?: readonly ServerHook[];
}

const SHUTDOWN_DRAIN_MS_MAX = 10_000;

export class CaskServer implements ServerContext {
  readonly config: ServerConfig;
  readonly sources: Record<string, ConfigSource>;
  readonly configFile: string | undefined;
  readonly store: KvStore;
  readonly log: ServerLogger;
  readonly stats: ServerStats = {
    connectionsReceived: 0, connectionsRejected: 0, commandsProcessed: 0, inputBytes: 0, outputBytes: 0,
    protocolErrors: 0, outputLimitDisconnects: 0, timeoutDisconnects: 0,
  };
  readonly parserLimits: ParserLimits;
  readonly startedAtMs = Date.now();
  lastSaveAtMs = this.startedAtMs;
  readonly clients = new Map<number, Connection>();
  readonly monitors = new Set<MonitorSink>();
  readonly slowlog: Slowlog;
  readonly commandStats = new CommandStats();
  address = { host: '', port: 0 };
  private readonly net: net.Server;
  private readonly hooks: readonly ServerHook[];
  private nextClientId = 1;
  private stopping: Promise<void> | undefined;
  /** Set when closing the store failed during shutdown (the process should exit non-zero). */
  closeError: unknown;
  private resolveStopped!: () => void;
  /** Resolves when the server has shut down completely. */
  readonly stopped: Promise<void> = new Promise((resolve) => (this.resolveStopped = resolve));

  constructor(options: CaskServerOptions) {
    this.config = { ...options.config };
    this.sources = { ...(options.sources ?? {}) };
    this.configFile = options.configFile;
    this.store = options.store;
    this.log = options.log;
    this.hooks = options.hooks ?? [];
    this.parserLimits = {
      bulkBytesMax: this.config['proto-max-bulk-len'],
      multibulkLengthMax: this.config['proto-max-multibulk-len'],
    };
    this.slowlog = new Slowlog(this.config['slowlog-max-len']);
    this.commandStats.latencyTracking = this.config['latency-tracking'] === 'yes';
    this.net = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.net.on('error', (error) => this.log.error('listener error', { error: error.message }));
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.net.once('error', onError);
      this.net.listen({ host: this.config.bind, port: this.config.port, backlog: 4096 }, () => {
        this.net.off('error', onError);
        resolve();
      });
    });
    const addr = this.net.address() as net.AddressInfo;
    this.address = { host: addr.address, port: addr.port };
    for (const hook of this.hooks) {
      await hook.start({ config: this.config, address: this.address, store: this.store, log: this.log });
    }
    return this.address;
  }

  private accept(socket: net.Socket): void {
    this.stats.connectionsReceived++;
    if (this.stopping !== undefined) {
      socket.destroy();
      return;
    }
    if (this.clients.size >= this.config.maxclients) {
      this.stats.connectionsRejected++;
      this.log.warn('max number of clients reached, refusing a connection', { limit: 'maxclients', maxclients: this.config.maxclients });
      socket.on('error', () => undefined);
      socket.end('-ERR max number of clients reached\r\n');
      return;
    }
    const id = this.nextClientId++;
    const conn = new Connection(id, socket, this, (c) => this.clients.delete(c.id));
    this.clients.set(id, conn);
  }

  applyConfig(key: keyof ServerConfig, value: string | number): void {
    (this.config as unknown as Record<string, string | number>)[key] = value;
    this.sources[key] = 'runtime';
    if (key === 'proto-max-bulk-len') {
      this.parserLimits.bulkBytesMax = value as number;
      const store = this.store as KvStore & { stringBytesMax?: number };
      if ('stringBytesMax' in store) store.stringBytesMax = value as number;
    } else if (key === 'proto-max-multibulk-len') {
      this.parserLimits.multibulkLengthMax = value as number;
    } else if (key === 'timeout') {
      for (const c of this.clients.values()) c.applyTimeout();
    } else if (key === 'latency-tracking') {
      this.commandStats.latencyTracking = value === 'yes';
    } else if (key === 'slowlog-max-len') {
      this.slowlog.setMaxLength(value as number);
    } else if (key === 'log-level') {
      this.log.level = value as ServerConfig['log-level'];
    }
    this.log.info('config changed', { key, value });
  }

  shutdown(reason: string): Promise<void> {
    this.stopping ??= this.doShutdown(reason);
    return this.stopping;
  }

  private async doShutdown(reason: string): Promise<void> {
    const started = Date.now();
    // Paused or half-closed sockets do not keep the event loop alive; this does, until shutdown is done.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      await this.drainAndClose(reason, started);
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async drainAndClose(reason: string, started: number): Promise<void> {
    this.log.info('shutting down', { reason, clients: this.clients.size });
    for (const hook of [...this.hooks].reverse()) {
      try {
        await hook.stop();
      } catch (error) {
        this.log.error('hook stop failed', { hook: hook.name, error: (error as Error).message });
      }
    }
    const listenerClosed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    this.log.debug('listener closed; draining clients', { clients: this.clients.size });
    // Finish what each client has in flight, then close it.
    const deadline = Date.now() + SHUTDOWN_DRAIN_MS_MAX;
    await Promise.all(
      [...this.clients.values()].map(async (c) => {
        c.closeAfterPending();
        await c.settle(deadline);
        c.socket.end();
        // Give the peer a moment to read the last replies and close its side, then drop the socket.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 500);
          c.socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        c.socket.destroy();
      }),
    );
    this.log.debug('clients drained; closing the store');
    let failed: unknown;
    try {
      await this.store.close();
    } catch (error) {
      failed = error;
      this.log.error('closing the store failed', { error: (error as Error).message });
    }
    for (const c of this.clients.values()) c.socket.destroy();
    // Sockets refused at accept (maxclients) are not tracked; do not let one keep shutdown waiting.
    await Promise.race([listenerClosed, new Promise((resolve) => setTimeout(resolve, 1000))]);
    this.log.info('stopped', { ms: Date.now() - started });
    this.closeError = failed;
    this.resolveStopped();
    if (failed !== undefined) throw failed;
  }
}

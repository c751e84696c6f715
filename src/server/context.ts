// What commands see of the server: configuration, the store, connected clients, counters, and the
// shutdown trigger. Kept as an interface so command handlers do not depend on the socket machinery.
import type { ServerConfig } from '../config/schema.js';
import type { ConfigSource } from '../config/load-config.js';
import type { ParserLimits } from '../resp/parser.js';
import type { KvStore } from '../store/kv-store.js';
import type { ServerLogger } from './logger.js';
import type { CommandStats } from './command-stats.js';
import type { Slowlog } from './slowlog.js';

export interface ServerStats {
  connectionsReceived: number;
  connectionsRejected: number;
  commandsProcessed: number;
  inputBytes: number;
  outputBytes: number;
  protocolErrors: number;
  outputLimitDisconnects: number;
  timeoutDisconnects: number;
}

export interface ClientInfo {
  readonly id: number;
  /** The client's address and the server address it connected to, as `ip:port`. */
  readonly addr: string;
  readonly laddr: string;
  readonly createdAtMs: number;
  describe(): string;
  /** CLIENT KILL: closes the connection (after the reply in flight, when a client kills itself). */
  kill(): void;
}

/** A client in MONITOR mode: receives one line per command any client sends. */
export interface MonitorSink {
  readonly id: number;
  sendMonitorLine(line: string): void;
}

export interface ServerContext {
  readonly config: ServerConfig;
  readonly sources: Record<string, ConfigSource>;
  readonly configFile: string | undefined;
  readonly store: KvStore;
  readonly log: ServerLogger;
  readonly stats: ServerStats;
  readonly parserLimits: ParserLimits;
  readonly startedAtMs: number;
  readonly clients: ReadonlyMap<number, ClientInfo>;
  readonly address: { host: string; port: number };
  /** Clients in MONITOR mode. */
  readonly monitors: Set<MonitorSink>;
  /** INFO commandstats and errorstats. */
  readonly commandStats: CommandStats;
  /** Commands slower than `slowlog-log-slower-than` (SLOWLOG). */
  readonly slowlog: Slowlog;
  /** Unix time in ms of the last completed SAVE or BGSAVE, or of the start (LASTSAVE). */
  lastSaveAtMs: number;
  /** Applies a validated run-time config change (CONFIG SET). */
  applyConfig(key: keyof ServerConfig, value: string | number): void;
  /** Starts a graceful shutdown (SHUTDOWN command). */
  shutdown(reason: string): void;
}

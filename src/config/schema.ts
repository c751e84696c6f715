// Every configuration key of `caskdb server`: type, default, bounds, whether CONFIG SET may change it at
// run time, and what it means. One naming rule links the three sources: key `raft.id` ↔ flag `--raft.id`
// ↔ environment variable `CASKDB_RAFT_ID` (dots and dashes become underscores, letters upper-case).

export type ValueType = 'string' | 'int' | 'bytes' | 'enum';

export interface KeySpec {
  readonly key: string;
  readonly type: ValueType;
  readonly default: string | number;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** CONFIG SET may change it while the server runs. */
  readonly settable: boolean;
  /** For strings: why a value is not acceptable, or undefined when it is. */
  readonly validate?: (text: string) => string | undefined;
  readonly description: string;
}

const MiB = 1024 * 1024;

/** Percentiles as `50 99 99.9`: numbers from 0 to 100 separated by spaces (none is allowed). */
export function parsePercentiles(text: string): number[] | undefined {
  const words = text.trim() === '' ? [] : text.trim().split(/\s+/);
  const values = words.map((w) => (/^\d+(\.\d+)?$/.test(w) ? Number(w) : NaN));
  return values.every((v) => v >= 0 && v <= 100) ? values : undefined;
}

function percentilesProblem(text: string): string | undefined {
  return parsePercentiles(text) === undefined ? 'is not a list of percentiles from 0 to 100 separated by spaces' : undefined;
}

export const CONFIG_KEYS: readonly KeySpec[] = [
  { key: 'dir', type: 'string', default: './data', settable: false, description: 'data directory (created when missing)' },
  { key: 'bind', type: 'string', default: '127.0.0.1', settable: false, description: 'address to listen on' },
  { key: 'port', type: 'int', default: 7379, min: 0, max: 65535, settable: false, description: 'TCP port (0 = any free port)' },
  { key: 'sync', type: 'enum', default: 'everysec', values: ['always', 'everysec', 'none'], settable: false,
    description: 'when a write is acknowledged: after fsync (always), after write(2) with a background fsync every second (everysec), or fsync left to the OS (none)' },
  { key: 'sync-thread', type: 'enum', default: 'event-loop', values: ['event-loop', 'thread-pool'], settable: false,
    description: 'with sync always (standalone): run each group fsync on the event loop, as Redis does (less CPU per write; the server waits for the disk), or on the thread pool (reads go on during the fsync)' },
  { key: 'value-cache-bytes', type: 'bytes', default: 32 * MiB, min: 0, max: 2 ** 32 - 1, settable: false,
    description: 'memory for recently written and read values, so a GET of them needs no disk read (0 = off; filled as values are written and read)' },
  { key: 'mmap-reads', type: 'enum', default: 'no', values: ['no', 'yes'], settable: false,
    description: 'serve disk reads from memory maps of the data files instead of one read(2) each (needs the native addon npm install builds; pages read count in RSS)' },
  { key: 'mmap-writes', type: 'enum', default: 'auto', values: ['auto', 'no', 'yes'], settable: false,
    description: "append to the active data file through a memory map instead of one write(2) per write group (where the native addon is built; space is reserved ahead with fallocate); auto: yes except with sync always, where write(2) into zero-filled space is faster" },
  { key: 'mode', type: 'enum', default: 'standalone', values: ['standalone', 'raft'], settable: false, description: 'standalone, or a Raft cluster node' },
  { key: 'maxclients', type: 'int', default: 10_000, min: 1, max: 1_000_000, settable: true, description: 'most simultaneous client connections' },
  { key: 'proto-max-bulk-len', type: 'bytes', default: 64 * MiB, min: 1024, max: 2048 * MiB, settable: true,
    description: 'longest bulk string (key or value) a client may send; also the longest string APPEND/SETRANGE may build' },
  { key: 'proto-max-multibulk-len', type: 'int', default: 1024 * 1024, min: 1, max: 2 ** 31 - 1, settable: true,
    description: 'most arguments in one command' },
  { key: 'client-output-buffer-limit', type: 'bytes', default: 256 * MiB, min: 0, max: 2 ** 40, settable: true,
    description: 'most reply bytes queued for a client that does not read them; past it the client is disconnected (0 = no limit)' },
  { key: 'timeout', type: 'int', default: 0, min: 0, max: 2_000_000_000, settable: true, description: 'close a client idle for this many seconds (0 = never)' },
  { key: 'multi-queue-max', type: 'int', default: 10_000, min: 1, max: 1_000_000, settable: true, description: 'most commands queued in one MULTI' },
  { key: 'slowlog-log-slower-than', type: 'int', default: 10_000, min: -1, max: 2 ** 31 - 1, settable: true,
    description: 'SLOWLOG records commands that run at least this many microseconds (0 = every command, -1 = off)' },
  { key: 'slowlog-max-len', type: 'int', default: 128, min: 0, max: 1_000_000, settable: true, description: 'most entries SLOWLOG keeps (the oldest go first)' },
  { key: 'latency-tracking', type: 'enum', default: 'yes', values: ['yes', 'no'], settable: true,
    description: 'keep a latency histogram per command (INFO latencystats, LATENCY HISTOGRAM)' },
  { key: 'latency-tracking-info-percentiles', type: 'string', default: '50 99 99.9', settable: true, validate: percentilesProblem,
    description: 'the percentiles INFO latencystats reports, separated by spaces' },
  { key: 'log-level', type: 'enum', default: 'info', values: ['debug', 'info', 'warn', 'error'], settable: true, description: 'least severe log level written' },
  { key: 'registry.zookeeper', type: 'string', default: '', settable: false, description: 'ZooKeeper connect string host:port[,…]; empty = do not register' },
  { key: 'registry.root', type: 'string', default: '/caskdb', settable: false, description: 'ZooKeeper root path' },
  { key: 'registry.cluster', type: 'string', default: 'default', settable: false, description: 'cluster name under the root' },
  { key: 'registry.weight', type: 'int', default: 100, min: -1, max: 1_000_000, settable: false, description: 'load-balancing weight (-1 = none)' },
  { key: 'registry.advertise', type: 'string', default: '', settable: false, description: 'host:port clients should use (default bind:port)' },
  { key: 'registry.sessionTimeoutMs', type: 'int', default: 10_000, min: 1000, max: 600_000, settable: false,
    description: 'ZooKeeper session timeout: how soon a crashed server disappears' },
  { key: 'raft.id', type: 'int', default: 0, min: 0, max: 2 ** 32 - 1, settable: false, description: 'this node\'s Raft id (mode raft; a positive integer, unique in the cluster)' },
  { key: 'raft.peers', type: 'string', default: '', settable: false,
    description: 'Raft peers id=host:port,… (peer ports, not client ports); the own entry is this node\'s peer listen address' },
  { key: 'raft.dir', type: 'string', default: '', settable: false, description: 'Raft log, hard state and snapshots (default <dir>/raft)' },
  { key: 'raft.join', type: 'enum', default: 'no', values: ['no', 'yes'], settable: false,
    description: 'yes: start empty and wait to be added to a running cluster (caskdb cluster add) instead of bootstrapping' },
  { key: 'raft.tick-ms', type: 'int', default: 100, min: 1, max: 10_000, settable: false, description: 'Raft tick interval in milliseconds' },
  { key: 'raft.election-ticks', type: 'int', default: 10, min: 2, max: 10_000, settable: false, description: 'election timeout in ticks (randomised up to twice this)' },
  { key: 'raft.heartbeat-ticks', type: 'int', default: 1, min: 1, max: 10_000, settable: false, description: 'leader heartbeat interval in ticks (less than raft.election-ticks)' },
  { key: 'raft.request-timeout-ms', type: 'int', default: 5000, min: 10, max: 600_000, settable: false,
    description: 'how long a command waits for a leader, a commit or a read index before it fails (CLUSTERDOWN / TIMEOUT)' },
  { key: 'raft.entry-bytes-max', type: 'bytes', default: 16 * MiB, min: 1024, max: 128 * MiB, settable: false,
    description: 'largest write this node proposes as one Raft log entry (larger ones are refused before they are logged); every node handles an entry in one go, so a big one can hold a node up for longer than raft.election-ticks allow on a slow machine' },
  { key: 'raft.snapshot-entries', type: 'int', default: 10_000, min: 10, max: 100_000_000, settable: false,
    description: 'take a snapshot and compact the Raft log after this many applied entries' },
  { key: 'raft.catchup-entries', type: 'int', default: 1000, min: 0, max: 100_000_000, settable: false,
    description: 'log entries kept behind a snapshot so slightly lagging followers need no snapshot' },
];

export const KEY_SPECS: ReadonlyMap<string, KeySpec> = new Map(CONFIG_KEYS.map((s) => [s.key, s]));

export function envName(key: string): string {
  return 'CASKDB_' + key.replace(/[.-]/g, '_').toUpperCase();
}

export interface ServerConfig {
  dir: string;
  bind: string;
  port: number;
  sync: 'always' | 'everysec' | 'none';
  'sync-thread': 'event-loop' | 'thread-pool';
  'value-cache-bytes': number;
  'mmap-reads': 'no' | 'yes';
  'mmap-writes': 'auto' | 'no' | 'yes';
  mode: 'standalone' | 'raft';
  maxclients: number;
  'proto-max-bulk-len': number;
  'proto-max-multibulk-len': number;
  'client-output-buffer-limit': number;
  timeout: number;
  'multi-queue-max': number;
  'slowlog-log-slower-than': number;
  'slowlog-max-len': number;
  'latency-tracking': 'yes' | 'no';
  'latency-tracking-info-percentiles': string;
  'log-level': 'debug' | 'info' | 'warn' | 'error';
  'registry.zookeeper': string;
  'registry.root': string;
  'registry.cluster': string;
  'registry.weight': number;
  'registry.advertise': string;
  'registry.sessionTimeoutMs': number;
  'raft.id': number;
  'raft.peers': string;
  'raft.dir': string;
  'raft.join': 'no' | 'yes';
  'raft.tick-ms': number;
  'raft.election-ticks': number;
  'raft.heartbeat-ticks': number;
  'raft.request-timeout-ms': number;
  'raft.entry-bytes-max': number;
  'raft.snapshot-entries': number;
  'raft.catchup-entries': number;
}

export type ConfigKey = keyof ServerConfig;

/** The engine's `valueCacheBytes` for a config: 0 stays off, and a cache is at least 4096 bytes. */
export function valueCacheBytesOf(config: Pick<ServerConfig, 'value-cache-bytes'>): number {
  const bytes = config['value-cache-bytes'];
  return bytes === 0 ? 0 : Math.max(bytes, 4096);
}

// INFO: Redis's sections (server, clients, memory, persistence, stats, keyspace; commandstats and
// errorstats and latencystats with `all`) plus `caskdb` with the engine's statistics, as `key:value` lines under `# Section` headers.
import os from 'node:os';
import { parsePercentiles } from '../config/schema.js';
import { version } from '../util/version.js';
import type { ServerContext } from './context.js';

/** The Redis version whose command semantics caskdb follows; clients gate features on it. */
export const REDIS_COMPAT_VERSION = '7.0.0';

type Section = Record<string, string | number>;

function buildSections(ctx: ServerContext): Record<string, Section> {
  const uptimeS = Math.floor((Date.now() - ctx.startedAtMs) / 1000);
  const mem = process.memoryUsage();
  const stat = ctx.store.stat();
  const sections: Record<string, Section> = {
    server: {
      redis_version: REDIS_COMPAT_VERSION,
      caskdb_version: version,
      redis_mode: 'standalone',
      caskdb_mode: ctx.store.mode,
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      arch_bits: 64,
      process_id: process.pid,
      node_version: process.version,
      tcp_port: ctx.address.port,
      uptime_in_seconds: uptimeS,
      uptime_in_days: Math.floor(uptimeS / 86400),
      config_file: ctx.configFile ?? '',
    },
    clients: {
      connected_clients: ctx.clients.size,
      maxclients: ctx.config.maxclients,
      blocked_clients: 0,
    },
    memory: {
      used_memory: mem.heapUsed + mem.external,
      used_memory_rss: mem.rss,
      used_memory_peak: mem.rss,
      maxmemory: 0,
    },
    persistence: {
      loading: 0,
      aof_enabled: 1,
      caskdb_sync: ctx.config.sync,
      rdb_bgsave_in_progress: 0,
      rdb_last_save_time: Math.floor(ctx.lastSaveAtMs / 1000),
      aof_rewrite_in_progress: stat.merging ? 1 : 0,
    },
    stats: {
      total_connections_received: ctx.stats.connectionsReceived,
      total_commands_processed: ctx.stats.commandsProcessed,
      total_net_input_bytes: ctx.stats.inputBytes,
      total_net_output_bytes: ctx.stats.outputBytes,
      rejected_connections: ctx.stats.connectionsRejected,
      total_error_replies: ctx.commandStats.errorReplies,
      protocol_errors: ctx.stats.protocolErrors,
      client_output_buffer_limit_disconnections: ctx.stats.outputLimitDisconnects,
      client_idle_timeout_disconnections: ctx.stats.timeoutDisconnects,
    },
    replication: { role: 'master', connected_slaves: 0 },
    keyspace: stat.keys > 0 ? { db0: `keys=${stat.keys},expires=0,avg_ttl=0` } : {},
    caskdb: {
      data_files: stat.dataFiles,
      active_file_id: stat.activeFileId,
      disk_bytes: stat.diskBytes,
      reclaimable_bytes: stat.reclaimableBytes,
      index_bytes: stat.indexBytes,
      index_bytes_per_key: Math.round(stat.indexBytesPerKey * 10) / 10,
      keys: stat.keys,
      last_batch_seq: stat.lastSeq,
      merge_in_progress: stat.merging ? 1 : 0,
      open_ms: Math.round(stat.openMs),
      sync: stat.sync,
      mmap_reads: stat.mmapReads ? 1 : 0,
      mmap_writes: stat.mmapWrites ? 1 : 0,
      zero_fill_appends: stat.zeroFillAppends ? 1 : 0,
      value_cache_bytes: stat.valueCache?.capacityBytes ?? 0,
      value_cache_used_bytes: stat.valueCache?.usedBytes ?? 0,
      value_cache_hits: stat.valueCache?.hits ?? 0,
      value_cache_misses: stat.valueCache?.misses ?? 0,
    },
    commandstats: ctx.commandStats.commandSection(),
    errorstats: ctx.commandStats.errorSection(),
    latencystats: ctx.commandStats.latencySection(parsePercentiles(ctx.config['latency-tracking-info-percentiles']) ?? []),
    ...ctx.store.infoSections(),
  };
  return sections;
}

const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'keyspace', 'caskdb'];
/** Sections only `all` and `everything` (or their own name) bring, as in Redis. */
const ALL_ONLY_SECTIONS = ['commandstats', 'errorstats', 'latencystats'];

/** The INFO text for the requested sections (none, `default`, `all` and `everything` as Redis reads them). */
export function renderInfo(ctx: ServerContext, requested: readonly string[]): string {
  const sections = buildSections(ctx);
  const extra = Object.keys(sections).filter((s) => !DEFAULT_SECTIONS.includes(s) && !ALL_ONLY_SECTIONS.includes(s));
  let names: string[];
  if (requested.some((r) => r === 'all' || r === 'everything')) {
    names = [...DEFAULT_SECTIONS, ...extra, ...ALL_ONLY_SECTIONS];
  } else if (requested.length === 0 || requested.includes('default')) {
    names = [...DEFAULT_SECTIONS, ...extra];
  } else {
    names = requested.filter((r) => sections[r] !== undefined);
  }
  const out: string[] = [];
  for (const name of names) {
    if (out.length > 0) out.push('');
    out.push(`# ${name === 'caskdb' ? 'Caskdb' : name.charAt(0).toUpperCase() + name.slice(1)}`);
    for (const [k, v] of Object.entries(sections[name]!)) out.push(`${k}:${v}`);
  }
  // No known section asked for: an empty reply, as Redis gives.
  return out.length === 0 ? '' : out.join('\r\n') + '\r\n';
}

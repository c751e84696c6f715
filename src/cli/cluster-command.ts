// `caskdb cluster <subcommand>`: inspect and change a cluster. A table of subcommands, each parsing its own
// flags, so the Raft cluster's status/add/remove/transfer slot in beside `ls`. Exit codes: 0 success,
// 1 a failed operation, 2 a usage error (unknown subcommand or flag, missing value).
import { CaskError, ErrorCode } from '../util/errors.js';

interface ClusterSubcommand {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

class UsageError extends Error {}

/** Parses `--name value` / `--name=value` flags; only the names in `allowed` are accepted. */
export function parseClusterFlags(argv: readonly string[], allowed: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (!allowed.includes(name)) throw new UsageError(`unknown option --${name}`);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new UsageError(`option --${name} needs a value`);
    flags.set(name, value);
  }
  return flags;
}

async function listServers(argv: string[]): Promise<number> {
  const flags = parseClusterFlags(argv, ['zookeeper', 'cluster', 'root', 'timeout-ms']);
  const zookeeper = flags.get('zookeeper');
  if (zookeeper === undefined) throw new UsageError('--zookeeper HOST:PORT is required');
  const cluster = flags.get('cluster') ?? 'default';
  const timeoutMs = Number(flags.get('timeout-ms') ?? 5_000);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout-ms must be a positive integer');
  const { ZooKeeperRegistry } = await import('../registry/index.js');
  const registry = new ZooKeeperRegistry({
    connect: zookeeper,
    ...(flags.has('root') ? { root: flags.get('root') as string } : {}),
    operationTimeoutMs: timeoutMs,
    log: () => undefined,
  });
  try {
    const servers = await registry.list(cluster);
    const rows = [['ADDRESS', 'WEIGHT', 'ROLE', 'VERSION', 'STARTED'], ...servers.map((s) => [
      s.address, String(s.data.weight), s.data.role, s.data.version || '-', s.data.startedAt || '-',
    ])];
    const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
    for (const row of rows) process.stdout.write(row.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ').trimEnd() + '\n');
    if (servers.length === 0) process.stderr.write(`no servers registered in ${registry.root}/${cluster}\n`);
    return 0;
  } finally {
    await registry.close();
  }
}

// --- Raft cluster administration (RAFT commands over a node's client port) -------------------------

function serverList(flags: Map<string, string>): string[] {
  const servers = (flags.get('server') ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (servers.length === 0) throw new UsageError('--server HOST:PORT[,HOST:PORT…] (client ports of cluster nodes) is required');
  return servers;
}

function timeoutOf(flags: Map<string, string>, fallback: number): number {
  const timeoutMs = Number(flags.get('timeout-ms') ?? fallback);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout-ms must be a positive integer');
  return timeoutMs;
}

function nodeId(flags: Map<string, string>): string {
  const id = flags.get('id');
  if (id === undefined || !/^[1-9]\d*$/.test(id)) throw new UsageError('--id N (a positive node id) is required');
  return id;
}

/** Sends `RAFT args…` to each server until one (the leader) accepts it. */
async function raftOnLeader(servers: readonly string[], args: readonly string[], timeoutMs: number): Promise<number> {
  const { adminCall } = await import('../cluster/admin-client.js');
  const errors: string[] = [];
  for (const server of servers) {
    try {
      const r = await adminCall(server, ['raft', ...args], timeoutMs);
      if (r.ok) {
        process.stdout.write(`${server}: ${r.value}\n`);
        return 0;
      }
      errors.push(`${server}: ${r.error}`);
      if (!r.error.startsWith('NOTLEADER')) break;
    } catch (error) {
      errors.push(`${server}: ${(error as Error).message}`);
    }
  }
  process.stderr.write(`caskdb cluster: RAFT ${args.join(' ')} failed\n${errors.map((e) => `  ${e}`).join('\n')}\n`);
  return 1;
}

async function raftStatus(argv: string[]): Promise<number> {
  const flags = parseClusterFlags(argv, ['server', 'timeout-ms']);
  const { adminCall } = await import('../cluster/admin-client.js');
  const timeoutMs = timeoutOf(flags, 5_000);
  let failed = 0;
  for (const server of serverList(flags)) {
    try {
      const r = await adminCall(server, ['raft', 'status'], timeoutMs);
      if (r.ok) process.stdout.write(`# ${server}\n${r.value.replace(/\r\n/g, '\n')}\n`);
      else {
        failed++;
        process.stdout.write(`# ${server}\nerror:${r.error}\n\n`);
      }
    } catch (error) {
      failed++;
      process.stdout.write(`# ${server}\nerror:${(error as Error).message}\n\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

async function raftAdd(argv: string[]): Promise<number> {
  const flags = parseClusterFlags(argv, ['server', 'id', 'peer', 'learner', 'timeout-ms']);
  const peer = flags.get('peer');
  if (peer === undefined || !/^[^\s]+:\d+$/.test(peer)) throw new UsageError('--peer HOST:PORT (the new node\'s peer address) is required');
  const args = ['add', nodeId(flags), peer];
  if (flags.get('learner') === 'yes') args.push('learner');
  return raftOnLeader(serverList(flags), args, timeoutOf(flags, 60_000));
}

async function raftRemove(argv: string[]): Promise<number> {
  const flags = parseClusterFlags(argv, ['server', 'id', 'timeout-ms']);
  return raftOnLeader(serverList(flags), ['remove', nodeId(flags)], timeoutOf(flags, 30_000));
}

async function raftPromote(argv: string[]): Promise<number> {
  const flags = parseClusterFlags(argv, ['server', 'id', 'timeout-ms']);
  return raftOnLeader(serverList(flags), ['promote', nodeId(flags)], timeoutOf(flags, 60_000));
}

async function raftTransfer(argv: string[]): Promise<number> {
  const flags = parseClusterFlags(argv, ['server', 'id', 'timeout-ms']);
  return raftOnLeader(serverList(flags), ['transfer', nodeId(flags)], timeoutOf(flags, 30_000));
}

const subcommands: Record<string, ClusterSubcommand> = {
  ls: {
    summary: 'list the servers registered in ZooKeeper, with weight and role',
    usage: 'caskdb cluster ls --zookeeper HOST:PORT [--cluster NAME] [--root /caskdb] [--timeout-ms 5000]',
    run: listServers,
  },
  status: {
    summary: 'Raft status of each node: role, term, leader, commit/applied index, peers with match and lag, last snapshot',
    usage: 'caskdb cluster status --server HOST:PORT[,HOST:PORT…] [--timeout-ms 5000]',
    run: raftStatus,
  },
  add: {
    summary: 'add a node: as a learner, then (once caught up) promoted to voter unless --learner yes',
    usage: 'caskdb cluster add --server HOST:PORT[,…] --id N --peer HOST:PORT [--learner yes] [--timeout-ms 60000]',
    run: raftAdd,
  },
  promote: {
    summary: 'promote a learner to voter (after it has caught up)',
    usage: 'caskdb cluster promote --server HOST:PORT[,…] --id N [--timeout-ms 60000]',
    run: raftPromote,
  },
  remove: {
    summary: 'remove a node from the cluster',
    usage: 'caskdb cluster remove --server HOST:PORT[,…] --id N [--timeout-ms 30000]',
    run: raftRemove,
  },
  transfer: {
    summary: 'transfer leadership to a node',
    usage: 'caskdb cluster transfer --server HOST:PORT[,…] --id N [--timeout-ms 30000]',
    run: raftTransfer,
  },
};

export function clusterUsage(): string {
  const lines = ['usage: caskdb cluster <subcommand> [options]', '', 'subcommands:'];
  for (const [name, sub] of Object.entries(subcommands)) lines.push(`  ${name.padEnd(9)} ${sub.summary}`, `            ${sub.usage}`);
  return lines.join('\n');
}

export const clusterCommand = {
  async run(argv: string[]): Promise<number> {
    const [name, ...rest] = argv;
    if (name === '--help' || name === '-h' || name === 'help') {
      process.stdout.write(clusterUsage() + '\n');
      return 0;
    }
    const sub = name === undefined ? undefined : subcommands[name];
    if (sub === undefined) {
      process.stderr.write(`${name === undefined ? 'caskdb cluster: missing subcommand' : `caskdb cluster: unknown subcommand '${name}'`}\n\n${clusterUsage()}\n`);
      return 2;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`usage: ${sub.usage}\n`);
      return 0;
    }
    try {
      return await sub.run(rest);
    } catch (error) {
      if (error instanceof UsageError) {
        process.stderr.write(`caskdb cluster ${name}: ${error.message}\nusage: ${sub.usage}\n`);
        return 2;
      }
      if (error instanceof CaskError && error.code === ErrorCode.Config) {
        process.stderr.write(`caskdb cluster ${name}: ${error.message} [${error.code}]\n`);
        return 2;
      }
      throw error;
    }
  },
};

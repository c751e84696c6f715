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

const subcommands: Record<string, ClusterSubcommand> = {
  ls: {
    summary: 'list the servers registered in ZooKeeper, with weight and role',
    usage: 'caskdb cluster ls --zookeeper HOST:PORT [--cluster NAME] [--root /caskdb] [--timeout-ms 5000]',
    run: listServers,
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

// Subcommand table for the CLI. Each entry is a module exporting `run(argv): Promise<number>`.
import { CaskError } from '../util/errors.js';
import { failureText } from './data-commands.js';

export interface SubcommandModule {
  run(argv: string[]): Promise<number>;
}

interface Subcommand {
  summary: string;
  load(): Promise<SubcommandModule>;
}

const subcommands: Record<string, Subcommand> = {
  get: { summary: 'print the value of a key', load: () => import('./data-commands.js').then((m) => m.getCommand) },
  put: { summary: 'store a value under a key', load: () => import('./data-commands.js').then((m) => m.putCommand) },
  del: { summary: 'delete a key', load: () => import('./data-commands.js').then((m) => m.delCommand) },
  dump: { summary: 'print every live pair in key order', load: () => import('./data-commands.js').then((m) => m.dumpCommand) },
  check: { summary: 'verify every record of a data directory', load: () => import('./check-command.js').then((m) => m.checkCommand) },
  stat: { summary: 'print statistics of a data directory', load: () => import('./data-commands.js').then((m) => m.statCommand) },
  merge: { summary: 'compact a data directory', load: () => import('./data-commands.js').then((m) => m.mergeCommand) },
  backup: { summary: 'copy a consistent snapshot of a data directory', load: () => import('./data-commands.js').then((m) => m.backupCommand) },
  server: { summary: 'run the Redis-protocol server', load: () => import('../server/cli.js').then((m) => m.serverCommand) },
  cluster: { summary: 'inspect and change a cluster (ls, status, add, remove, transfer)', load: () => import('./cluster-command.js').then((m) => m.clusterCommand) },
};

export function usage(): string {
  const lines = ['usage: caskdb <command> [options]', '', 'commands:'];
  for (const [name, sub] of Object.entries(subcommands)) lines.push(`  ${name.padEnd(8)} ${sub.summary}`);
  lines.push('', 'Run `caskdb <command> --help` for the options of one command.');
  return lines.join('\n');
}

export async function runCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { version } = await import('../util/version.js');
    process.stdout.write(`caskdb ${version}\n`);
    return 0;
  }
  const sub = subcommands[name];
  if (sub === undefined) {
    process.stderr.write(`caskdb: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  try {
    const module = await sub.load();
    return await module.run(rest);
  } catch (error) {
    if (error instanceof CaskError) {
      process.stderr.write(failureText(name, error));
      return 1;
    }
    throw error;
  }
}

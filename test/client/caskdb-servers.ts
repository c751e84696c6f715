// Real `caskdb server` processes for end-to-end tests, registered in a test ZooKeeper: start, SIGKILL,
// SIGTERM (graceful), restart on the same port and directory. Every process is killed at exit.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCaskdb } from '../support/cli.js';
import { freePort } from '../support/zookeeper.js';
import { waitForPing } from './servers.js';

const live = new Set<ChildProcess>();
process.on('exit', () => { for (const c of live) c.kill('SIGKILL'); });

export interface CaskdbProcess {
  readonly port: number;
  readonly address: string;
  /** stderr so far (the server's JSON log lines). */
  log(): string;
  kill(): Promise<void>;
  /** SIGTERM and wait for exit; returns the exit code. */
  terminate(): Promise<number | null>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export interface CaskdbRegistryOptions {
  zookeeper: string;
  cluster: string;
  weight?: number;
  sessionTimeoutMs?: number;
}

export async function startCaskdb(registry: CaskdbRegistryOptions): Promise<CaskdbProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'caskdb-e2e-'));
  let child: ChildProcess | undefined;
  let stderr = '';
  const args = [
    'server', '--port', String(port), '--dir', join(dir, 'data'),
    '--registry.zookeeper', registry.zookeeper, '--registry.cluster', registry.cluster,
    '--registry.sessionTimeoutMs', String(registry.sessionTimeoutMs ?? 1_000),
    ...(registry.weight === undefined ? [] : ['--registry.weight', String(registry.weight)]),
  ];
  const start = async (): Promise<void> => {
    const c = spawnCaskdb(args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    live.add(c);
    c.once('exit', () => live.delete(c));
    c.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await waitForPing(port, c, () => stderr);
  };
  const signal = async (sig: NodeJS.Signals): Promise<number | null> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return c?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code)));
    c.kill(sig);
    return exited;
  };
  await start();
  return {
    port,
    address: `127.0.0.1:${port}`,
    log: () => stderr,
    kill: async () => { await signal('SIGKILL'); },
    terminate: () => signal('SIGTERM'),
    start,
    destroy: async () => { await signal('SIGKILL'); rmSync(dir, { recursive: true, force: true }); },
  };
}

// Test harness: a real ZooKeeper (Debian package `zookeeper`, installed with apt-get when missing) run in
// standalone mode on a free loopback port with its own temp dataDir and config. Short tickTime so tests can
// ask for short session timeouts. Every server started here is killed at process exit, even on failure.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { freePort } from './ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const JAVA_DIR = '/usr/share/java';
const JARS = [
  'zookeeper.jar', 'zookeeper-jute.jar', 'slf4j-api.jar', 'slf4j-simple.jar', 'netty-handler.jar', 'netty-common.jar',
  'netty-buffer.jar', 'netty-transport.jar', 'netty-codec.jar', 'netty-resolver.jar', 'netty-transport-native-epoll.jar',
  'netty-transport-native-unix-common.jar', 'metrics-core.jar', 'snappy-java.jar', 'commons-cli.jar', 'commons-io.jar',
];

const live = new Set<ChildProcess>();
process.on('exit', () => { for (const child of live) child.kill('SIGKILL'); });

let installed = false;
/** Installs the Debian package when its jar is missing (CI machines start without it). */
export function ensureZooKeeperInstalled(): void {
  if (installed || existsSync(join(JAVA_DIR, 'zookeeper.jar'))) { installed = true; return; }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-q', 'zookeeper'], { stdio: 'ignore', env, timeout: 300_000 });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore', env, timeout: 300_000 });
    r = spawnSync('apt-get', ['install', '-y', '-q', 'zookeeper'], { stdio: 'ignore', env, timeout: 300_000 });
  }
  if (!existsSync(join(JAVA_DIR, 'zookeeper.jar'))) throw new Error('ZooKeeper is not installed and `apt-get install -y zookeeper` failed');
  installed = true;
}

export { freePort };

/** Sends a four-letter word and returns the answer ('' when the server is not up). */
function fourLetterWord(port: number, word: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.setTimeout(1_000, () => socket.destroy());
    socket.on('connect', () => socket.write(word));
    socket.on('data', (d) => (answer += d.toString('utf8')));
    socket.on('error', () => resolve(''));
    socket.on('close', () => resolve(answer));
  });
}

export interface ZooKeeperServer {
  readonly port: number;
  /** Connect string: 127.0.0.1:<port> */
  readonly connect: string;
  readonly dataDir: string;
  /** Stops the server (SIGTERM, SIGKILL after 5 s); data is kept for `start()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port and dataDir (sessions survive if clients reconnect in time). */
  start(): Promise<void>;
  /** Stops it and deletes its directory. */
  destroy(): Promise<void>;
}

export async function startZooKeeper(options: { tickTimeMs?: number } = {}): Promise<ZooKeeperServer> {
  ensureZooKeeperInstalled();
  const tickTimeMs = options.tickTimeMs ?? 100;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'caskdb-zk-'));
  const dataDir = join(dir, 'data');
  const config = join(dir, 'zoo.cfg');
  writeFileSync(config, [
    `tickTime=${tickTimeMs}`, `dataDir=${dataDir}`, `clientPort=${port}`, 'clientPortAddress=127.0.0.1',
    `minSessionTimeout=${tickTimeMs * 2}`, `maxSessionTimeout=${tickTimeMs * 600}`, 'admin.enableServer=false',
    '4lw.commands.whitelist=ruok,srvr', 'maxClientCnxns=0', '',
  ].join('\n'));
  const classpath = JARS.map((j) => join(JAVA_DIR, j)).filter((p) => existsSync(p)).join(':');
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) return;
    const log = openSync(join(dir, 'zookeeper.log'), 'a');
    child = spawn('java', ['-Xmx256m', '-cp', classpath, '-Dzookeeper.admin.enableServer=false', 'org.apache.zookeeper.server.quorum.QuorumPeerMain', config], { stdio: ['ignore', log, log] });
    closeSync(log);
    live.add(child);
    const started = child;
    started.once('exit', () => live.delete(started));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (started.exitCode !== null) throw new Error(`ZooKeeper exited with ${started.exitCode}; see ${dir}/zookeeper.log`);
      if ((await fourLetterWord(port, 'ruok')) === 'imok' && (await fourLetterWord(port, 'srvr')).includes('Mode: standalone')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`ZooKeeper did not start within 30 s; see ${dir}/zookeeper.log`);
  };

  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    connect: `127.0.0.1:${port}`,
    dataDir,
    stop,
    start,
    destroy: async () => { await stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}

export interface TcpProxy {
  readonly port: number;
  /** Drops every connection and refuses new ones for `ms` (a network partition), then lets them through again. */
  partition(ms: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy to `targetPort`, used to partition one client from ZooKeeper (e.g. to expire its session).
 * `silentConnections`: that many first connections are accepted and then ignored — never forwarded, never
 * answered, never closed until the proxy closes (a server that accepts but does not serve).
 */
export async function startTcpProxy(targetPort: number, options: { silentConnections?: number } = {}): Promise<TcpProxy & { connections(): number }> {
  const sockets = new Set<import('node:net').Socket>();
  let blocked = false;
  let connections = 0;
  const server = createServer((inbound) => {
    connections++;
    if (connections <= (options.silentConnections ?? 0)) { sockets.add(inbound); return; }
    if (blocked) { inbound.destroy(); return; }
    const outbound = connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(inbound).add(outbound);
    const drop = (): void => { inbound.destroy(); outbound.destroy(); sockets.delete(inbound); sockets.delete(outbound); };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    connections: () => connections,
    partition: async (ms) => {
      blocked = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise((r) => setTimeout(r, ms));
      blocked = false;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

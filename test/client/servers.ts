// Backends for client tests: real `caskdb server` processes on loopback (or redis-server with
// CASKDB_CLIENT_TEST_BACKEND=redis-server, to tell client bugs from server bugs), a latency-adding TCP
// proxy (a "slow server"), and a server that swallows requests and drops the connection (a write that
// may have been applied). Every test stops what it started; a process-exit hook kills leftovers.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../support/zookeeper.js';
import { spawnCaskdb } from '../support/cli.js';

export interface Backend {
  readonly port: number;
  readonly address: string;
  /** SIGKILL, like a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port (and data directory). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => { for (const c of live) c.kill('SIGKILL'); });

/**
 * Waits until a server answers PING on `port` (20 s: a loaded CI machine starts processes slowly); fails at
 * once, with its log, if the child exits first.
 */
export async function waitForPing(port: number, child?: ChildProcess, log: () => string = () => ''): Promise<void> {
  const timeoutMs = 20_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`server on ${port} exited with ${child.exitCode}: ${log()}`);
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, protocol: 2, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      if ((await redis.ping()) === 'PONG') return;
    } catch { /* not yet */ } finally { redis.disconnect(); }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no PONG from 127.0.0.1:${port} within ${timeoutMs} ms: ${log()}`);
}

/** A key-value server for client tests: `caskdb server` unless CASKDB_CLIENT_TEST_BACKEND=redis-server. */
export async function startServer(): Promise<Backend> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'caskdb-client-test-'));
  const useRedis = process.env['CASKDB_CLIENT_TEST_BACKEND'] === 'redis-server';
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = useRedis
      ? spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
      : spawnCaskdb(['server', '--port', String(port), '--dir', join(dir, 'data')], { stdio: 'ignore' });
    live.add(child);
    const c = child;
    c.once('exit', () => live.delete(c));
    await waitForPing(port, c);
  };
  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    address: `127.0.0.1:${port}`,
    kill,
    restart: async () => { await kill(); await start(); },
    stop: async () => { await kill(); rmSync(dir, { recursive: true, force: true }); },
  };
}

export interface Proxy {
  readonly address: string;
  /** Extra delay applied to every chunk from the client to the server. */
  delayMs: number;
  close(): Promise<void>;
}

/** A TCP proxy to 127.0.0.1:targetPort that delays requests by `delayMs` (a deliberately slowed server). */
export async function startDelayProxy(targetPort: number, delayMs: number): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const proxy: Proxy = { address: '', delayMs, close: async () => undefined };
  const server: Server = createServer((inbound) => {
    const outbound = connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(inbound).add(outbound);
    const drop = (): void => { inbound.destroy(); outbound.destroy(); };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    inbound.on('data', (chunk) => setTimeout(() => outbound.write(chunk), proxy.delayMs));
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return Object.assign(proxy, {
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/** Accepts connections, reads whatever comes, and closes the connection after the first bytes arrive. */
export async function startSwallowingServer(): Promise<{ address: string; received: () => number; close(): Promise<void> }> {
  let received = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', () => { received++; socket.destroy(); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    received: () => received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A direct connection to one server, to check where keys landed. */
export async function direct(address: string): Promise<Redis> {
  const [host, port] = address.split(':');
  const redis = new Redis({ host: host ?? '127.0.0.1', port: Number(port), lazyConnect: true, protocol: 2, maxRetriesPerRequest: 0 });
  await redis.connect();
  return redis;
}

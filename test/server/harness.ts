// Test harness for the server: starts `caskdb server` as a real child process on a free loopback port
// (--port 0; the port is read from the ready log line), talks raw RESP, and makes sure redis-tools is
// installed (apt-get when redis-cli is missing). Every started process is stopped by `stop()`.
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { spawnCaskdb } from '../support/cli.js';

export interface RunningServer {
  port: number;
  dir: string;
  child: ChildProcess;
  stderr: () => string;
  /** SIGTERM and wait; returns the exit code. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export function tempDir(prefix = 'caskdb-server-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** An environment without CASKDB_* variables, so a developer's shell cannot change the tests. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CASKDB_')) env[k] = v;
  return { ...env, ...extra };
}

export async function startServer(args: string[] = [], options: { dir?: string; env?: Record<string, string> } = {}): Promise<RunningServer> {
  const dir = options.dir ?? join(tempDir(), 'data');
  const child = spawnCaskdb(['server', '--dir', dir, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(options.env) });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${err}`)), 20_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /"event":"ready".*?"port":(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${err}`));
    });
  });
  child.stdout!.resume();
  return {
    port,
    dir,
    child,
    stderr: () => err,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        process.stderr.write(`server did not stop within 15 s; its log:\n${err}\n`);
        writeFileSync(join(tmpdir(), 'caskdb-server-stop-timeout.log'), err);
        child.kill('SIGKILL');
      }, 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A started server with one connected ioredis client (no retries: a failure must surface at once). */
export interface ServerWithClient {
  server: RunningServer;
  redis: Redis;
}

export async function startServerWithClient(args: string[]): Promise<ServerWithClient> {
  const server = await startServer(args);
  const redis = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  await redis.connect();
  return { server, redis };
}

/** Drops the client, stops the server (asserting a clean exit 0) and removes its directory; safe after a failed start. */
export async function stopServerWithClient(started: Partial<ServerWithClient>): Promise<void> {
  started.redis?.disconnect();
  const code = await started.server?.stop();
  if (started.server) removeDir(started.server.dir);
  assert.equal(code, 0);
}

/** Removes a data directory, and the temporary directory around it when the harness made one. */
export function removeDir(dir: string): void {
  const parent = dirname(dir);
  rmSync(basename(parent).startsWith('caskdb-server-') ? parent : dir, { recursive: true, force: true });
}

let toolsChecked = false;
/** Installs Debian's redis-tools when redis-cli is missing (CI runs as root with network access). */
export function ensureRedisTools(): void {
  if (toolsChecked) return;
  if (spawnSync('which', ['redis-cli']).status !== 0 || spawnSync('which', ['redis-benchmark']).status !== 0) {
    execFileSync('apt-get', ['update'], { stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', 'redis-tools'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  toolsChecked = true;
}

export function redisCli(port: number, args: string[], input?: string): { stdout: string; stderr: string; status: number | null } {
  ensureRedisTools();
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', input: input ?? '', timeout: 20_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

/** A raw RESP connection: send bytes, read until a predicate holds on everything received. */
export class RawClient {
  readonly socket: net.Socket;
  private received = Buffer.alloc(0);
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  text(): string {
    return this.received.toString('latin1');
  }

  /** Waits until `predicate(text)` or the connection closes or `ms` pass. */
  async until(predicate: (text: string) => boolean, ms = 5000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!predicate(this.text()) && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.max(1, deadline - Date.now()));
      });
    }
    return this.text();
  }

  async waitClosed(ms = 5000): Promise<boolean> {
    await this.until(() => false, ms);
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

export function resp(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

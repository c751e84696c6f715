// Cluster benchmark (a table, not a timed test): a 3-node caskdb cluster (mode raft) vs a 3-node etcd cluster,
// same machine, loopback, each system's data under one temp dir. Closed-loop clients (1/16/64), each with
// its own connection, spread round-robin over the three nodes; 100-byte values over 10 000 keys. etcd is
// driven over its native gRPC API (HTTP/2, hand-encoded protobuf), caskdb over RESP. Measures write
// throughput and p50/p99, linearizable read throughput and p50/p99, and failover (kill -9 the leader →
// first successful write). Run: npm run bench:cluster (installs etcd-server with apt-get when missing).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(import.meta.url).includes('/dist/bench/');
const repoRoot = fileURLToPath(new URL(compiled ? '../../' : '../', import.meta.url));
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000;
const KEYS = 10_000;
const VALUE = 'v'.repeat(100);
const CONCURRENCY = [1, 16, 64];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

// ---- clients: one request at a time per connection ----

interface BenchClient {
  put(key: string, value: string): Promise<boolean>;
  get(key: string): Promise<boolean>;
  close(): void;
}

class RespConn implements BenchClient {
  private readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private waiter: ((ok: boolean) => void) | undefined;
  readonly ready: Promise<void>;
  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => this.finish(false));
    this.socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      const nl = this.buf.indexOf('\r\n');
      if (nl < 0) return;
      const t = this.buf[0];
      if (t === 0x24 /* $ */) {
        const n = Number(this.buf.toString('latin1', 1, nl));
        const end = n < 0 ? nl + 2 : nl + 2 + n + 2;
        if (this.buf.length < end) return;
        this.buf = this.buf.subarray(end);
        this.finish(true);
      } else {
        this.buf = this.buf.subarray(nl + 2);
        this.finish(t !== 0x2d /* - */);
      }
    });
  }
  private finish(ok: boolean): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.(ok);
  }
  private call(args: string[]): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.socket.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
    });
  }
  put(key: string, value: string): Promise<boolean> {
    return this.call(['SET', key, value]);
  }
  get(key: string): Promise<boolean> {
    return this.call(['GET', key]);
  }
  close(): void {
    this.socket.destroy();
  }
}

function pbBytes(field: number, b: Buffer): Buffer {
  const len: number[] = [];
  let n = b.length;
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...len]), b]);
}

class EtcdConn implements BenchClient {
  private readonly session: http2.ClientHttp2Session;
  constructor(port: number) {
    this.session = http2.connect(`http://127.0.0.1:${port}`);
    this.session.on('error', () => undefined);
  }
  private call(path: string, msg: Buffer): Promise<boolean> {
    return new Promise((resolve) => {
      const req = this.session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
      let status: string | undefined;
      req.on('response', (h) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      });
      req.on('trailers', (t) => (status = String(t['grpc-status'])));
      req.on('data', () => undefined);
      req.on('end', () => resolve(status === '0'));
      req.on('error', () => resolve(false));
      const frame = Buffer.allocUnsafe(5 + msg.length);
      frame[0] = 0;
      frame.writeUInt32BE(msg.length, 1);
      msg.copy(frame, 5);
      req.end(frame);
    });
  }
  put(key: string, value: string): Promise<boolean> {
    return this.call('/etcdserverpb.KV/Put', Buffer.concat([pbBytes(1, Buffer.from(key)), pbBytes(2, Buffer.from(value))]));
  }
  /** Range without `serializable`: a linearizable read. */
  get(key: string): Promise<boolean> {
    return this.call('/etcdserverpb.KV/Range', pbBytes(1, Buffer.from(key)));
  }
  close(): void {
    this.session.destroy();
  }
}

// ---- clusters ----

interface ClusterUnderTest {
  readonly name: string;
  readonly clientPorts: number[];
  connect(port: number): Promise<BenchClient>;
  leaderIndex(): Promise<number>;
  kill(i: number): void;
  stop(): void;
}

async function waitPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`port ${port} did not open`);
}

function respInfo(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let out = '';
    s.on('connect', () => s.write('*2\r\n$4\r\nINFO\r\n$4\r\nraft\r\n'));
    s.on('data', (d) => {
      out += d.toString();
      if (out.includes('peer')) s.destroy();
    });
    s.on('error', () => resolve(''));
    s.on('close', () => resolve(out));
    setTimeout(() => s.destroy(), 2000);
  });
}

async function startCaskdb(root: string): Promise<ClusterUnderTest> {
  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const peerPorts = [await freePort(), await freePort(), await freePort()];
  const peers = peerPorts.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
  const procs: Array<ChildProcess | undefined> = clientPorts.map((port, i) =>
    spawn(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'server', '--mode', 'raft', '--dir', join(root, `caskdb${i + 1}`),
      '--port', String(port), '--raft.id', String(i + 1), '--raft.peers', peers, '--log-level', 'warn', '--raft.snapshot-entries', '200000'], { stdio: 'ignore' }),
  );
  await Promise.all(clientPorts.map((p) => waitPort(p)));
  const cluster: ClusterUnderTest = {
    name: 'caskdb',
    clientPorts,
    async connect(port) {
      const c = new RespConn(port);
      await c.ready;
      return c;
    },
    async leaderIndex() {
      for (;;) {
        for (let i = 0; i < 3; i++) {
          if (procs[i] === undefined) continue;
          const info = await respInfo(clientPorts[i]!);
          if (/role:leader/.test(info)) return i;
        }
        await sleep(20);
      }
    },
    kill(i) {
      procs[i]?.kill('SIGKILL');
      procs[i] = undefined;
    },
    stop() {
      for (const p of procs) p?.kill('SIGKILL');
    },
  };
  await cluster.leaderIndex();
  return cluster;
}

async function startEtcd(root: string): Promise<ClusterUnderTest> {
  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const peerPorts = [await freePort(), await freePort(), await freePort()];
  const initial = peerPorts.map((p, i) => `e${i + 1}=http://127.0.0.1:${p}`).join(',');
  const procs: Array<ChildProcess | undefined> = clientPorts.map((port, i) =>
    spawn('etcd', [
      '--name', `e${i + 1}`, '--data-dir', join(root, `etcd${i + 1}`),
      '--listen-client-urls', `http://127.0.0.1:${port}`, '--advertise-client-urls', `http://127.0.0.1:${port}`,
      '--listen-peer-urls', `http://127.0.0.1:${peerPorts[i]}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPorts[i]}`,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'bench', '--log-level', 'error', '--logger', 'zap',
    ], { stdio: 'ignore' }),
  );
  await Promise.all(clientPorts.map((p) => waitPort(p)));
  const endpoints = clientPorts.map((p) => `http://127.0.0.1:${p}`);
  const cluster: ClusterUnderTest = {
    name: 'etcd',
    clientPorts,
    async connect(port) {
      return new EtcdConn(port);
    },
    async leaderIndex() {
      for (;;) {
        const live = endpoints.filter((_, i) => procs[i] !== undefined);
        const r = spawnSync('etcdctl', ['--endpoints', live.join(','), 'endpoint', 'status', '-w', 'json', '--command-timeout=1s'], { encoding: 'utf8' });
        try {
          const rows = JSON.parse(r.stdout) as Array<{ Endpoint: string; Status: { header: { member_id: number }; leader: number } }>;
          const lead = rows.find((row) => row.Status.leader !== 0 && String(row.Status.header.member_id) === String(row.Status.leader));
          if (lead !== undefined) return endpoints.indexOf(lead.Endpoint);
        } catch {
          // not ready yet
        }
        await sleep(50);
      }
    },
    kill(i) {
      procs[i]?.kill('SIGKILL');
      procs[i] = undefined;
    },
    stop() {
      for (const p of procs) p?.kill('SIGKILL');
    },
  };
  // Wait until a write succeeds.
  const c = await cluster.connect(clientPorts[0]!);
  while (!(await c.put('warmup', 'x'))) await sleep(100);
  c.close();
  return cluster;
}

// ---- load ----

interface Result {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function runLoad(cluster: ClusterUnderTest, clients: number, kind: 'write' | 'read'): Promise<Result> {
  const conns = await Promise.all(Array.from({ length: clients }, (_, i) => cluster.connect(cluster.clientPorts[i % 3]!)));
  const latencies: number[] = [];
  let errors = 0;
  let stop = false;
  const started = performance.now();
  const workers = conns.map(async (c, i) => {
    let n = i * 7919;
    while (!stop) {
      const key = `key${(n = (n * 1103515245 + 12345) % 2147483648) % KEYS}`;
      const t0 = performance.now();
      const ok = kind === 'write' ? await c.put(key, VALUE) : await c.get(key);
      if (ok) latencies.push(performance.now() - t0);
      else errors++;
    }
  });
  await sleep(DURATION_MS);
  stop = true;
  await Promise.all(workers);
  const elapsed = (performance.now() - started) / 1000;
  for (const c of conns) c.close();
  const sorted = Float64Array.from(latencies).sort();
  return { opsPerSec: latencies.length / elapsed, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), errors };
}

async function populate(cluster: ClusterUnderTest): Promise<void> {
  const conns = await Promise.all(Array.from({ length: 32 }, (_, i) => cluster.connect(cluster.clientPorts[i % 3]!)));
  let next = 0;
  await Promise.all(conns.map(async (c) => {
    while (next < KEYS) {
      const k = next++;
      await c.put(`key${k}`, VALUE);
    }
  }));
  for (const c of conns) c.close();
}

async function failover(cluster: ClusterUnderTest): Promise<number> {
  const leader = await cluster.leaderIndex();
  const survivor = (leader + 1) % 3;
  const c = await cluster.connect(cluster.clientPorts[survivor]!);
  const killedAt = performance.now();
  cluster.kill(leader);
  for (;;) {
    if (await c.put('failover', String(Date.now()))) break;
    await sleep(5);
  }
  const ms = performance.now() - killedAt;
  c.close();
  return ms;
}

function ensureEtcd(): void {
  if (spawnSync('which', ['etcd']).status === 0 && spawnSync('which', ['etcdctl']).status === 0) return;
  process.stderr.write('etcd missing: apt-get install -y etcd-server etcd-client\n');
  const r = spawnSync('apt-get', ['install', '-y', 'etcd-server', 'etcd-client'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('could not install etcd-server/etcd-client');
}

async function benchSystem(start: (root: string) => Promise<ClusterUnderTest>, root: string): Promise<{ name: string; rows: Map<string, Result>; failoverMs: number }> {
  const cluster = await start(root);
  try {
    await populate(cluster);
    const rows = new Map<string, Result>();
    for (const n of CONCURRENCY) {
      rows.set(`write ${n}`, await runLoad(cluster, n, 'write'));
      rows.set(`read ${n}`, await runLoad(cluster, n, 'read'));
    }
    const failoverMs = await failover(cluster);
    return { name: cluster.name, rows, failoverMs };
  } finally {
    cluster.stop();
  }
}

async function main(): Promise<void> {
  ensureEtcd();
  const root = fs.mkdtempSync(join(os.tmpdir(), 'caskdb-cluster-bench-'));
  try {
    const etcdVersion = spawnSync('etcd', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
    process.stdout.write(`cluster benchmark: 3 nodes each on loopback, ${os.cpus().length} CPUs, ${DURATION_MS / 1000} s per cell, 100-byte values, ${KEYS} keys; ${etcdVersion}\n`);
    const cask = await benchSystem(startCaskdb, root);
    const etcd = await benchSystem(startEtcd, root);
    const fmt = (r: Result | undefined): string[] =>
      r === undefined ? ['-', '-', '-'] : [Math.round(r.opsPerSec).toLocaleString('en-US'), r.p50Ms.toFixed(2), r.p99Ms.toFixed(2)];
    const header = ['workload', 'clients', 'caskdb ops/s', 'p50 ms', 'p99 ms', 'etcd ops/s', 'p50 ms', 'p99 ms', 'caskdb/etcd'];
    const lines: string[][] = [header];
    for (const kind of ['write', 'read']) {
      for (const n of CONCURRENCY) {
        const a = cask.rows.get(`${kind} ${n}`);
        const b = etcd.rows.get(`${kind} ${n}`);
        const ratio = a !== undefined && b !== undefined ? (a.opsPerSec / b.opsPerSec).toFixed(2) + '×' : '-';
        lines.push([kind === 'write' ? 'write (SET / Put)' : 'linearizable read (GET / Range)', String(n), ...fmt(a), ...fmt(b), ratio]);
      }
    }
    lines.push(['failover: kill -9 leader → first write', '1', `${Math.round(cask.failoverMs)} ms`, '', '', `${Math.round(etcd.failoverMs)} ms`, '', '', '']);
    const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
    for (const l of lines) process.stdout.write('| ' + l.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |\n');
    const errors = [...cask.rows.values(), ...etcd.rows.values()].reduce((n, r) => n + r.errors, 0);
    if (errors > 0) process.stdout.write(`(${errors} failed requests were excluded from the latencies)\n`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`cluster bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);

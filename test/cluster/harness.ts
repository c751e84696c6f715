// Real caskdb server processes in mode raft on loopback, for the cluster tests: free ports, start/kill/restart
// nodes, a minimal RESP client with timeouts (every outcome is a value, never a hang), a fault-injecting TCP
// proxy for each directed peer link (partitions), history recording for the linearizability checker, and
// `caskdb dump` of every data directory. `stopAll` kills every process and proxy the cluster started.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { runCaskdb, spawnCaskdb } from '../support/cli.js';

import { freePort } from '../support/ports.js';

export { freePort };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- a minimal RESP client ----

export type RespValue = string | number | null | Buffer | RespError | RespValue[];
export class RespError {
  constructor(readonly message: string) {}
}

function parseReply(buf: Buffer, off: number): { value: RespValue; next: number } | undefined {
  if (off >= buf.length) return undefined;
  const nl = buf.indexOf('\r\n', off);
  if (nl < 0) return undefined;
  const type = String.fromCharCode(buf[off]!);
  const line = buf.toString('utf8', off + 1, nl);
  switch (type) {
    case '+':
      return { value: line, next: nl + 2 };
    case '-':
      return { value: new RespError(line), next: nl + 2 };
    case ':':
      return { value: Number(line), next: nl + 2 };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, next: nl + 2 };
      if (buf.length < nl + 2 + n + 2) return undefined;
      return { value: buf.subarray(nl + 2, nl + 2 + n).toString('utf8'), next: nl + 2 + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, next: nl + 2 };
      const items: RespValue[] = [];
      let p = nl + 2;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (r === undefined) return undefined;
        items.push(r.value);
        p = r.next;
      }
      return { value: items, next: p };
    }
    default:
      throw new Error(`bad RESP type ${type}`);
  }
}

/** One connection; `call` resolves with the reply, a RespError, or 'timeout' / 'closed'. */
export class RespClient {
  private socket: net.Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<(v: RespValue | 'closed') => void> = [];
  private connecting: Promise<boolean> | undefined;
  broken = false;

  constructor(readonly port: number) {}

  private connect(): Promise<boolean> {
    this.connecting ??= new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: this.port, noDelay: true });
      s.once('connect', () => {
        this.socket = s;
        resolve(true);
      });
      s.on('data', (d: Buffer) => {
        this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
        for (;;) {
          const r = parseReply(this.buf, 0);
          if (r === undefined) break;
          this.buf = this.buf.subarray(r.next);
          this.waiters.shift()?.(r.value);
        }
      });
      s.on('error', () => undefined);
      s.on('close', () => {
        this.broken = true;
        resolve(false);
        for (const w of this.waiters.splice(0)) w('closed');
      });
    });
    return this.connecting;
  }

  async call(args: readonly string[], timeoutMs = 10_000): Promise<RespValue | 'timeout' | 'closed'> {
    if (this.broken || !(await this.connect()) || this.socket === undefined) return 'closed';
    const parts = [`*${args.length}\r\n`];
    for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // The reply may still come; this connection is no longer usable for ordered replies.
        this.broken = true;
        this.socket?.destroy();
        resolve('timeout');
      }, timeoutMs);
      this.waiters.push((v) => {
        clearTimeout(timer);
        resolve(v);
      });
      this.socket!.write(parts.join(''));
    });
  }

  close(): void {
    this.broken = true;
    this.socket?.destroy();
  }
}

// ---- a fault-injecting proxy for one directed peer link ----

export class LinkProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<net.Socket>();
  blocked = false;
  port = 0;
  /** Bytes sent back through the proxy (target → dialer), and an optional one-shot cut after N of them. */
  downstreamBytes = 0;
  cutAfterBytes: number | undefined;
  cuts = 0;

  constructor(readonly targetPort: number) {
    this.server = net.createServer((client) => {
      if (this.blocked) {
        client.destroy();
        return;
      }
      const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort });
      this.pairs.add(client);
      this.pairs.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(client);
        this.pairs.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
      upstream.on('data', (d: Buffer) => {
        this.downstreamBytes += d.length;
        if (this.cutAfterBytes !== undefined && this.downstreamBytes >= this.cutAfterBytes) {
          this.cutAfterBytes = undefined;
          this.block();
          this.cuts++;
        }
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Cuts the link: open connections die, new ones are refused until heal(). */
  block(): void {
    this.blocked = true;
    for (const s of this.pairs) s.destroy();
    this.pairs.clear();
  }

  heal(): void {
    this.blocked = false;
  }

  async close(): Promise<void> {
    this.block();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---- the cluster ----

export interface NodeInfo {
  readonly id: number;
  readonly dir: string;
  readonly clientPort: number;
  readonly peerPort: number;
  proc: ChildProcess | undefined;
  stderr: string;
  join: boolean;
}

export interface ClusterOptions {
  readonly nodes: number;
  /** Put a proxy on every directed peer link (partition tests). */
  readonly proxies?: boolean;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEntries?: number;
  readonly catchupEntries?: number;
  readonly requestTimeoutMs?: number;
  readonly sync?: 'always' | 'everysec' | 'none';
  /** More server flags for every node. */
  readonly extraArgs?: readonly string[];
}

export class Cluster {
  readonly root: string;
  readonly nodes = new Map<number, NodeInfo>();
  /** proxies.get(`${from}->${to}`) */
  readonly proxies = new Map<string, LinkProxy>();
  private readonly clients: RespClient[] = [];

  constructor(readonly options: ClusterOptions) {
    this.root = fs.mkdtempSync(join(os.tmpdir(), 'caskdb-cluster-'));
  }

  get tickMs(): number {
    return this.options.tickMs ?? 20;
  }
  get electionTicks(): number {
    return this.options.electionTicks ?? 10;
  }
  /** One election timeout (upper bound of the randomised range) in ms. */
  get electionMs(): number {
    return 2 * this.tickMs * this.electionTicks;
  }

  async addNodeSlot(id: number, join: boolean): Promise<NodeInfo> {
    const info: NodeInfo = { id, dir: join === true ? this.dirOf(id) : this.dirOf(id), clientPort: await freePort(), peerPort: await freePort(), proc: undefined, stderr: '', join };
    this.nodes.set(id, info);
    if (this.options.proxies === true) {
      for (const other of this.nodes.values()) {
        if (other.id === id) continue;
        for (const [from, to] of [[id, other.id], [other.id, id]] as const) {
          const p = new LinkProxy(this.nodes.get(to)!.peerPort);
          await p.listen();
          this.proxies.set(`${from}->${to}`, p);
        }
      }
    }
    return info;
  }

  private dirOf(id: number): string {
    return join(this.root, `n${id}`);
  }

  async init(): Promise<void> {
    for (let id = 1; id <= this.options.nodes; id++) await this.addNodeSlot(id, false);
  }

  /** raft.peers as node `id` sees it: its own real peer port, the others through proxies when enabled. */
  peersFor(id: number): string {
    const parts: string[] = [];
    for (const n of [...this.nodes.values()].sort((a, b) => a.id - b.id)) {
      if (n.join && n.id !== id && !this.nodes.get(id)!.join) continue; // founders do not know joiners
      const port = n.id === id || this.options.proxies !== true ? n.peerPort : this.proxies.get(`${id}->${n.id}`)!.port;
      parts.push(`${n.id}=127.0.0.1:${port}`);
    }
    return parts.join(',');
  }

  /** The peer address others should use for `id` (the proxy from `via` when proxies are on). */
  peerAddressOf(id: number, via: number): string {
    const port = this.options.proxies === true ? this.proxies.get(`${via}->${id}`)!.port : this.nodes.get(id)!.peerPort;
    return `127.0.0.1:${port}`;
  }

  async start(id: number): Promise<void> {
    const n = this.nodes.get(id)!;
    const args = [
      'server', '--mode', 'raft', '--dir', n.dir, '--port', String(n.clientPort), '--raft.id', String(id),
      '--raft.peers', this.peersFor(id), '--raft.tick-ms', String(this.tickMs), '--raft.election-ticks', String(this.electionTicks),
      '--raft.request-timeout-ms', String(this.options.requestTimeoutMs ?? 3000), '--sync', this.options.sync ?? 'everysec', '--log-level', 'info',
    ];
    if (this.options.snapshotEntries !== undefined) args.push('--raft.snapshot-entries', String(this.options.snapshotEntries));
    if (this.options.catchupEntries !== undefined) args.push('--raft.catchup-entries', String(this.options.catchupEntries));
    if (n.join) args.push('--raft.join', 'yes');
    if (this.options.extraArgs !== undefined) args.push(...this.options.extraArgs);
    const proc = spawnCaskdb(args, { stdio: ['ignore', 'ignore', 'pipe'] });
    n.proc = proc;
    n.stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node ${id} did not start:\n${n.stderr}`)), 20_000);
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
        n.stderr += d;
        if (n.stderr.length > 2_000_000) n.stderr = n.stderr.slice(-1_000_000);
        if (d.includes('"event":"ready"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`node ${id} exited with ${code} during startup:\n${n.stderr}`));
      });
    });
  }

  async startAll(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((id) => this.start(id)));
  }

  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const n = this.nodes.get(id)!;
    const proc = n.proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) {
      n.proc = undefined;
      return;
    }
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
    n.proc = undefined;
  }

  client(id: number): RespClient {
    const c = new RespClient(this.nodes.get(id)!.clientPort);
    this.clients.push(c);
    return c;
  }

  async info(id: number): Promise<Record<string, string> | undefined> {
    const c = new RespClient(this.nodes.get(id)!.clientPort);
    try {
      const r = await c.call(['info', 'raft'], 2000);
      if (typeof r !== 'string') return undefined;
      const out: Record<string, string> = {};
      for (const line of r.split('\r\n')) {
        const i = line.indexOf(':');
        if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
      }
      return out;
    } finally {
      c.close();
    }
  }

  /** Waits until every running node agrees on one leader among `among`; returns its id. */
  async waitLeader(timeoutMs = 10_000, among?: readonly number[]): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ids = among ?? [...this.nodes.values()].filter((n) => n.proc !== undefined).map((n) => n.id);
      const infos = await Promise.all(ids.map((id) => this.info(id)));
      const leaders = new Set(infos.map((i) => i?.leader_id));
      const lead = Number(infos[0]?.leader_id ?? 0);
      if (leaders.size === 1 && lead > 0 && ids.includes(lead) && infos.find((i) => Number(i?.raft_id) === lead)?.role === 'leader') return lead;
      await sleep(20);
    }
    throw new Error('no agreed leader in time');
  }

  /** Waits until every listed running node has applied the same index as the leader's commit. */
  async waitConverged(ids: readonly number[], timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const infos = await Promise.all(ids.map((id) => this.info(id)));
      const applied = infos.map((i) => Number(i?.applied_index ?? -1));
      const commits = infos.map((i) => Number(i?.commit_index ?? -2));
      last = JSON.stringify({ applied, commits });
      if (applied.every((a) => a === applied[0]) && commits.every((c) => c === applied[0]) && applied[0]! > 0) return applied[0]!;
      await sleep(50);
    }
    const tails = ids.map((id) => `--- node ${id}:\n${(this.nodes.get(id)?.stderr ?? '').split('\n').slice(-12).join('\n')}`).join('\n');
    throw new Error(`nodes ${ids.join(',')} did not converge: ${last}\n${tails}`);
  }

  /** The node's keys (from `caskdb dump`), decoded from hex. */
  async dumpKeys(id: number): Promise<Set<string>> {
    const text = await this.dump(id);
    return new Set(text.split('\n').filter((l) => l !== '').map((l) => Buffer.from(l.split('\t')[0]!, 'hex').toString('latin1')));
  }

  async dump(id: number): Promise<string> {
    const r = await runCaskdb(['dump', '--dir', this.nodes.get(id)!.dir]);
    if (r.code !== 0) throw new Error(`dump of node ${id} failed: ${r.stderr}`);
    return r.stdout;
  }

  async runCli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return runCaskdb(args);
  }

  async stopAll(): Promise<void> {
    for (const c of this.clients) c.close();
    await Promise.all([...this.nodes.keys()].map((id) => this.kill(id)));
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

// ---- histories ----

import type { KvInput, KvOutput, Operation } from '../../src/raft/sim/linearizability.js';

export class History {
  readonly ops: Operation<KvInput, KvOutput>[] = [];
  private readonly t0 = performance.now();
  now(): number {
    return performance.now() - this.t0;
  }
  record(client: number, input: KvInput, call: number, output: KvOutput | undefined, ok: boolean): void {
    this.ops.push({ client, input, output: ok ? output : undefined, call, ret: ok ? this.now() : undefined });
  }
}

/**
 * A client loop: random puts and gets on `keys` through node `pick()`, until `stop()`. A failed or timed-out
 * write is recorded as "may have happened"; a failed read is dropped (it observed nothing).
 */
export async function runWorkload(
  cluster: Cluster,
  history: History,
  clientId: number,
  keys: readonly string[],
  pick: () => number | undefined,
  stop: () => boolean,
  acked: Map<string, string>,
): Promise<void> {
  let seq = 0;
  let conn: RespClient | undefined;
  let connNode = 0;
  while (!stop()) {
    const node = pick();
    if (node === undefined || cluster.nodes.get(node)?.proc === undefined) {
      await sleep(10);
      continue;
    }
    if (conn === undefined || conn.broken || connNode !== node) {
      conn?.close();
      conn = cluster.client(node);
      connNode = node;
    }
    const key = keys[Math.floor(Math.random() * keys.length)]!;
    const call = history.now();
    const dice = Math.random();
    if (dice < 0.15) {
      // A write of a key of its own: after the run, every acknowledged one must be on every node.
      const unique = `u-${clientId}-${seq++}`;
      const r = await conn.call(['set', unique, 'x'], 5000);
      if (r === 'OK') acked.set(unique, 'x');
      else await sleep(20);
    } else if (dice < 0.6) {
      const value = `c${clientId}-${seq++}`;
      const r = await conn.call(['set', key, value], 5000);
      const ok = r === 'OK';
      history.record(clientId, { op: 'put', key, value }, call, null, ok);
      if (ok) acked.set(`${key}=${value}`, value);
      if (!ok) await sleep(20);
    } else {
      const r = await conn.call(['get', key], 5000);
      // 'timeout' / 'closed' are the client's own outcomes (values written are always c<n>-<m>).
      if ((typeof r === 'string' && r !== 'timeout' && r !== 'closed') || r === null) history.record(clientId, { op: 'get', key }, call, r, true);
      else await sleep(20);
    }
  }
  conn?.close();
}

// Client benchmark: throughput of the caskdb client (ZooKeeper discovery + balancer + failover
// bookkeeping) against a bare ioredis connection to one server, and how each balancer spreads load over
// 3 servers registered with weights 100/200/300. Starts its own ZooKeeper and `caskdb server`s on
// loopback and stops them. Prints tables; not a test.
//   npm run bench:client                      (100,000 ops per run)
//   npm run bench:client -- --ops 20000       (quicker)
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createClient, BALANCER_NAMES, type CaskClient } from '../src/client/index.js';
import { ZooKeeperRegistry } from '../src/registry/index.js';
import { spawnCaskdb } from '../test/support/cli.js';
import { freePort, startZooKeeper } from '../test/support/zookeeper.js';

function argValue(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const OPS = argValue('--ops', 100_000);
const CONCURRENCY = argValue('--concurrency', 50);
const ROUNDS = argValue('--rounds', 3);
const KEYS = 10_000;
const VALUE = 'v'.repeat(16);

interface Run {
  opsPerSec: number;
  /** CPU time of this (client) process per operation, in microseconds: robust to other load on the machine. */
  cpuUsPerOp: number;
}

/** Runs OPS operations (alternating SET and GET on KEYS keys) with CONCURRENCY in flight. */
async function measure(op: (i: number) => Promise<unknown>): Promise<Run> {
  const cpu = process.cpuUsage();
  const opsPerSec = await drive(op);
  const used = process.cpuUsage(cpu);
  return { opsPerSec, cpuUsPerOp: (used.user + used.system) / OPS };
}

async function drive(op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < OPS) {
      const i = next++;
      await op(i);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return OPS / ((performance.now() - started) / 1000);
}

const bareOp = (redis: Redis) => (i: number): Promise<unknown> =>
  i % 2 === 0 ? redis.set(`bench:${i % KEYS}`, VALUE) : redis.get(`bench:${i % KEYS}`);
const clientOp = (client: CaskClient) => (i: number): Promise<unknown> =>
  i % 2 === 0 ? client.set(`bench:${i % KEYS}`, VALUE) : client.get(`bench:${i % KEYS}`);

async function waitForPing(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, protocol: 2, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    r.on('error', () => undefined);
    try { await r.connect(); if ((await r.ping()) === 'PONG') return; } catch { /* not yet */ } finally { r.disconnect(); }
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`server on ${port} did not start`);
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const best = (xs: number[]): number => Math.max(...xs);
const least = (xs: number[]): number => Math.min(...xs);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const zk = await startZooKeeper({ tickTimeMs: 200 });
  const dir = mkdtempSync(join(tmpdir(), 'caskdb-client-bench-'));
  const children: ChildProcess[] = [];
  const registry = new ZooKeeperRegistry({ connect: zk.connect, log: () => undefined });
  try {
    const weights = [100, 200, 300];
    const ports: number[] = [];
    for (const [i, weight] of weights.entries()) {
      const port = await freePort();
      ports.push(port);
      children.push(spawnCaskdb(['server', '--port', String(port), '--dir', join(dir, `s${i}`), '--sync', 'none',
        '--registry.zookeeper', zk.connect, '--registry.cluster', 'bench-three', '--registry.weight', String(weight)], { stdio: 'ignore' }));
    }
    await Promise.all(ports.map(waitForPing));
    // A one-server cluster for the overhead comparison: the first server registered a second time by hand.
    const solo = registry.register('bench-one', `127.0.0.1:${ports[0]}`, { weight: 100, role: 'standalone', version: '', startedAt: new Date().toISOString() });
    await solo.registered;
    while ((await registry.list('bench-three')).length < 3) await new Promise((r) => setTimeout(r, 50));

    console.log(`caskdb client benchmark: ${fmt(OPS)} ops per run (SET/GET alternating, ${KEYS} keys, 16-byte values), ${CONCURRENCY} in flight, ${ROUNDS} rounds, bare and client interleaved`);
    console.log('');
    const bare = new Redis({ host: '127.0.0.1', port: ports[0] ?? 0, protocol: 2, lazyConnect: true });
    await bare.connect();
    const client = createClient({ zookeeper: zk.connect, cluster: 'bench-one' }, { balancer: 'consistent-hash' });
    await client.ready();
    await drive(bareOp(bare));
    await drive(clientOp(client));
    const bareRuns: Run[] = [];
    const clientRuns: Run[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      bareRuns.push(await measure(bareOp(bare)));
      clientRuns.push(await measure(clientOp(client)));
    }
    bare.disconnect();
    await client.close();
    const rows: Array<[string, Run[]]> = [['bare ioredis connection', bareRuns], ['caskdb client (ZooKeeper discovery + balancer)', clientRuns]];
    const ref = { median: median(bareRuns.map((r) => r.opsPerSec)), best: best(bareRuns.map((r) => r.opsPerSec)), cpu: least(bareRuns.map((r) => r.cpuUsPerOp)) };
    /** Signed change against the bare connection: ops/s −x% = slower, CPU +x% = more CPU per op. */
    const delta = (x: number, base: number): string => {
      const change = ((x - base) / base) * 100;
      return `${change < 0 ? '−' : '+'}${Math.abs(change).toFixed(1)}%`;
    };
    console.log('| path (one server)                              | ops/s median | ops/s best | client CPU µs/op (least) |');
    console.log('|------------------------------------------------|--------------|------------|--------------------------|');
    for (const [name, runs] of rows) {
      const m = median(runs.map((r) => r.opsPerSec));
      const b = best(runs.map((r) => r.opsPerSec));
      const c = least(runs.map((r) => r.cpuUsPerOp));
      const isRef = runs === bareRuns;
      console.log(`| ${name.padEnd(46)} | ${`${fmt(m)}${isRef ? '' : ` (${delta(m, ref.median)})`}`.padStart(12)} | ${`${fmt(b)}${isRef ? '' : ` (${delta(b, ref.best)})`}`.padStart(10)} | ${`${c.toFixed(2)}${isRef ? '' : ` (${delta(c, ref.cpu)})`}`.padStart(24)} |`);
    }
    console.log('');

    console.log('Spread over 3 servers registered with weights 100 / 200 / 300 (share of requests):');
    console.log('');
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    console.log(`| balancer        | ops/s   | ${addresses.map((a, i) => `w${weights[i]} ${a}`).join(' | ')} |`);
    console.log(`|-----------------|---------|${addresses.map((a) => '-'.repeat(a.length + 7)).join('|')}|`);
    for (const name of BALANCER_NAMES) {
      const c = createClient({ zookeeper: zk.connect, cluster: 'bench-three' }, { balancer: name, seed: 7 });
      await c.ready();
      while (c.serverStates().length < 3) await new Promise((r) => setTimeout(r, 20));
      const ops = await drive(clientOp(c));
      const states = c.serverStates();
      const total = states.reduce((a, s) => a + s.served, 0);
      const shares = addresses.map((a) => ((states.find((s) => s.address === a)?.served ?? 0) / total) * 100);
      console.log(`| ${name.padEnd(15)} | ${fmt(ops).padStart(7)} | ${shares.map((s, i) => `${s.toFixed(1)}%`.padStart((addresses[i]?.length ?? 0) + 5)).join(' | ')} |`);
      await c.close();
    }
  } finally {
    await registry.close();
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await zk.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

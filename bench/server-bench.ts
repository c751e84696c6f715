// `npm run bench:server`: redis-benchmark against caskdb and against Redis 7 in the same run, alternating,
// with matching durability (caskdb --sync everysec ↔ Redis appendonly yes + appendfsync everysec; --sync
// always ↔ appendfsync always). Prints requests/s, p50/p99 latency, peak RSS (VmHWM) and caskdb/Redis
// ratios. Installs redis-server/redis-tools with apt-get when missing. Not a timed test.
// Before measuring, each server is started once and driven briefly, and that run is discarded: the first
// measurement of a run once came out 25% below every later one of the same server (caskdb everysec P1 SET,
// right after a build); cold binaries and page cache should not count against either peer.
// Each cell is the median of the rounds; the spread column shows the lowest and highest round.
//   BENCH_REQUESTS (default 200000)  BENCH_ROUNDS (default 3)  BENCH_PIPELINES (default "1,16")
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_REQUESTS = 20_000;
const PIPELINES = (process.env.BENCH_PIPELINES ?? '1,16').split(',').map(Number);
const TESTS = ['SET', 'GET'] as const;
const here = fileURLToPath(new URL('.', import.meta.url));
const compiled = here.includes('/dist/bench');
const repoRoot = fileURLToPath(new URL(compiled ? '../../' : '../', import.meta.url));

function ensureTools(): void {
  const missing = ['redis-server', 'redis-benchmark'].filter((t) => spawnSync('which', [t]).status !== 0);
  if (missing.length === 0) return;
  console.log(`installing redis-server redis-tools (missing: ${missing.join(', ')})…`);
  execFileSync('apt-get', ['update'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', 'redis-server', 'redis-tools'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

interface Server {
  name: 'caskdb' | 'redis';
  port: number;
  child: ChildProcess;
  dir: string;
}

async function startServer(name: Server['name'], sync: 'everysec' | 'always'): Promise<Server> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const child =
    name === 'caskdb'
      ? spawn(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'server', '--dir', join(dir, 'data'), '--port', String(port), '--sync', sync, '--log-level', 'warn'], { stdio: 'ignore' })
      : spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', sync, '--dir', dir, '--daemonize', 'no', '--logfile', ''], { stdio: 'ignore' });
  await waitForPort(port, child);
  return { name, port, child, dir };
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

async function stopServer(s: Server): Promise<number> {
  const rss = peakRssMiB(s.child.pid!);
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
  rmSync(s.dir, { recursive: true, force: true });
  return rss;
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
}

function runBenchmark(port: number, pipeline: number, requests = REQUESTS): Map<string, Result> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', 'set,get', '-n', String(requests), '-d', '100', '-r', '1000000', '-c', '50', '-P', String(pipeline), '--csv'];
  const r = spawnSync('redis-benchmark', args, { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`redis-benchmark failed: ${r.stderr}`);
  const out = new Map<string, Result>();
  for (const line of r.stdout.split('\n')) {
    const cells = line.split(',').map((c) => c.replace(/"/g, ''));
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    if (cells.length >= 7 && (cells[0] === 'SET' || cells[0] === 'GET')) {
      out.set(cells[0], { rps: Number(cells[1]), p50: Number(cells[4]), p99: Number(cells[6]) });
    }
  }
  return out;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Lowest–highest round, in thousands of requests per second. */
function spread(xs: number[]): string {
  return `${(Math.min(...xs) / 1000).toFixed(0)}–${(Math.max(...xs) / 1000).toFixed(0)}k`;
}

async function warmUp(): Promise<void> {
  for (const name of ['caskdb', 'redis'] as const) {
    const server = await startServer(name, 'everysec');
    try {
      runBenchmark(server.port, 1, WARMUP_REQUESTS);
    } finally {
      await stopServer(server);
    }
  }
}

async function main(): Promise<void> {
  ensureTools();
  const redisVersion = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`caskdb vs ${redisVersion}`);
  console.log(`redis-benchmark -t set,get -n ${REQUESTS} -d 100 -r 1000000 -c 50 -P {${PIPELINES.join(',')}}, ${ROUNDS} alternating rounds, median reported\n`);
  await warmUp();
  type Key = string;
  const samples = new Map<Key, Result[]>();
  const rss = new Map<string, number>();
  for (const sync of ['everysec', 'always'] as const) {
    for (const pipeline of PIPELINES) {
      for (let round = 0; round < ROUNDS; round++) {
        const order: Array<Server['name']> = round % 2 === 0 ? ['caskdb', 'redis'] : ['redis', 'caskdb'];
        for (const name of order) {
          const server = await startServer(name, sync);
          let results: Map<string, Result>;
          try {
            results = runBenchmark(server.port, pipeline);
          } finally {
            const peak = await stopServer(server);
            const rk = `${name}|${sync}`;
            rss.set(rk, Math.max(rss.get(rk) ?? 0, peak));
          }
          for (const [test, r] of results) {
            const key = `${sync}|${pipeline}|${test}|${name}`;
            samples.set(key, [...(samples.get(key) ?? []), r]);
          }
          process.stdout.write(`  done: sync=${sync} P${pipeline} ${name} round ${round + 1}\n`);
        }
      }
    }
  }
  const header = ['sync', 'P', 'test', 'caskdb req/s', 'redis req/s', 'ratio', 'goal', 'caskdb spread', 'redis spread', 'caskdb p50/p99 ms', 'redis p50/p99 ms'];
  const rows: string[][] = [];
  for (const sync of ['everysec', 'always'] as const) {
    for (const pipeline of PIPELINES) {
      for (const test of TESTS) {
        const c = samples.get(`${sync}|${pipeline}|${test}|caskdb`) ?? [];
        const r = samples.get(`${sync}|${pipeline}|${test}|redis`) ?? [];
        if (c.length === 0 || r.length === 0) continue;
        const crps = median(c.map((x) => x.rps));
        const rrps = median(r.map((x) => x.rps));
        const ratio = crps / rrps;
        const goal = sync === 'always' ? (test === 'SET' ? 1.0 : undefined) : pipeline === 1 ? 0.8 : 0.5;
        rows.push([
          sync, String(pipeline), test, crps.toFixed(0), rrps.toFixed(0), ratio.toFixed(2),
          goal === undefined ? '' : `≥${goal.toFixed(1)} ${ratio >= goal ? 'met' : 'MISSED'}`,
          spread(c.map((x) => x.rps)),
          spread(r.map((x) => x.rps)),
          `${median(c.map((x) => x.p50)).toFixed(3)}/${median(c.map((x) => x.p99)).toFixed(3)}`,
          `${median(r.map((x) => x.p50)).toFixed(3)}/${median(r.map((x) => x.p99)).toFixed(3)}`,
        ]);
      }
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log('\n' + line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
  console.log('\npeak RSS (VmHWM, MiB):');
  for (const sync of ['everysec', 'always']) {
    console.log(`  sync ${sync}: caskdb ${rss.get(`caskdb|${sync}`)?.toFixed(1)}  redis ${rss.get(`redis|${sync}`)?.toFixed(1)}`);
  }
}

await main();

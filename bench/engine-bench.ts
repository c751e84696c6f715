// Engine benchmark: caskdb against classic-level (LevelDB) and lmdb in the same run, each engine in
// its own child process so peak RSS is its own. Prints a table; not a test.
//   npm run bench                       (1,000,000 keys)
//   npm run bench -- --keys 200000      (quicker)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Db } from '../src/index.js';

/** `caskdb-mmapReads` is caskdb with `mmapReads: true` (point reads copied from memory maps); both use the default `mmapWrites`. */
type Engine = 'caskdb' | 'caskdb-mmapReads' | 'leveldb' | 'lmdb';
type Results = Record<string, number>;

const VALUE_BYTES = 100;
const KEY_BYTES = 16;

function argValue(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

/**
 * Deterministic pseudo-random keys (splitmix-like), so every engine sees the same keys. They live in one
 * buffer and are handed out as views: an array of a million Buffer objects would add ~200 MiB of the
 * harness's own memory to every engine's peak RSS.
 */
class KeySet {
  readonly bytes: Buffer;

  constructor(readonly count: number, seed: number) {
    this.bytes = Buffer.allocUnsafe(count * KEY_BYTES);
    let state = BigInt(seed);
    for (let at = 0; at < this.bytes.length; at += 8) {
      state = (state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
      let z = state;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
      this.bytes.writeBigUInt64BE(z ^ (z >> 31n), at);
    }
  }

  at(i: number): Buffer {
    return this.bytes.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES);
  }
}

/** A memory figure of this process from /proc/self/status, in MiB (VmRSS now, VmHWM the peak). */
function statusMiB(field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  const status = spawnSync('cat', [`/proc/${process.pid}/status`], { encoding: 'utf8' }).stdout;
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
  return match ? Number(match[1]) / 1024 : NaN;
}

function peakRssMiB(): number {
  return statusMiB('VmHWM');
}

/**
 * With BENCH_RSS_TRACE=1, the current and peak RSS after each phase go to stderr (where the peak is made), the
 * current split into anonymous memory and file-backed pages (mapped data files count in RSS; lmdb's map does too).
 */
function tracePhase(name: string): void {
  if (process.env.BENCH_RSS_TRACE !== '1') return;
  const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
  const heap = process.memoryUsage();
  process.stderr.write(
    `  ${name}: rss ${statusMiB('VmRSS').toFixed(0)} MiB (anonymous ${statusMiB('RssAnon').toFixed(0)}, file-backed ${statusMiB('RssFile').toFixed(0)}), peak ${statusMiB('VmHWM').toFixed(0)} MiB` +
      ` (V8 heap ${mib(heap.heapUsed)}/${mib(heap.heapTotal)} MiB used/total, array buffers ${mib(heap.arrayBuffers)} MiB)\n`,
  );
}

async function timed(count: number, body: () => Promise<void> | void): Promise<number> {
  const started = performance.now();
  await body();
  return count / ((performance.now() - started) / 1000);
}

async function inFlight(total: number, writers: number, write: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  return timed(total, async () => {
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (next < total) await write(next++);
      }),
    );
  });
}

interface Adapter {
  put(key: Buffer, value: Buffer): Promise<void>;
  putBatch(entries: Array<[Buffer, Buffer]>): Promise<void>;
  get(key: Buffer): Promise<Buffer | undefined> | Buffer | undefined;
  getMany?(keys: Buffer[]): Promise<unknown[]>;
  scan(): Promise<number> | number;
  durablePut(key: Buffer, value: Buffer): Promise<void>;
  close(): Promise<void>;
  reopen(): Promise<void>;
  openDurable(): Promise<void>;
  extra(): Results;
}

async function caskdbAdapter(dir: string, mmapReads = false): Promise<Adapter> {
  let db = await Db.open({ dir, sync: 'none', mmapReads });
  // The mmapReads column must not be pread figures in disguise (without the addon the engine falls back).
  if (db.stat().mmapReads !== mmapReads) throw new Error('caskdb opened without the memory-mapped reads asked for');
  process.stderr.write(`caskdb: mmapReads ${String(db.stat().mmapReads)}, mmapWrites ${String(db.stat().mmapWrites)}\n`);
  return {
    put: (k, v) => db.put(k, v),
    putBatch: (entries) => db.write(entries.map(([key, value]) => ({ type: 'put', key, value }))),
    get: (k) => db.get(k),
    scan: () => {
      let n = 0;
      for (const _ of db.iterate()) n++;
      return n;
    },
    durablePut: (k, v) => db.put(k, v),
    close: () => db.close(),
    reopen: async () => {
      db = await Db.open({ dir, sync: 'none', mmapReads });
    },
    openDurable: async () => {
      await db.close();
      db = await Db.open({ dir, sync: 'always', mmapReads });
    },
    extra: () => ({ indexBytesPerKey: db.stat().indexBytesPerKey }),
  };
}

async function levelAdapter(dir: string): Promise<Adapter> {
  const { ClassicLevel } = await import('classic-level');
  let db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  return {
    put: (k, v) => db.put(k, v),
    putBatch: (entries) => db.batch(entries.map(([key, value]) => ({ type: 'put' as const, key, value }))),
    get: (k) => db.get(k),
    getMany: (keys) => db.getMany(keys),
    scan: async () => {
      let n = 0;
      for await (const _ of db.iterator()) n++;
      return n;
    },
    durablePut: (k, v) => db.put(k, v, { sync: true }),
    close: () => db.close(),
    reopen: async () => {
      db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      await db.open();
    },
    openDurable: async () => {},
    extra: () => ({}),
  };
}

async function lmdbAdapter(dir: string): Promise<Adapter> {
  const { open } = await import('lmdb');
  const openDb = () => open<Buffer, Buffer>({ path: dir, keyEncoding: 'binary', encoding: 'binary' });
  let db = openDb();
  return {
    put: async (k, v) => {
      await db.put(k, v);
    },
    putBatch: async (entries) => {
      await db.batch(() => {
        for (const [k, v] of entries) void db.put(k, v);
      });
    },
    get: (k) => db.get(k),
    scan: () => {
      let n = 0;
      for (const _ of db.getRange()) n++;
      return n;
    },
    durablePut: async (k, v) => {
      await db.put(k, v);
      await db.flushed;
    },
    close: () => db.close(),
    reopen: async () => {
      db = openDb();
    },
    openDurable: async () => {},
    extra: () => ({}),
  };
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

/** Latency samples (µs) of alternating gets and puts until `until` settles. */
async function sampleLatencies(db: Db, keys: KeySet, value: Buffer, until: Promise<unknown> | number): Promise<{ get: number[]; put: number[] }> {
  const get: number[] = [];
  const put: number[] = [];
  let done = false;
  if (typeof until === 'number') setTimeout(() => (done = true), until);
  else void until.finally(() => (done = true));
  let i = 0;
  while (!done) {
    const key = keys.at((i * 7919) % keys.count);
    let started = performance.now();
    db.get(key);
    get.push((performance.now() - started) * 1000);
    started = performance.now();
    await db.put(key, value);
    put.push((performance.now() - started) * 1000);
    i++;
    // Let the merge's I/O callbacks run, as a server's socket callbacks would.
    if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return { get, put };
}

/** caskdb only: merge throughput and space, reopen with/without hint, latency during a merge. */
async function runCaskdbMerge(keyCount: number): Promise<Results> {
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'bench-merge-'));
  const results: Results = {};
  try {
    const keys = new KeySet(keyCount, 42);
    const value = Buffer.alloc(VALUE_BYTES, 'v');
    let db = await Db.open({ dir, sync: 'none', mergeRatio: 0 });
    const load = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 1000) {
        const ops = [];
        for (let j = i; j < Math.min(i + 1000, to); j++) ops.push({ type: 'put' as const, key: keys.at(j), value });
        await db.write(ops);
      }
    };
    await load(0, keyCount);
    await load(0, keyCount / 2); // half the keys overwritten: a third of the data is garbage
    await db.close();
    let started = performance.now();
    db = await Db.open({ dir, sync: 'none', mergeRatio: 0 });
    results.reopenNoHintMs = performance.now() - started;
    // Merge throughput and space, with nothing else running.
    const before = db.stat();
    started = performance.now();
    const merged = await db.merge();
    const mergeMs = performance.now() - started;
    results.mergeMBps = (merged?.inputBytes ?? 0) / 1e6 / (mergeMs / 1000);
    results.mergeInputMB = (merged?.inputBytes ?? 0) / 1e6;
    results.mergeOutputMB = (merged?.outputBytes ?? 0) / 1e6;
    results.liveMB = (before.diskBytes - before.reclaimableBytes) / 1e6;
    await db.close();
    started = performance.now();
    db = await Db.open({ dir, sync: 'none', mergeRatio: 0 });
    results.reopenHintMs = performance.now() - started;
    // Latency of gets and puts while idle, then while a merge runs.
    await load(0, keyCount / 2);
    const idle = await sampleLatencies(db, keys, value, 1000);
    const during = await sampleLatencies(db, keys, value, db.merge());
    results.idleGetP99Us = percentile(idle.get, 99);
    results.idlePutP99Us = percentile(idle.put, 99);
    results.mergeGetP99Us = percentile(during.get, 99);
    results.mergePutP99Us = percentile(during.put, 99);
    await db.close();
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runEngine(engine: Engine, keyCount: number): Promise<Results> {
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), `bench-${engine}-`));
  const results: Results = {};
  try {
    const adapter = engine === 'caskdb' || engine === 'caskdb-mmapReads' ? await caskdbAdapter(dir, engine === 'caskdb-mmapReads') : engine === 'leveldb' ? await levelAdapter(dir) : await lmdbAdapter(dir);
    const keys = new KeySet(keyCount, 42);
    const value = Buffer.alloc(VALUE_BYTES, 'v');
    const awaitedCount = Math.min(keyCount, argValue('--awaited', 200_000));
    // Awaited puts on the first slice of keys, then the rest in batches of 1,000.
    results.awaitedPutsPerSec = await timed(awaitedCount, async () => {
      for (let i = 0; i < awaitedCount; i++) await adapter.put(keys.at(i), value);
    });
    tracePhase('awaited puts');
    const batchedCount = keyCount - awaitedCount;
    results.batchedPutsPerSec = await timed(batchedCount, async () => {
      for (let i = awaitedCount; i < keyCount; i += 1000) {
        const entries: Array<[Buffer, Buffer]> = [];
        for (let j = i; j < Math.min(i + 1000, keyCount); j++) entries.push([keys.at(j), value]);
        await adapter.putBatch(entries);
      }
    });
    tracePhase('batched puts');
    const probeSource = new KeySet(200_000, 7);
    const probes: Buffer[] = [];
    for (let i = 0; i < probeSource.count; i++) probes.push(keys.at(probeSource.at(i).readUInt32BE(0) % keyCount));
    results.getsPerSec = await timed(probes.length, async () => {
      for (const k of probes) {
        const v = adapter.get(k);
        if (v instanceof Promise) await v;
      }
    });
    tracePhase('gets');
    if (adapter.getMany !== undefined) {
      const getMany = adapter.getMany;
      results.getManyPerSec = await timed(probes.length, async () => {
        for (let i = 0; i < probes.length; i += 1000) await getMany(probes.slice(i, i + 1000));
      });
    }
    let scanned = 0;
    results.scanPerSec = await timed(keyCount, async () => {
      scanned = await adapter.scan();
    });
    results.scannedKeys = scanned;
    tracePhase('scan');
    Object.assign(results, adapter.extra());
    let started = performance.now();
    await adapter.close();
    results.closeMs = performance.now() - started;
    tracePhase('close');
    started = performance.now();
    await adapter.reopen();
    results.reopenMs = performance.now() - started;
    tracePhase('reopen');
    await adapter.openDurable();
    tracePhase('open for durable puts');
    const durableKeys = new KeySet(40_000, 99);
    results.durable1PerSec = await inFlight(2_000, 1, (i) => adapter.durablePut(durableKeys.at(i), value));
    results.durable64PerSec = await inFlight(20_000, 64, (i) => adapter.durablePut(durableKeys.at(20_000 + i), value));
    tracePhase('durable puts');
    await adapter.close();
    results.peakRssMiB = peakRssMiB();
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function format(value: number | undefined, unit: string): string {
  if (value === undefined || Number.isNaN(value)) return '—';
  if (unit === '/s') return value >= 1e6 ? `${(value / 1e6).toFixed(2)}M/s` : `${(value / 1e3).toFixed(1)}k/s`;
  if (unit === 'ms') return `${value.toFixed(0)} ms`;
  if (unit === 'MiB') return `${value.toFixed(0)} MiB`;
  return value.toFixed(0);
}

async function main(): Promise<void> {
  const childEngine = process.env.BENCH_ENGINE as Engine | undefined;
  const keyCount = argValue('--keys', 1_000_000);
  if (process.env.BENCH_MERGE === '1') {
    process.stdout.write(JSON.stringify(await runCaskdbMerge(keyCount)) + '\n');
    return;
  }
  if (childEngine !== undefined) {
    process.stdout.write(JSON.stringify(await runEngine(childEngine, keyCount)) + '\n');
    return;
  }
  const engines: Engine[] = ['caskdb', 'caskdb-mmapReads', 'leveldb', 'lmdb'];
  const all: Partial<Record<Engine, Results>> = {};
  for (const engine of engines) {
    process.stderr.write(`running ${engine} with ${keyCount} keys…\n`);
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      env: { ...process.env, BENCH_ENGINE: engine },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    });
    if (child.status !== 0) throw new Error(`${engine} benchmark failed with status ${child.status}`);
    all[engine] = JSON.parse(child.stdout.trim().split('\n').pop()!) as Results;
  }
  const rows: Array<[string, string, string]> = [
    [`awaited puts (first ${Math.min(keyCount, argValue('--awaited', 200_000))})`, 'awaitedPutsPerSec', '/s'],
    ['puts in batches of 1,000', 'batchedPutsPerSec', '/s'],
    ['random gets (200k)', 'getsPerSec', '/s'],
    ['random gets, getMany ×1000', 'getManyPerSec', '/s'],
    ['full ordered scan', 'scanPerSec', '/s'],
    ['close', 'closeMs', 'ms'],
    ['reopen (no hint file)', 'reopenMs', 'ms'],
    ['durable puts, 1 in flight', 'durable1PerSec', '/s'],
    ['durable puts, 64 in flight', 'durable64PerSec', '/s'],
    ['peak RSS', 'peakRssMiB', 'MiB'],
    ['index bytes per key', 'indexBytesPerKey', ''],
  ];
  const header = ['metric', ...engines];
  const table = rows.map(([label, key, unit]) => [label, ...engines.map((e) => format(all[e]?.[key], unit))]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  console.log(`\n${keyCount} keys of ${KEY_BYTES} bytes, values of ${VALUE_BYTES} bytes; caskdb sync 'none' / LevelDB sync:false except the durable rows`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of table) console.log(line(row));

  process.stderr.write('running the caskdb merge phase…\n');
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    env: { ...process.env, BENCH_MERGE: '1' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.status !== 0) throw new Error(`merge benchmark failed with status ${child.status}`);
  const m = JSON.parse(child.stdout.trim().split('\n').pop()!) as Results;
  const fmt = (v: number | undefined, digits = 0): string => (v === undefined ? '—' : v.toFixed(digits));
  console.log(`\ncaskdb merge and open: ${keyCount} keys, then half of them overwritten`);
  console.log(`reopen without hint file           | ${fmt(m.reopenNoHintMs)} ms`);
  console.log(`reopen with hint file (after merge)| ${fmt(m.reopenHintMs)} ms`);
  console.log(`merge throughput                   | ${fmt(m.mergeMBps)} MB/s of input (${fmt(m.mergeInputMB, 1)} MB in)`);
  console.log(`space after merge vs live data     | ${fmt(m.mergeOutputMB, 1)} MB vs ${fmt(m.liveMB, 1)} MB (${fmt(((m.mergeOutputMB ?? 0) / (m.liveMB ?? 1) - 1) * 100, 1)}%)`);
  console.log(`get p99 idle / during merge        | ${fmt(m.idleGetP99Us, 1)} µs / ${fmt(m.mergeGetP99Us, 1)} µs`);
  console.log(`put p99 idle / during merge        | ${fmt(m.idlePutP99Us, 1)} µs / ${fmt(m.mergePutP99Us, 1)} µs`);
}

await main();

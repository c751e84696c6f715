// Raft core throughput, in process: 3 nodes, no faults, every message encoded and decoded as the TCP
// transport would. Measures entries committed per second and messages per second with batching on/off,
// and the simulator's speed (simulated ticks per wall-clock second). Prints a table; not a timed test.
import { RawNode, bootstrapState } from '../src/raft/raw-node.js';
import { MemoryStorage } from '../src/raft/storage.js';
import { Xoshiro128 } from '../src/raft/prng.js';
import { decodeMessage, encodeMessage } from '../src/raft/codec.js';
import { type Message, StateType } from '../src/raft/types.js';
import { defaultSimOptions, runSimulation } from '../src/raft/sim/simulator.js';

interface Mode {
  readonly name: string;
  readonly appendBytesMax: number;
  readonly inflightMsgsMax: number;
  /** Proposals submitted before the cluster is allowed to exchange messages. */
  readonly burst: number;
}

function runThroughput(mode: Mode, entries: number, payloadBytes: number): { entriesPerSec: number; msgsPerSec: number; msgs: number; entriesPerApp: number } {
  const ids = [1, 2, 3];
  const nodes = new Map<number, { raw: RawNode; storage: MemoryStorage }>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    const b = bootstrapState(ids);
    storage.append(b.entries);
    storage.setHardState(b.hardState);
    const raw = new RawNode({
      id,
      storage,
      rng: new Xoshiro128(id),
      appendBytesMax: mode.appendBytesMax,
      inflightMsgsMax: mode.inflightMsgsMax,
      applyBytesMax: 64 * 1024 * 1024,
    });
    nodes.set(id, { raw, storage });
  }
  const queue: Uint8Array[] = [];
  let msgs = 0;
  let apps = 0;
  let appEntries = 0;
  let committed = 0;
  const handle = (id: number): void => {
    const n = nodes.get(id)!;
    while (n.raw.hasReady()) {
      const rd = n.raw.ready();
      if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
      n.storage.append(rd.entries);
      if (rd.hardState) n.storage.setHardState(rd.hardState);
      for (const m of rd.messages) {
        if (m.type === 10 && m.entries.length > 0) {
          apps++; // appends that carry entries (empty ones only propagate the commit index)
          appEntries += m.entries.length;
        }
        queue.push(encodeMessage(m));
      }
      if (id === 1) committed += rd.committedEntries.length;
      n.raw.advance();
      // Compact now and then, as a real node would, so memory stays flat.
      const applied = n.raw.raft.log.applied;
      if (applied - n.storage.firstIndex() > 20_000) {
        n.storage.createSnapshot(applied, n.raw.confStateAt(applied), new Uint8Array(0));
        n.storage.compact(applied - 1_000);
      }
    }
  };
  const drain = (): void => {
    for (const id of ids) handle(id);
    while (queue.length > 0) {
      const m: Message = decodeMessage(queue.shift()!);
      msgs++;
      nodes.get(m.to)!.raw.step(m);
      handle(m.to);
    }
  };
  nodes.get(1)!.raw.campaign();
  drain();
  if (nodes.get(1)!.raw.raft.state !== StateType.Leader) throw new Error('node 1 did not become leader');
  const leader = nodes.get(1)!.raw;
  const payload = new Uint8Array(payloadBytes).fill(7);
  const committedBefore = committed;
  msgs = 0;
  apps = 0;
  appEntries = 0;
  const start = performance.now();
  for (let sent = 0; sent < entries; ) {
    for (let i = 0; i < mode.burst && sent < entries; i++, sent++) leader.propose(payload);
    handle(1);
    drain();
  }
  // Heartbeats propagate the last commit index.
  leader.tick();
  drain();
  const secs = (performance.now() - start) / 1000;
  const done = committed - committedBefore;
  if (done < entries) throw new Error(`only ${done} of ${entries} entries committed`);
  return { entriesPerSec: done / secs, msgsPerSec: msgs / secs, msgs, entriesPerApp: apps === 0 ? 0 : appEntries / apps };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

const entries = Number(process.env['RAFT_BENCH_ENTRIES'] ?? 100_000);
const payloadBytes = 128;
const modes: Mode[] = [
  { name: 'batching on (1 MiB appends, 256 in flight, bursts of 64)', appendBytesMax: 1 << 20, inflightMsgsMax: 256, burst: 64 },
  { name: 'batching off (1 entry per append, 256 in flight, bursts of 64)', appendBytesMax: 1, inflightMsgsMax: 256, burst: 64 },
  { name: 'no batching, no pipelining (1 entry, 1 in flight, 1 at a time)', appendBytesMax: 1, inflightMsgsMax: 1, burst: 1 },
];

console.log(`Raft core, 3 nodes in process, ${fmt(entries)} entries of ${payloadBytes} B, messages encoded+decoded`);
console.log('(one process, single-threaded; wall-clock figures depend on machine load)\n');
console.log('| mode | entries committed/s | messages/s | messages per entry | entries per non-empty append |');
console.log('|---|---:|---:|---:|---:|');
for (const mode of modes) {
  runThroughput(mode, Math.min(entries, 5_000), payloadBytes); // warm-up
  const r = runThroughput(mode, entries, payloadBytes);
  console.log(`| ${mode.name} | ${fmt(r.entriesPerSec)} | ${fmt(r.msgsPerSec)} | ${(r.msgs / entries).toFixed(2)} | ${r.entriesPerApp.toFixed(1)} |`);
}

console.log('\n| simulator (faults on, default options) | seeds | simulated ticks/s | wall s |');
console.log('|---|---:|---:|---:|');
for (const nodes of [3, 5, 7]) {
  const seeds = 40;
  const start = performance.now();
  let ticks = 0;
  for (let s = 1; s <= seeds; s++) {
    const r = runSimulation(defaultSimOptions(s, nodes));
    if (!r.ok) throw new Error(`simulator seed ${s} failed: ${r.failure}`);
    ticks += r.stats.ticks;
  }
  const secs = (performance.now() - start) / 1000;
  console.log(`| ${nodes} nodes | ${seeds} | ${fmt(ticks / secs)} | ${secs.toFixed(2)} |`);
}

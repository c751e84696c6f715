// The deterministic cluster simulator (after TigerBeetle's VOPR): 3–7 Raft nodes, a faulty network, crashes
// that keep only persisted state, membership changes, leadership transfers, and clients doing KV puts and
// ReadIndex gets — all driven by one seed, so any failure replays exactly. Safety is checked continuously
// (one leader per term, log matching, committed entries stable, identical apply order) and the client
// history is checked for linearizability; liveness is checked after the faults stop.
import { AssertionError } from '../../util/assert.js';
import { isCaskError } from '../../util/errors.js';
import { applyConfChange } from '../conf-change.js';
import { Xoshiro128 } from '../prng.js';
import { RawNode, bootstrapState } from '../raw-node.js';
import { MemoryStorage } from '../storage.js';
import {
  type ConfState,
  type Entry,
  type Message,
  ConfChangeType,
  EntryType,
  MessageType,
  StateType,
} from '../types.js';
import { type KvInput, type KvOutput, type Operation, checkLinearizability, kvModel } from './linearizability.js';
import { type NetworkFaults, SimNetwork, reliableNetwork } from './network.js';

export interface SimOptions {
  readonly seed: number;
  /** Founding voters. */
  readonly nodes: number;
  /** Extra nodes that start empty and outside the configuration; membership changes may add them. */
  readonly spareNodes: number;
  /** Ticks during which faults are injected. */
  readonly faultTicks: number;
  /** Liveness bound: after faults stop, everything must settle within this many ticks. */
  readonly settleTicksMax: number;
  readonly clients: number;
  readonly keys: number;
  readonly faults: NetworkFaults;
  /** Per-tick probabilities of fault events. */
  readonly crashRate: number;
  /** Probability that a node crashes (and reboots within 1–2 ticks) right after persisting a new vote. */
  readonly crashAfterVoteRate: number;
  readonly partitionRate: number;
  readonly membershipRate: number;
  readonly transferRate: number;
  /** Each node's clock runs at a rate in [1 - clockSkew, 1] during the fault phase. */
  readonly clockSkew: number;
  /** Take a snapshot (and compact) after this many applied entries. */
  readonly snapshotEvery: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly readOnlyOption: 'safe' | 'lease-based';
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly appendBytesMax: number;
  readonly inflightMsgsMax: number;
  /** Small, so that committed entries are handed out over several Readys. */
  readonly applyBytesMax: number;
  /** Small, so that the leader sometimes refuses proposals (clients retry). */
  readonly uncommittedBytesMax: number;
  /** Keep the last N trace lines for failure reports (0 = none). */
  readonly traceLines: number;
  /**
   * A deliberately planted bug, to show the checks catch it: 'forget-vote' loses the persisted vote on crash;
   * 'lose-unsynced-entries' drops a crashing node's last persisted entries although they were acknowledged.
   */
  readonly plantedBug?: 'forget-vote' | 'lose-unsynced-entries';
}

export function defaultSimOptions(seed: number, nodes = 3): SimOptions {
  return {
    seed,
    nodes,
    spareNodes: 1,
    faultTicks: 1200,
    settleTicksMax: 600,
    clients: 6,
    keys: 2,
    faults: { dropRate: 0.05, duplicateRate: 0.03, delayTicksMax: 4 },
    crashRate: 0.004,
    crashAfterVoteRate: 0.1,
    partitionRate: 0.012,
    membershipRate: 0.003,
    transferRate: 0.002,
    clockSkew: 0.6,
    snapshotEvery: 40,
    preVote: true,
    checkQuorum: true,
    readOnlyOption: 'safe',
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: 2,
    appendBytesMax: 4096,
    inflightMsgsMax: 8,
    applyBytesMax: 400,
    uncommittedBytesMax: 250,
    traceLines: 300,
  };
}

export const simProfiles = ['default', 'storm', 'lease'] as const;
export type SimProfile = (typeof simProfiles)[number];

/**
 * 'storm': heavy loss, duplication and delay, frequent crashes, partitions, membership changes, transfers and
 * snapshots. 'lease': lease-based reads with clock drift inside the tolerance leases rely on.
 */
export function simOptionsFor(profile: SimProfile, seed: number, nodes = 3): SimOptions {
  const base = defaultSimOptions(seed, nodes);
  switch (profile) {
    case 'default':
      return base;
    case 'storm':
      return {
        ...base,
        faults: { dropRate: 0.2, duplicateRate: 0.1, delayTicksMax: 8 },
        crashRate: 0.01,
        partitionRate: 0.02,
        membershipRate: 0.01,
        transferRate: 0.01,
        snapshotEvery: 10,
        settleTicksMax: 1500,
      };
    case 'lease':
      // Within the lease's drift tolerance: rates in [0.85, 1] (the lease margin covers up to 1 : 0.8).
      return { ...base, readOnlyOption: 'lease-based', clockSkew: 0.15 };
  }
}

export interface SimStats {
  ticks: number;
  opsCompleted: number;
  opsPending: number;
  committedIndex: number;
  elections: number;
  crashes: number;
  confChanges: number;
  snapshotsSent: number;
  /** Client requests refused by a node, by error code (NotLeader, LimitExceeded, …). */
  refusals: Record<string, number>;
  messagesSent: number;
  messagesDelivered: number;
}

export interface SimResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly failure: string | undefined;
  readonly stats: SimStats;
  readonly trace: readonly string[];
}

class SimFailure extends Error {}

function fail(msg: string): never {
  throw new SimFailure(msg);
}

const enc = new TextEncoder();
const dec = new TextDecoder();

interface KvCommand {
  c: number;
  s: number;
  k: string;
  v: string;
}

interface SimNode {
  readonly id: number;
  readonly storage: MemoryStorage;
  raw: RawNode | undefined;
  restartAt: number;
  /** Clock skew: the probability that this node's timer advances in a simulated tick. */
  tickRate: number;
  kv: Map<string, string>;
  sessions: Map<number, number>;
  applied: number;
  checkedCommit: number;
}

interface ClientOp {
  readonly input: KvInput;
  readonly call: number;
  readonly seq: number;
  readonly historyIndex: number;
  node: number;
  deadline: number;
  attempt: number;
  ctx: string | undefined;
  readIndex: number | undefined;
}

interface Client {
  readonly id: number;
  seq: number;
  op: ClientOp | undefined;
  leaderGuess: number;
}

export class Simulation {
  readonly opts: SimOptions;
  private readonly rng: Xoshiro128;
  readonly net: SimNetwork;
  readonly nodes: SimNode[] = [];
  private readonly clients: Client[] = [];
  now = 0;
  private clock = 0; // history clock: one step per call/return event
  readonly history: {
    client: number;
    input: KvInput;
    output: KvOutput | undefined;
    call: number;
    ret: number | undefined;
  }[] = [];
  private readonly leaderOfTerm = new Map<number, number>();
  private readonly committedTerm = new Map<number, number>();
  private maxCommitted = 0;
  private readonly appliedData = new Map<number, string>();
  private readonly traceBuf: string[] = [];
  private issuing = true;
  /** Nodes to crash at the end of the current tick (they persisted a vote and sent its response). */
  private crashSoon: number[] = [];
  private skewed = true;
  readonly stats: SimStats = {
    ticks: 0,
    opsCompleted: 0,
    opsPending: 0,
    committedIndex: 0,
    elections: 0,
    crashes: 0,
    confChanges: 0,
    snapshotsSent: 0,
    refusals: {},
    messagesSent: 0,
    messagesDelivered: 0,
  };

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.rng = new Xoshiro128(opts.seed);
    this.net = new SimNetwork(this.rng.fork(), true);
    const voters = Array.from({ length: opts.nodes }, (_, i) => i + 1);
    const all = Array.from({ length: opts.nodes + opts.spareNodes }, (_, i) => i + 1);
    for (const id of all) {
      // Founding members bootstrap through the log (bootstrapState), as a real cluster does; spare nodes
      // start empty, outside the configuration, and learn everything from a leader once added.
      const storage = new MemoryStorage();
      if (id <= opts.nodes) {
        const boot = bootstrapState(voters);
        storage.append(boot.entries);
        storage.setHardState(boot.hardState);
      }
      const node: SimNode = {
        id,
        storage,
        raw: undefined,
        restartAt: 0,
        tickRate: 1 - this.rng.nextFloat() * opts.clockSkew,
        kv: new Map(),
        sessions: new Map(),
        applied: 0,
        checkedCommit: 0,
      };
      this.nodes.push(node);
      this.start(node);
    }
    for (let c = 1; c <= opts.clients; c++) this.clients.push({ id: c, seq: 0, op: undefined, leaderGuess: 0 });
  }

  trace(line: string): void {
    if (this.opts.traceLines === 0) return;
    this.traceBuf.push(`t${this.now} ${line}`);
    if (this.traceBuf.length > this.opts.traceLines) this.traceBuf.shift();
  }

  traceLines(): string[] {
    return this.traceBuf.slice();
  }

  private node(id: number): SimNode {
    const n = this.nodes[id - 1];
    if (n === undefined) fail(`no node ${id}`);
    return n;
  }

  // ---- Node lifecycle -------------------------------------------------------------------------------

  private start(node: SimNode): void {
    const snap = node.storage.snapshot();
    node.kv = new Map();
    node.sessions = new Map();
    if (snap.metadata.index > 0) {
      const img = JSON.parse(dec.decode(snap.data)) as { kv: [string, string][]; sessions: [number, number][] };
      node.kv = new Map(img.kv);
      node.sessions = new Map(img.sessions);
    }
    node.applied = snap.metadata.index;
    node.raw = new RawNode({
      id: node.id,
      storage: node.storage,
      applied: node.applied,
      rng: this.rng.fork(),
      electionTimeoutTicks: this.opts.electionTimeoutTicks,
      heartbeatIntervalTicks: this.opts.heartbeatIntervalTicks,
      appendBytesMax: this.opts.appendBytesMax,
      inflightMsgsMax: this.opts.inflightMsgsMax,
      applyBytesMax: this.opts.applyBytesMax,
      uncommittedBytesMax: this.opts.uncommittedBytesMax,
      checkQuorum: this.opts.checkQuorum,
      preVote: this.opts.preVote,
      readOnlyOption: this.opts.readOnlyOption,
    });
  }

  crash(id: number, downTicks: number): void {
    const node = this.node(id);
    if (node.raw === undefined) return;
    node.raw = undefined;
    node.restartAt = this.now + downTicks;
    if (this.opts.plantedBug === 'forget-vote') {
      node.storage.setHardState({ ...node.storage.persistedHardState, vote: 0 });
    } else if (this.opts.plantedBug === 'lose-unsynced-entries') {
      // Keep only the committed prefix: entries acknowledged to the leader vanish.
      const old = node.storage;
      const hs = old.persistedHardState;
      const snap = old.snapshot();
      const fresh = new MemoryStorage();
      fresh.applySnapshot(snap);
      if (hs.commit > snap.metadata.index) fresh.append(old.entries(snap.metadata.index + 1, hs.commit + 1, Infinity));
      fresh.setHardState(hs);
      (node as { storage: MemoryStorage }).storage = fresh;
    }
    this.stats.crashes++;
    this.trace(`crash n${id} until t${node.restartAt}`);
  }

  restart(id: number): void {
    const node = this.node(id);
    if (node.raw !== undefined) return;
    this.start(node);
    this.trace(`restart n${id}`);
  }

  // ---- Ready handling (the contract of docs/raft.md) ------------------------------------------------

  private handleReady(node: SimNode): void {
    const raw = node.raw;
    if (raw === undefined) return;
    this.checkLeader(node);
    while (raw.hasReady()) {
      const rd = raw.ready();
      // 1. persist
      if (rd.snapshot !== undefined) node.storage.applySnapshot(rd.snapshot);
      node.storage.append(rd.entries);
      if (rd.hardState !== undefined) {
        const before = node.storage.persistedHardState;
        const votedNow = rd.hardState.vote !== 0 && (rd.hardState.vote !== before.vote || rd.hardState.term !== before.term);
        if (votedNow) this.trace(`n${node.id} votes for n${rd.hardState.vote} in term ${rd.hardState.term}`);
        node.storage.setHardState(rd.hardState);
        this.checkCommitted(node, rd.hardState.commit);
        if (votedNow && this.skewed && this.rng.nextFloat() < this.opts.crashAfterVoteRate) this.crashSoon.push(node.id);
      }
      // 2. send
      for (const m of rd.messages) this.sendMessage(m);
      // 3. apply
      if (rd.snapshot !== undefined) {
        const img = JSON.parse(dec.decode(rd.snapshot.data)) as { kv: [string, string][]; sessions: [number, number][] };
        node.kv = new Map(img.kv);
        node.sessions = new Map(img.sessions);
        node.applied = rd.snapshot.metadata.index;
        this.trace(`n${node.id} installed snapshot @${node.applied}`);
      }
      for (const e of rd.committedEntries) this.apply(node, e);
      for (const rs of rd.readStates) this.onReadState(node, dec.decode(rs.requestContext), rs.index);
      raw.advance();
      this.maybeSnapshot(node, raw);
    }
    this.completeReads(node);
  }

  private sendMessage(m: Message): void {
    if (m.type === MessageType.Snap) this.stats.snapshotsSent++;
    this.net.send(m, this.now);
  }

  private maybeSnapshot(node: SimNode, raw: RawNode): void {
    const snapIndex = node.storage.snapshot().metadata.index;
    if (node.applied - snapIndex < this.opts.snapshotEvery) return;
    const data = enc.encode(JSON.stringify({ kv: [...node.kv], sessions: [...node.sessions] }));
    node.storage.createSnapshot(node.applied, raw.confStateAt(node.applied), data);
    // Keep a few entries so slow followers can often catch up without a snapshot.
    node.storage.compact(Math.max(snapIndex, node.applied - 10));
  }

  private apply(node: SimNode, e: Entry): void {
    if (e.index !== node.applied + 1) fail(`n${node.id} applied ${e.index} after ${node.applied}`);
    node.applied = e.index;
    const fingerprint = `${e.term}/${e.type}/${dec.decode(e.data)}`;
    const seen = this.appliedData.get(e.index);
    if (seen === undefined) this.appliedData.set(e.index, fingerprint);
    else if (seen !== fingerprint) fail(`n${node.id} applied ${e.index} as ${fingerprint}, others applied ${seen}`);
    if (e.type !== EntryType.Normal || e.data.byteLength === 0) return;
    const cmd = JSON.parse(dec.decode(e.data)) as KvCommand;
    const last = node.sessions.get(cmd.c) ?? 0;
    if (cmd.s > last) {
      node.sessions.set(cmd.c, cmd.s);
      node.kv.set(cmd.k, cmd.v);
    }
    const client = this.clients[cmd.c - 1];
    if (client?.op !== undefined && client.op.seq === cmd.s && client.op.input.op === 'put') this.complete(client, null);
  }

  // ---- Safety checks --------------------------------------------------------------------------------

  private checkLeader(node: SimNode): void {
    const r = node.raw?.raft;
    if (r === undefined || r.state !== StateType.Leader) return;
    const prev = this.leaderOfTerm.get(r.term);
    if (prev === undefined) {
      this.leaderOfTerm.set(r.term, node.id);
      this.stats.elections++;
      this.trace(`n${node.id} leader of term ${r.term}`);
      // Leader completeness (§5.4): the new leader holds every committed entry.
      const first = r.log.firstIndex();
      for (let i = Math.max(first - 1, 1); i <= this.maxCommitted; i++) {
        const t = this.committedTerm.get(i);
        if (t !== undefined && r.log.term(i) !== t) fail(`leader n${node.id} of term ${r.term} lacks committed entry ${i}`);
      }
    } else if (prev !== node.id) {
      fail(`two leaders in term ${r.term}: n${prev} and n${node.id}`);
    }
  }

  private checkCommitted(node: SimNode, commit: number): void {
    const from = Math.max(node.checkedCommit + 1, node.storage.firstIndex() - 1, 1);
    for (let i = from; i <= commit; i++) {
      let t: number;
      try {
        t = node.storage.term(i);
      } catch {
        continue;
      }
      const known = this.committedTerm.get(i);
      if (known === undefined) this.committedTerm.set(i, t);
      else if (known !== t) fail(`committed entry ${i} changed: term ${known} → ${t} on n${node.id}`);
    }
    node.checkedCommit = Math.max(node.checkedCommit, commit);
    if (commit > this.maxCommitted) this.maxCommitted = commit;
  }

  /** §5.3 log matching: same index and term ⇒ identical logs up to there, on every pair of live nodes. */
  checkLogMatching(): void {
    const live = this.nodes.filter((n) => n.raw !== undefined);
    for (let a = 0; a < live.length; a++) {
      for (let b = a + 1; b < live.length; b++) {
        const la = live[a]!.raw!.raft.log;
        const lb = live[b]!.raw!.raft.log;
        const lo = Math.max(la.firstIndex(), lb.firstIndex());
        const hi = Math.min(la.lastIndex(), lb.lastIndex());
        let matched = false;
        for (let i = hi; i >= lo; i--) {
          const ta = la.term(i);
          const tb = lb.term(i);
          if (matched) {
            if (ta !== tb) fail(`log matching violated at ${i} between n${live[a]!.id} and n${live[b]!.id}`);
          } else if (ta !== undefined && ta === tb) {
            matched = true;
          }
        }
      }
    }
  }

  // ---- Clients --------------------------------------------------------------------------------------

  private pickNode(client: Client): number {
    const alive = this.nodes.filter((n) => n.raw !== undefined).map((n) => n.id);
    if (client.leaderGuess !== 0 && this.rng.nextFloat() < 0.6) return client.leaderGuess;
    if (alive.length === 0) return 1 + this.rng.nextInt(this.nodes.length);
    return alive[this.rng.nextInt(alive.length)]!;
  }

  private startOp(client: Client): void {
    const key = `k${this.rng.nextInt(this.opts.keys)}`;
    client.seq++;
    const input: KvInput =
      this.rng.nextFloat() < 0.55 ? { op: 'put', key, value: `c${client.id}.${client.seq}` } : { op: 'get', key };
    const call = ++this.clock;
    this.history.push({ client: client.id, input, output: undefined, call, ret: undefined });
    client.op = {
      input,
      call,
      seq: client.seq,
      historyIndex: this.history.length - 1,
      node: 0,
      deadline: 0,
      attempt: 0,
      ctx: undefined,
      readIndex: undefined,
    };
    this.attempt(client);
  }

  private attempt(client: Client): void {
    const op = client.op!;
    op.attempt++;
    op.node = this.pickNode(client);
    op.deadline = this.now + 2 * this.opts.electionTimeoutTicks;
    op.readIndex = undefined;
    op.ctx = undefined;
    const node = this.node(op.node);
    const raw = node.raw;
    if (raw === undefined) return; // the request is lost; retried at the deadline
    try {
      if (op.input.op === 'put') {
        const cmd: KvCommand = { c: client.id, s: op.seq, k: op.input.key, v: op.input.value };
        raw.propose(enc.encode(JSON.stringify(cmd)));
      } else {
        op.ctx = `${client.id}:${op.seq}:${op.attempt}`;
        raw.readIndex(enc.encode(op.ctx));
      }
    } catch (e) {
      if (!isCaskError(e)) throw e;
      this.stats.refusals[e.code] = (this.stats.refusals[e.code] ?? 0) + 1;
      client.leaderGuess = e.leaderHint === undefined ? 0 : Number(e.leaderHint);
      op.deadline = this.now + 2; // try again soon, elsewhere
    }
    this.handleReady(node);
  }

  private onReadState(node: SimNode, ctx: string, index: number): void {
    const [c] = ctx.split(':');
    const client = this.clients[Number(c) - 1];
    const op = client?.op;
    if (op === undefined || op.ctx !== ctx || op.node !== node.id) return;
    op.readIndex = index;
  }

  private completeReads(node: SimNode): void {
    for (const client of this.clients) {
      const op = client.op;
      if (op === undefined || op.readIndex === undefined || op.node !== node.id || op.input.op !== 'get') continue;
      if (node.applied >= op.readIndex) this.complete(client, node.kv.get(op.input.key) ?? null);
    }
  }

  private complete(client: Client, output: KvOutput): void {
    const op = client.op!;
    const h = this.history[op.historyIndex]!;
    h.output = output;
    h.ret = ++this.clock;
    client.op = undefined;
    client.leaderGuess = op.node;
    this.stats.opsCompleted++;
  }

  private tickClients(): void {
    for (const client of this.clients) {
      if (client.op === undefined) {
        if (this.issuing && this.rng.nextFloat() < 0.15) this.startOp(client);
      } else if (this.now >= client.op.deadline) {
        client.leaderGuess = 0;
        this.attempt(client);
      }
    }
  }

  // ---- Faults ---------------------------------------------------------------------------------------

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes) {
      const r = n.raw?.raft;
      if (r?.state === StateType.Leader && (best === undefined || r.term > best.raw!.raft.term)) best = n;
    }
    return best;
  }

  private injectFaults(): void {
    const o = this.opts;
    const r = this.rng;
    if (r.nextFloat() < o.crashRate) {
      // Half the crashes are quick reboots (1–3 ticks), which race with the election they interrupted.
      const id = 1 + r.nextInt(this.nodes.length);
      this.crash(id, r.nextFloat() < 0.5 ? 1 + r.nextInt(3) : 5 + r.nextInt(60));
    }
    if (r.nextFloat() < o.partitionRate) {
      const kind = r.nextInt(4);
      this.net.healAll();
      if (kind === 0) {
        this.trace('heal');
      } else if (kind === 1) {
        const ids = this.nodes.map((n) => n.id);
        const a = ids.filter(() => r.nextFloat() < 0.5);
        const b = ids.filter((id) => !a.includes(id));
        this.net.partition(a, b);
        this.trace(`partition [${a}] | [${b}]`);
      } else if (kind === 2) {
        // Asymmetric: one node can send but not receive (or the reverse).
        const id = 1 + r.nextInt(this.nodes.length);
        const inbound = r.nextFloat() < 0.5;
        for (const n of this.nodes) if (n.id !== id) (inbound ? this.net.block(n.id, id) : this.net.block(id, n.id));
        this.trace(`asymmetric: n${id} ${inbound ? 'deaf' : 'mute'}`);
      } else {
        // Isolate the leader.
        const l = this.leader();
        if (l !== undefined) {
          this.net.partition([l.id], this.nodes.map((n) => n.id).filter((id) => id !== l.id));
          this.trace(`isolate leader n${l.id}`);
        }
      }
    }
    if (r.nextFloat() < o.membershipRate) this.changeMembership();
    if (r.nextFloat() < o.transferRate) {
      // Asked of the leader or of any other node (which forwards the request to the leader it knows).
      const live = this.nodes.filter((n) => n.raw !== undefined);
      const l = r.nextFloat() < 0.5 ? this.leader() : live[r.nextInt(Math.max(1, live.length))];
      if (l !== undefined) {
        const target = 1 + r.nextInt(this.nodes.length);
        try {
          l.raw!.transferLeadership(target);
          this.trace(`transfer requested at n${l.id} → n${target}`);
        } catch (e) {
          if (!isCaskError(e)) throw e;
        }
        this.handleReady(l);
      }
    }
  }

  private changeMembership(): void {
    const l = this.leader();
    if (l === undefined) return;
    const cs: ConfState = l.raw!.raft.conf();
    const id = 1 + this.rng.nextInt(this.nodes.length);
    const minVoters = Math.min(3, this.nodes.length);
    let type: (typeof ConfChangeType)[keyof typeof ConfChangeType];
    if (cs.voters.includes(id)) {
      if (cs.voters.length <= minVoters) return;
      type = this.rng.nextFloat() < 0.5 ? ConfChangeType.RemoveNode : ConfChangeType.AddLearner;
    } else if (cs.learners.includes(id)) {
      type = ConfChangeType.AddVoter;
    } else {
      type = ConfChangeType.AddLearner;
    }
    const cc = { type, nodeId: id, context: new Uint8Array(0) };
    try {
      l.raw!.proposeConfChange(cc);
      this.stats.confChanges++;
      this.trace(`n${l.id} proposes ${['add-voter', 'add-learner', 'remove'][type]} n${id} → ${JSON.stringify(applyConfChange(cs, cc))}`);
    } catch (e) {
      if (!isCaskError(e)) throw e;
    }
    this.handleReady(l);
  }

  /** Membership must not shrink below a quorum-capable set at the end: re-add every node as a voter. */
  private restoreMembership(): boolean {
    const l = this.leader();
    if (l === undefined) return false;
    const cs = l.raw!.raft.conf();
    for (const n of this.nodes) {
      if (cs.voters.includes(n.id)) continue;
      const type = cs.learners.includes(n.id) ? ConfChangeType.AddVoter : ConfChangeType.AddLearner;
      try {
        l.raw!.proposeConfChange({ type, nodeId: n.id, context: new Uint8Array(0) });
        this.trace(`settle: n${l.id} proposes ${type === ConfChangeType.AddVoter ? 'add-voter' : 'add-learner'} n${n.id}`);
      } catch (e) {
        if (!isCaskError(e)) throw e;
      }
      this.handleReady(l);
      return false;
    }
    return true;
  }

  // ---- Main loop ------------------------------------------------------------------------------------

  step(): void {
    this.now++;
    this.stats.ticks++;
    const due = this.net.due(this.now);
    for (const m of due.messages) this.deliver(m);
    for (const l of due.lostSnapshots) this.reportSnapshot(l.from, l.to, true);
    for (const n of this.nodes) {
      if (n.raw === undefined) {
        if (this.now >= n.restartAt && n.restartAt > 0) this.restart(n.id);
        continue;
      }
      if (!this.skewed || this.rng.nextFloat() < n.tickRate) n.raw.tick();
      this.handleReady(n);
    }
    this.tickClients();
    for (const id of this.crashSoon) this.crash(id, 1 + this.rng.nextInt(2));
    this.crashSoon = [];
  }

  private deliver(m: Message): void {
    const node = this.nodes[m.to - 1];
    const raw = node?.raw;
    if (node === undefined || raw === undefined) {
      if (m.type === MessageType.Snap) this.reportSnapshot(m.from, m.to, true);
      return;
    }
    this.stats.messagesDelivered++;
    raw.step(m);
    this.handleReady(node);
    if (m.type === MessageType.Snap) this.reportSnapshot(m.from, m.to, false);
  }

  private reportSnapshot(leader: number, to: number, failed: boolean): void {
    const n = this.nodes[leader - 1];
    if (n?.raw === undefined) return;
    n.raw.reportSnapshot(to, failed);
    this.handleReady(n);
  }

  run(): SimResult {
    try {
      this.net.faults = this.opts.faults;
      for (let t = 0; t < this.opts.faultTicks; t++) {
        this.injectFaults();
        this.step();
        if (t % 100 === 99) this.checkLogMatching();
      }
      this.settle();
      this.checkLogMatching();
      this.checkHistory();
      return this.result(undefined);
    } catch (e) {
      if (e instanceof SimFailure || e instanceof AssertionError) return this.result(e.message);
      if (e instanceof Error) return this.result(`${e.name}: ${e.message}\n${e.stack ?? ''}`);
      throw e;
    }
  }

  /** Faults stop: heal, restart everyone, stop issuing; all pending operations must finish in time. */
  private settle(): void {
    this.net.healAll();
    this.net.faults = reliableNetwork;
    this.issuing = false;
    this.skewed = false;
    for (const n of this.nodes) if (n.raw === undefined) n.restartAt = this.now + 1;
    this.trace('settle: faults stopped');
    const deadline = this.now + this.opts.settleTicksMax;
    while (this.now < deadline) {
      this.step();
      if (this.now % 20 === 0 && !this.restoreMembership()) continue;
      if (this.settled()) return;
    }
    const l = this.leader();
    const pending = this.clients.filter((c) => c.op !== undefined).map((c) => `c${c.id}:${JSON.stringify(c.op!.input)}@n${c.op!.node}`);
    fail(
      `liveness: not settled ${this.opts.settleTicksMax} ticks after faults stopped (leader ${l?.id ?? 'none'}, ` +
        `pending [${pending.join(', ')}], applied ${this.nodes.map((n) => `n${n.id}=${n.applied}`).join(' ')})`,
    );
  }

  private settled(): boolean {
    if (this.clients.some((c) => c.op !== undefined)) return false;
    const l = this.leader();
    if (l === undefined) return false;
    const r = l.raw!.raft;
    if (r.conf().voters.length !== this.nodes.length) return false;
    const commit = r.log.committed;
    if (r.log.term(commit) !== r.term) return false;
    return this.nodes.every((n) => n.raw !== undefined && n.applied === commit);
  }

  private checkHistory(): void {
    const ops: Operation<KvInput, KvOutput>[] = this.history.map((h) => ({ ...h }));
    const res = checkLinearizability(ops, kvModel);
    if (res.result === 'illegal') {
      const lines = res.partition
        .map((o) => `  c${o.client} [${o.call}, ${o.ret ?? '∞'}] ${kvModel.describe!(o.input as KvInput, o.output as KvOutput | undefined)}`)
        .join('\n');
      fail(`history not linearizable (key ${(res.partition[0]?.input as KvInput | undefined)?.key}):\n${lines}`);
    }
    if (res.result === 'unknown') fail(`linearizability check inconclusive: ${res.reason}`);
  }

  private result(failure: string | undefined): SimResult {
    this.stats.opsPending = this.clients.filter((c) => c.op !== undefined).length;
    this.stats.committedIndex = this.maxCommitted;
    this.stats.messagesSent = this.net.sent;
    return { ok: failure === undefined, seed: this.opts.seed, failure, stats: this.stats, trace: this.traceLines() };
  }
}

export function runSimulation(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}

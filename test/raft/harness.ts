// Test tooling for the Raft core: direct access to a Raft state machine (paper tests step messages and
// inspect what it sends), and an in-process synchronous cluster that handles Readys by the contract
// (persist → send → apply → advance) and records a readable trace of everything that happens.
import { Raft, type RaftConfig } from '../../src/raft/raft.js';
import { RawNode, bootstrapState } from '../../src/raft/raw-node.js';
import { MemoryStorage } from '../../src/raft/storage.js';
import { Xoshiro128 } from '../../src/raft/prng.js';
import {
  type Entry,
  type Message,
  EntryType,
  MessageType,
  StateType,
  makeMessage,
  messageTypeName,
  stateTypeName,
} from '../../src/raft/types.js';
import { decodeConfChange } from '../../src/raft/codec.js';

export const enc = new TextEncoder();
export const dec = new TextDecoder();

export function ids(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

export function newStorage(voters: number[], learners: number[] = []): MemoryStorage {
  return new MemoryStorage({ voters, learners });
}

export type TestConfig = Omit<RaftConfig, 'id' | 'storage' | 'rng'>;

export function newRaft(id: number, voters: number[], cfg: TestConfig = {}, storage = newStorage(voters)): Raft {
  return new Raft({ id, storage, rng: new Xoshiro128(id), preVote: false, checkQuorum: false, ...cfg });
}

/** Takes (and clears) the messages a Raft has queued. */
export function readMessages(r: Raft): Message[] {
  r.flushAppends();
  const m = r.msgs;
  r.msgs = [];
  return m;
}

export function msg(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return makeMessage(fields);
}

export function entry(index: number, term: number, data = ''): Entry {
  return { index, term, type: EntryType.Normal, data: enc.encode(data) };
}

/** Makes `r` a leader of term 1 by a single-vote election in a 1-node config or by stepping vote responses. */
export function electLeader(r: Raft): void {
  r.step(msg({ type: MessageType.Hup }));
  for (const id of r.conf().voters) {
    if (id !== r.id && r.state !== StateType.Leader) {
      r.step(msg({ type: r.state === StateType.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp, from: id, to: r.id, term: r.state === StateType.PreCandidate ? r.term + 1 : r.term }));
    }
  }
  if (r.state !== StateType.Leader) throw new Error('electLeader failed');
}

export function describeEntry(e: Entry): string {
  if (e.type === EntryType.ConfChange) {
    const cc = decodeConfChange(e.data);
    return `${e.term}/${e.index} ${['add-voter', 'add-learner', 'remove'][cc.type]}(${cc.nodeId})`;
  }
  return `${e.term}/${e.index}${e.data.byteLength === 0 ? ' EMPTY' : ` "${dec.decode(e.data)}"`}`;
}

export function describeMessage(m: Message): string {
  const parts = [`${m.from}->${m.to} ${messageTypeName[m.type]} term=${m.term}`];
  if (m.type === MessageType.App || m.type === MessageType.Vote || m.type === MessageType.PreVote) {
    parts.push(`logTerm=${m.logTerm} index=${m.index}`);
  } else if (m.type === MessageType.AppResp || m.type === MessageType.ReadIndexResp) {
    parts.push(`index=${m.index}`);
  }
  if (m.type === MessageType.App || m.type === MessageType.Heartbeat) parts.push(`commit=${m.commit}`);
  if (m.reject) parts.push(`reject rejectHint=${m.rejectHint} logTerm=${m.logTerm}`);
  if (m.entries.length > 0) parts.push(`entries=[${m.entries.map(describeEntry).join(', ')}]`);
  if (m.context.byteLength > 0) parts.push(`context=${dec.decode(m.context)}`);
  if (m.snapshot !== undefined) parts.push(`snapshot=${m.snapshot.metadata.term}/${m.snapshot.metadata.index} voters=${m.snapshot.metadata.confState.voters}`);
  return parts.join(' ');
}

interface ClusterNode {
  readonly id: number;
  readonly storage: MemoryStorage;
  raw: RawNode | undefined;
  applied: Entry[];
  appliedIndex: number;
}

/** A synchronous in-process cluster: messages are delivered in FIFO order by stabilize(). */
export class Cluster {
  readonly nodes = new Map<number, ClusterNode>();
  private queue: Message[] = [];
  private readonly cut = new Set<string>();
  readonly out: string[] = [];
  messagesDelivered = 0;

  /**
   * With `bootstrap`, founding members get the initial configuration as log entries (bootstrapState), so
   * nodes added later learn it by replication; otherwise it is only in each storage's snapshot metadata.
   */
  constructor(readonly voters: number[], readonly cfg: TestConfig = {}, readonly bootstrap = false) {
    for (const id of voters) {
      if (bootstrap) {
        const storage = new MemoryStorage();
        const b = bootstrapState(voters);
        storage.append(b.entries);
        storage.setHardState(b.hardState);
        this.addWithStorage(id, storage);
      } else {
        this.add(id, voters);
      }
    }
  }

  /** Adds a node; with no voters given it starts empty, waiting to be contacted by a leader (a joiner). */
  add(id: number, voters: number[] = [], learners: number[] = []): void {
    this.addWithStorage(id, newStorage(voters, learners));
  }

  private addWithStorage(id: number, storage: MemoryStorage): void {
    const node: ClusterNode = { id, storage, raw: undefined, applied: [], appliedIndex: 0 };
    this.nodes.set(id, node);
    this.start(node);
  }

  private start(node: ClusterNode): void {
    node.raw = new RawNode({ id: node.id, storage: node.storage, rng: new Xoshiro128(node.id), applied: node.appliedIndex, ...this.cfg });
  }

  node(id: number): RawNode {
    const n = this.nodes.get(id)?.raw;
    if (n === undefined) throw new Error(`node ${id} is down`);
    return n;
  }

  raft(id: number): Raft {
    return this.node(id).raft;
  }

  storage(id: number): MemoryStorage {
    return this.nodes.get(id)!.storage;
  }

  appliedData(id: number): string[] {
    return this.nodes
      .get(id)!
      .applied.filter((e) => e.type === EntryType.Normal && e.data.byteLength > 0)
      .map((e) => dec.decode(e.data));
  }

  /** Handles one node's Readys by the contract, queueing its messages. */
  handleReady(id: number): void {
    const node = this.nodes.get(id)!;
    const raw = node.raw;
    if (raw === undefined) return;
    while (raw.hasReady()) {
      const rd = raw.ready();
      if (rd.softState !== undefined) {
        this.out.push(`n${id}: ${stateTypeName[rd.softState.state]} lead=${rd.softState.lead}`);
      }
      if (rd.snapshot !== undefined) {
        node.storage.applySnapshot(rd.snapshot);
        this.out.push(`n${id}: install snapshot ${rd.snapshot.metadata.term}/${rd.snapshot.metadata.index}`);
      }
      node.storage.append(rd.entries);
      if (rd.hardState !== undefined) {
        node.storage.setHardState(rd.hardState);
        this.out.push(`n${id}: hardState term=${rd.hardState.term} vote=${rd.hardState.vote} commit=${rd.hardState.commit}`);
      }
      if (rd.snapshot !== undefined) node.appliedIndex = rd.snapshot.metadata.index;
      for (const m of rd.messages) this.queue.push(m);
      for (const e of rd.committedEntries) {
        node.applied.push(e);
        node.appliedIndex = e.index;
        this.out.push(`n${id}: apply ${describeEntry(e)}`);
      }
      for (const rs of rd.readStates) this.out.push(`n${id}: readState index=${rs.index} context=${dec.decode(rs.requestContext)}`);
      raw.advance();
    }
  }

  isCut(from: number, to: number): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  cutLink(from: number, to: number): void {
    this.cut.add(`${from}>${to}`);
  }

  isolate(id: number): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cutLink(id, other);
      this.cutLink(other, id);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  crash(id: number): void {
    const node = this.nodes.get(id)!;
    node.raw = undefined;
    // Keep only what was persisted: the applied state is rebuilt from the log (no app snapshots here).
    node.applied = [];
    node.appliedIndex = node.storage.snapshot().metadata.index;
  }

  restart(id: number): void {
    this.start(this.nodes.get(id)!);
  }

  /** Delivers messages (FIFO) and handles Readys until nothing moves; at most `roundsMax` deliveries. */
  stabilize(roundsMax = 100_000): void {
    for (const id of this.nodes.keys()) this.handleReady(id);
    let rounds = 0;
    while (this.queue.length > 0) {
      if (++rounds > roundsMax) throw new Error('stabilize did not converge');
      const m = this.queue.shift()!;
      const target = this.nodes.get(m.to);
      if (this.isCut(m.from, m.to) || target?.raw === undefined) {
        this.out.push(`drop ${describeMessage(m)}`);
        continue;
      }
      this.out.push(describeMessage(m));
      this.messagesDelivered++;
      if (m.type === MessageType.Snap) {
        target.raw.step(m);
        this.handleReady(m.to);
        const sender = this.nodes.get(m.from)?.raw;
        sender?.reportSnapshot(m.to, false);
        this.handleReady(m.from);
        continue;
      }
      target.raw.step(m);
      this.handleReady(m.to);
    }
  }

  tick(id: number, n = 1): void {
    for (let i = 0; i < n; i++) {
      this.node(id).tick();
      this.handleReady(id);
    }
  }

  /** Ticks every live node `n` times (and stabilizes after each tick). */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const [id, node] of this.nodes) if (node.raw !== undefined) this.tick(id);
      this.stabilize();
    }
  }

  campaign(id: number): void {
    this.node(id).campaign();
    this.stabilize();
  }

  leader(): number | undefined {
    for (const [id, n] of this.nodes) if (n.raw?.raft.state === StateType.Leader) return id;
    return undefined;
  }

  status(): string[] {
    const lines: string[] = [];
    for (const [id, n] of this.nodes) {
      if (n.raw === undefined) {
        lines.push(`n${id}: down`);
        continue;
      }
      const r = n.raw.raft;
      lines.push(
        `n${id}: ${stateTypeName[r.state]} term=${r.term} vote=${r.vote} lead=${r.lead} commit=${r.log.committed} ` +
          `applied=${r.log.applied} last=${r.log.lastIndex()} voters=${r.conf().voters} learners=${r.conf().learners}`,
      );
    }
    return lines;
  }

  takeOutput(): string[] {
    const o = this.out.splice(0, this.out.length);
    return o;
  }
}

// RawNode: the application's handle on the Raft core (etcd's RawNode). Synchronous and pure: inputs go in
// through tick/step/propose/…, and ready() collects what the application must persist, send and apply;
// advance() acknowledges that a Ready was fully handled. Contract: call ready() only when hasReady(), and
// call advance() after handling that Ready and before the next ready() (see docs/raft.md).
import { assert } from '../util/assert.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import { encodeConfChange } from './codec.js';
import { Raft, refusalToError, type RaftConfig } from './raft.js';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Ready,
  type SoftState,
  ConfChangeType,
  EntryType,
  MessageType,
  StateType,
  NONE,
  emptyHardState,
  hardStateEqual,
  makeMessage,
} from './types.js';

const LOCAL_ONLY = new Set<number>([
  MessageType.Hup,
  MessageType.Beat,
  MessageType.CheckQuorum,
  MessageType.SnapStatus,
  MessageType.Unreachable,
]);

export interface Status {
  readonly id: number;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly applied: number;
  readonly lastIndex: number;
  readonly confState: ConfState;
  /** On the leader: each member's replication progress. */
  readonly progress: ReadonlyMap<number, { match: number; next: number; state: string; isLearner: boolean }>;
  readonly leadTransferee: number;
}

/**
 * What each founding member of a new cluster persists before its first start: the initial voters as
 * AddVoter entries 1..n of term 1, already committed. Because the initial configuration is in the log
 * (not only in local metadata), a node that joins later with an empty log learns the whole membership
 * history from the leader. A joining node starts with empty storage and does not bootstrap.
 */
export function bootstrapState(voters: readonly number[]): { entries: Entry[]; hardState: HardState } {
  assert(voters.length > 0, 'bootstrap needs at least one voter');
  const entries = voters.map(
    (id, i): Entry => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({ type: ConfChangeType.AddVoter, nodeId: id, context: new Uint8Array(0) }),
    }),
  );
  return { entries, hardState: { term: 1, vote: NONE, commit: entries.length } };
}

export class RawNode {
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** What the Ready being handled contained, to acknowledge in advance(). */
  private inFlight: { lastEntry: Entry | undefined; lastCommitted: number; snapshotIndex: number } | undefined;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = config.storage.initialState().hardState ?? emptyHardState;
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (pre-vote first when enabled). */
  campaign(): void {
    this.raft.step(makeMessage({ type: MessageType.Hup }));
  }

  /**
   * Proposes `data` for the log. On a follower it is forwarded to the leader (unless forwarding is disabled).
   * Throws CaskError NotLeader (with leaderHint when known) if it cannot be accepted here; acceptance does not
   * mean commitment — the application learns that when the entry appears in committedEntries.
   */
  propose(data: Uint8Array): void {
    this.stepLocal(makeMessage({ type: MessageType.Prop, entries: [{ term: 0, index: 0, type: EntryType.Normal, data }] }));
  }

  /** Proposes a single-server membership change; throws LimitExceeded while another change is uncommitted. */
  proposeConfChange(cc: ConfChange): void {
    const data = encodeConfChange(cc);
    this.stepLocal(makeMessage({ type: MessageType.Prop, entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data }] }));
  }

  /**
   * Asks for a linearizable read point. The answer arrives as a ReadState carrying `context` (which must be
   * unique among outstanding requests); the read may be served once the state machine has applied its index.
   */
  readIndex(context: Uint8Array): void {
    assert(context.byteLength > 0, 'readIndex needs a non-empty context');
    this.stepLocal(makeMessage({ type: MessageType.ReadIndex, context }));
  }

  /** Asks the leader to hand leadership to `to` (§3.10). Works from any node that knows the leader. */
  transferLeadership(to: number): void {
    this.stepLocal(makeMessage({ type: MessageType.TransferLeader, from: to }));
  }

  /** The application reports that a snapshot sent to `id` was installed (or failed). */
  reportSnapshot(id: number, failed: boolean): void {
    this.raft.step(makeMessage({ type: MessageType.SnapStatus, from: id, reject: failed }));
  }

  /** The application reports that `id` could not be reached (the leader stops pipelining to it). */
  reportUnreachable(id: number): void {
    this.raft.step(makeMessage({ type: MessageType.Unreachable, from: id }));
  }

  private stepLocal(m: Message): void {
    const refusal = this.raft.step(m);
    if (refusal !== undefined) throw refusalToError(refusal);
  }

  /**
   * Feeds a message received from a peer. Messages of local-only types are refused with InvalidArgument
   * (they would let a peer drive this node's timers); protocol refusals of forwarded proposals are dropped.
   */
  step(m: Message): void {
    if (LOCAL_ONLY.has(m.type)) {
      throw new CaskError(ErrorCode.InvalidArgument, `message type ${m.type} cannot come from the network`);
    }
    // Node 0 means "nobody": a peer message must name its sender.
    if (m.from === NONE) throw new CaskError(ErrorCode.InvalidArgument, 'message from node 0');
    this.raft.step(m);
  }

  hasReady(): boolean {
    const r = this.raft;
    r.flushAppends();
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.state !== this.prevSoftState.state) return true;
    if (!hardStateEqual(r.hardState(), this.prevHardState)) return true;
    if (r.log.unstable.snapshot !== undefined) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.log.unstable.entries.length > 0) return true;
    return r.log.hasNextCommittedEntries();
  }

  ready(): Ready {
    assert(this.inFlight === undefined, 'ready() called again before advance()');
    const r = this.raft;
    r.flushAppends();
    const ss = r.softState();
    const hs = r.hardState();
    const entries = r.log.unstableEntries();
    const snapshot = r.log.unstable.snapshot;
    const committedEntries = r.log.nextCommittedEntries();
    const softChanged = ss.lead !== this.prevSoftState.lead || ss.state !== this.prevSoftState.state;
    const hardChanged = !hardStateEqual(hs, this.prevHardState);
    const rd: Ready = {
      softState: softChanged ? ss : undefined,
      hardState: hardChanged ? hs : undefined,
      readStates: r.readStates,
      entries,
      snapshot,
      committedEntries,
      messages: r.msgs,
      // Term, vote, new entries and a snapshot must be durable before messages go out; commit alone can be lazy.
      mustSync:
        entries.length > 0 || snapshot !== undefined || hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote,
    };
    r.msgs = [];
    r.readStates = [];
    if (softChanged) this.prevSoftState = ss;
    if (hardChanged) this.prevHardState = hs;
    this.inFlight = {
      lastEntry: entries[entries.length - 1],
      lastCommitted: committedEntries[committedEntries.length - 1]?.index ?? 0,
      snapshotIndex: snapshot?.metadata.index ?? 0,
    };
    return rd;
  }

  /** Acknowledges that the last Ready was persisted, sent and applied. */
  advance(): void {
    const f = this.inFlight;
    assert(f !== undefined, 'advance() without ready()');
    this.inFlight = undefined;
    const log = this.raft.log;
    if (f.lastCommitted > 0) log.appliedTo(f.lastCommitted);
    else if (f.snapshotIndex > 0) log.appliedTo(f.snapshotIndex);
    if (f.lastEntry !== undefined) log.stableTo(f.lastEntry.index, f.lastEntry.term);
    if (f.snapshotIndex > 0) log.stableSnapTo(f.snapshotIndex);
  }

  status(): Status {
    const r = this.raft;
    const progress = new Map<number, { match: number; next: number; state: string; isLearner: boolean }>();
    if (r.state === StateType.Leader) {
      for (const [id, pr] of r.prs) progress.set(id, { match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner });
    }
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      confState: r.conf(),
      progress,
      leadTransferee: r.leadTransferee,
    };
  }

  /** The configuration in force at `index` (≥ the snapshot index): what to store with a snapshot taken there. */
  confStateAt(index: number): ConfState {
    return this.raft.confAt(index);
  }
}

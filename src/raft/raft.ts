// The Raft state machine (Ongaro's dissertation; the shape of etcd's raft.go): pure and deterministic.
// Inputs are step(message) and tick(); outputs accumulate in `msgs`, `readStates` and the log's unstable
// tail, collected by RawNode into a Ready. Invariants: at most one vote per term; the leader never
// overwrites its log; only current-term entries are committed by counting; committed entries never change.
import { assert } from '../util/assert.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import { decodeConfChange } from './codec.js';
import { applyConfChange, committedIndex, confStateEqual, validateConfChange, voteResult } from './conf-change.js';
import type { VoteResult } from './conf-change.js';
import type { Prng } from './prng.js';
import { Progress, ProgressState } from './progress.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly } from './read-only.js';
import { StorageErrorKind, isStorageError, type Storage } from './storage.js';
import {
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageTypeValue,
  type ReadState,
  type Snapshot,
  type SoftState,
  type StateTypeValue,
  EntryType,
  MessageType,
  NONE,
  StateType,
  entriesSizeBytes,
  isEmptyHardState,
  makeMessage,
  sortedIds,
} from './types.js';

export type ReadOnlyOption = 'safe' | 'lease-based';

export interface RaftConfig {
  /** This node's id (> 0). */
  readonly id: number;
  readonly storage: Storage;
  /** Seeded randomness for election timeouts. */
  readonly rng: Prng;
  /** A follower campaigns after a random timeout in [electionTimeoutTicks, 2·electionTimeoutTicks). */
  readonly electionTimeoutTicks?: number;
  readonly heartbeatIntervalTicks?: number;
  /** The last index the application has applied (on restart); 0 means the snapshot index. */
  readonly applied?: number;
  /** Bytes of entries per append message (at least one entry is always sent). */
  readonly appendBytesMax?: number;
  /** Appends in flight per follower in the replicate state (pipelining window). */
  readonly inflightMsgsMax?: number;
  /** Bytes of entries in flight per follower. */
  readonly inflightBytesMax?: number;
  /** Bytes of committed entries per Ready. */
  readonly applyBytesMax?: number;
  /** Bytes of proposed but uncommitted entries the leader accepts before refusing proposals. */
  readonly uncommittedBytesMax?: number;
  /** ReadIndex requests the leader holds (awaiting its first commit or a heartbeat round) before refusing. */
  readonly readIndexPendingMax?: number;
  readonly checkQuorum?: boolean;
  readonly preVote?: boolean;
  readonly readOnlyOption?: ReadOnlyOption;
  /** Followers refuse proposals (NotLeader with a hint) instead of forwarding them to the leader. */
  readonly disableProposalForwarding?: boolean;
}

export const defaultRaftConfig = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  appendBytesMax: 1024 * 1024,
  inflightMsgsMax: 256,
  inflightBytesMax: 32 * 1024 * 1024,
  applyBytesMax: 64 * 1024 * 1024,
  uncommittedBytesMax: 256 * 1024 * 1024,
  readIndexPendingMax: 4096,
  checkQuorum: true,
  preVote: true,
  readOnlyOption: 'safe' as ReadOnlyOption,
  disableProposalForwarding: false,
} as const;

/** Ticks of an election timeout that a lease-based read does not rely on (tick phase and clock drift). */
const LEASE_MARGIN_TICKS = 2;

/** The campaign context that marks a leadership transfer (bypasses leases and pre-vote). */
export const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');

function isTransferContext(ctx: Uint8Array): boolean {
  if (ctx.byteLength !== CAMPAIGN_TRANSFER.byteLength) return false;
  for (let i = 0; i < ctx.byteLength; i++) if (ctx[i] !== CAMPAIGN_TRANSFER[i]) return false;
  return true;
}

/** Why a local input was not accepted; RawNode turns it into a CaskError. */
export type StepRefusal =
  | { readonly kind: 'not-leader'; readonly leaderHint: number }
  | { readonly kind: 'transferring'; readonly transferee: number }
  | { readonly kind: 'conf-change-pending'; readonly reason: string }
  | { readonly kind: 'uncommitted-limit' }
  | { readonly kind: 'read-limit' };

interface ConfAt {
  readonly index: number;
  readonly conf: ConfState;
}

export class Raft {
  readonly id: number;
  term = 0;
  vote = NONE;
  lead = NONE;
  state: StateTypeValue = StateType.Follower;
  readonly log: RaftLog;
  /** Progress of every voter and learner in the current configuration (meaningful on the leader). */
  prs = new Map<number, Progress>();
  /** Configurations found in the log, oldest first; the last one is in force. The first is the snapshot's. */
  private confLog: ConfAt[];
  votes = new Map<number, boolean>();
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  leadTransferee = NONE;
  /** Index of the latest conf change in the leader's log; a new one waits until it is committed. */
  pendingConfIndex = 0;
  private uncommittedBytes = 0;
  /**
   * Appends owed to followers since the last Ready (new proposals, a new commit index). They are sent when
   * the Ready is collected, so every proposal made between two Readys travels in one append per follower.
   */
  private bcastPending = false;
  private readonly readOnly: ReadOnly;
  /** ReadIndex requests received before this leader committed an entry of its term. */
  private pendingReadIndexMessages: Message[] = [];

  electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** This node's clock: ticks since start. Also the lease guard after a restart (refuse votes for a timeout). */
  private ticksSinceStart = 0;
  /** This leader sent a TimeoutNow in its term: its lease is void from then on. */
  private timeoutNowSent = false;

  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  private readonly appendBytesMax: number;
  private readonly inflightMsgsMax: number;
  private readonly inflightBytesMax: number;
  private readonly uncommittedBytesMax: number;
  private readonly readIndexPendingMax: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly readOnlyOption: ReadOnlyOption;
  private readonly disableProposalForwarding: boolean;
  private readonly rng: Prng;

  constructor(c: RaftConfig) {
    assert(Number.isSafeInteger(c.id) && c.id > 0, `invalid raft id ${c.id}`);
    this.id = c.id;
    this.rng = c.rng;
    this.electionTimeout = c.electionTimeoutTicks ?? defaultRaftConfig.electionTimeoutTicks;
    this.heartbeatTimeout = c.heartbeatIntervalTicks ?? defaultRaftConfig.heartbeatIntervalTicks;
    assert(this.heartbeatTimeout > 0, 'heartbeat interval must be positive');
    assert(this.electionTimeout > this.heartbeatTimeout, 'election timeout must exceed the heartbeat interval');
    this.appendBytesMax = c.appendBytesMax ?? defaultRaftConfig.appendBytesMax;
    this.inflightMsgsMax = c.inflightMsgsMax ?? defaultRaftConfig.inflightMsgsMax;
    this.inflightBytesMax = c.inflightBytesMax ?? defaultRaftConfig.inflightBytesMax;
    this.uncommittedBytesMax = c.uncommittedBytesMax ?? defaultRaftConfig.uncommittedBytesMax;
    this.readIndexPendingMax = c.readIndexPendingMax ?? defaultRaftConfig.readIndexPendingMax;
    this.checkQuorum = c.checkQuorum ?? defaultRaftConfig.checkQuorum;
    this.preVote = c.preVote ?? defaultRaftConfig.preVote;
    this.readOnlyOption = c.readOnlyOption ?? defaultRaftConfig.readOnlyOption;
    assert(this.readOnlyOption !== 'lease-based' || this.checkQuorum, 'lease-based reads require checkQuorum');
    this.disableProposalForwarding = c.disableProposalForwarding ?? defaultRaftConfig.disableProposalForwarding;
    this.readOnly = new ReadOnly();
    this.log = new RaftLog(c.storage, c.applyBytesMax ?? defaultRaftConfig.applyBytesMax);

    const { hardState, confState } = c.storage.initialState();
    this.confLog = [{ index: this.log.firstIndex() - 1, conf: confState }];
    this.recordConfEntries(this.log.allEntriesFrom(this.log.firstIndex()));
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.log.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
    this.applyConf(this.conf());
  }

  private loadState(hs: HardState): void {
    assert(
      hs.commit >= this.log.committed && hs.commit <= this.log.lastIndex(),
      `hard state commit ${hs.commit} outside [${this.log.committed}, ${this.log.lastIndex()}]`,
    );
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  // ---- State queries -------------------------------------------------------------------------------

  softState(): SoftState {
    return { lead: this.lead, state: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** The configuration in force: the latest one in the log (committed or not). */
  conf(): ConfState {
    return this.confLog[this.confLog.length - 1]!.conf;
  }

  /** The configuration in force at log index `index` (which must not precede the snapshot). */
  confAt(index: number): ConfState {
    let found: ConfState | undefined;
    for (const c of this.confLog) if (c.index <= index) found = c.conf;
    assert(found !== undefined, `no configuration known at ${index}`);
    return found;
  }

  private isVoter(id: number): boolean {
    return this.conf().voters.includes(id);
  }

  /** Can this node become leader? Only voters campaign. */
  promotable(): boolean {
    return this.isVoter(this.id);
  }

  // ---- Configuration tracking (log-time membership, §4.1) ------------------------------------------

  /** Entries `ents` just replaced everything from ents[0].index on: forget configurations they override. */
  private recordConfEntries(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const from = ents[0]!.index;
    while (this.confLog.length > 1 && this.confLog[this.confLog.length - 1]!.index >= from) this.confLog.pop();
    for (const e of ents) {
      if (e.type !== EntryType.ConfChange) continue;
      const cc = decodeConfChange(e.data);
      this.confLog.push({ index: e.index, conf: applyConfChange(this.conf(), cc) });
    }
  }

  private onLogReplaced(ents: readonly Entry[]): void {
    const before = this.conf();
    this.recordConfEntries(ents);
    if (!confStateEqual(before, this.conf())) this.applyConf(this.conf());
  }

  /** Makes progress tracking match `cs`. */
  private applyConf(cs: ConfState): void {
    const members = new Set([...cs.voters, ...cs.learners]);
    for (const id of [...this.prs.keys()]) if (!members.has(id)) this.prs.delete(id);
    for (const id of cs.voters) this.ensureProgress(id, false);
    for (const id of cs.learners) this.ensureProgress(id, true);
    if (this.state === StateType.Leader) {
      if (this.leadTransferee !== NONE && !cs.voters.includes(this.leadTransferee)) this.abortLeaderTransfer();
      // A smaller quorum may commit more at once.
      if (this.maybeCommit()) this.bcastAppend();
    } else if (!this.promotable() && this.state !== StateType.Follower) {
      this.becomeFollower(this.term, NONE);
    }
  }

  private ensureProgress(id: number, isLearner: boolean): void {
    const pr = this.prs.get(id);
    if (pr !== undefined) {
      pr.isLearner = isLearner;
      return;
    }
    const p = new Progress(this.log.lastIndex() + 1, isLearner, this.inflightMsgsMax, this.inflightBytesMax);
    // A new member counts as active so that check-quorum does not depose the leader at once.
    p.recentActive = true;
    if (id === this.id) p.match = this.log.lastIndex();
    this.prs.set(id, p);
  }

  // ---- Role changes ---------------------------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.votes.clear();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.prs) {
      const fresh = new Progress(last + 1, pr.isLearner, this.inflightMsgsMax, this.inflightBytesMax);
      if (id === this.id) fresh.match = last;
      this.prs.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.bcastPending = false;
    this.readOnly.reset();
    this.pendingReadIndexMessages = [];
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.rng.nextInt(this.electionTimeout);
  }

  becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
  }

  private becomePreCandidate(): void {
    assert(this.state !== StateType.Leader, 'leader cannot become pre-candidate');
    // Pre-vote (§9.6) changes neither term nor vote, so a partitioned node cannot disrupt the cluster.
    this.votes.clear();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
  }

  private becomeCandidate(): void {
    assert(this.state !== StateType.Leader, 'leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  private becomeLeader(): void {
    assert(this.state === StateType.Candidate, 'only a candidate becomes leader');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    this.timeoutNowSent = false;
    const self = this.prs.get(this.id);
    if (self !== undefined) self.becomeReplicate();
    // The no-op entry of the new term (§8): commits everything before it and gates conf changes and reads.
    const emptyEntry: Entry = { term: this.term, index: this.log.lastIndex() + 1, type: EntryType.Normal, data: new Uint8Array(0) };
    this.appendEntries([emptyEntry]);
    this.pendingConfIndex = this.log.lastIndex();
  }

  // ---- Timers ---------------------------------------------------------------------------------------

  tick(): void {
    this.ticksSinceStart++;
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(makeMessage({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(makeMessage({ type: MessageType.CheckQuorum, from: this.id }));
      // A transfer that has not finished within an election timeout is abandoned (§3.10).
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(makeMessage({ type: MessageType.Beat, from: this.id }));
    }
  }

  // ---- Sending ----------------------------------------------------------------------------------------

  private send(m: Message): void {
    assert(m.to !== NONE, 'message without destination');
    let msg = m;
    if (m.type === MessageType.Vote || m.type === MessageType.VoteResp || m.type === MessageType.PreVote || m.type === MessageType.PreVoteResp) {
      // Vote messages carry the term they are about (for pre-votes, the term of the future election).
      assert(m.term !== 0, `${m.type} must carry a term`);
    } else {
      assert(m.term === 0, 'term is set by send()');
      // Forwarded proposals and ReadIndex requests carry no term: they are not part of the protocol proper.
      if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex) msg = { ...m, term: this.term };
    }
    // A forwarded TransferLeader keeps its `from` (the transferee); everything else is from us.
    this.msgs.push(msg.from === NONE ? { ...msg, from: this.id } : msg);
  }

  private sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  /** Sends entries (or a snapshot) to `to` if flow control allows. Returns whether a message was sent. */
  private maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents = prevTerm === undefined ? undefined : this.log.entriesFrom(pr.next, this.appendBytesMax);
    if (ents !== undefined && ents.length === 0 && !sendIfEmpty) return false;

    if (prevTerm === undefined || ents === undefined) {
      // The entries the follower needs are compacted: send the snapshot instead (§5).
      if (!pr.recentActive) return false;
      let snapshot;
      try {
        snapshot = this.log.snapshot();
      } catch (e) {
        if (isStorageError(e, StorageErrorKind.SnapshotTemporarilyUnavailable)) return false;
        throw e;
      }
      assert(snapshot.metadata.index > 0, 'need a non-empty snapshot');
      this.send(makeMessage({ type: MessageType.Snap, to, snapshot }));
      pr.becomeSnapshot(snapshot.metadata.index);
      return true;
    }

    this.send(makeMessage({ type: MessageType.App, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed }));
    const last = ents[ents.length - 1];
    switch (pr.state) {
      case ProgressState.Replicate:
        if (last !== undefined) {
          pr.optimisticUpdate(last.index);
          pr.inflights.add(last.index, entriesSizeBytes(ents));
        }
        break;
      case ProgressState.Probe:
        pr.probeSent = true;
        break;
      case ProgressState.Snapshot:
        assert(false, 'append sent in snapshot state');
    }
    return true;
  }

  private sendHeartbeat(to: number, context: Uint8Array): void {
    const pr = this.prs.get(to);
    if (pr === undefined) return;
    // A follower may not have the leader's commit index in its log yet.
    const commit = Math.min(pr.match, this.log.committed);
    // `index` carries our clock (ticks since start); the follower echoes it so the lease counts from the send.
    this.send(makeMessage({ type: MessageType.Heartbeat, to, commit, context, index: this.ticksSinceStart }));
  }

  private forEachPeer(fn: (id: number) => void): void {
    for (const id of sortedIds(this.prs.keys())) if (id !== this.id) fn(id);
  }

  bcastAppend(): void {
    this.bcastPending = false;
    this.forEachPeer((id) => this.sendAppend(id));
  }

  /** Sends the appends deferred since the last Ready (called when a Ready is collected). */
  flushAppends(): void {
    if (!this.bcastPending) return;
    this.bcastPending = false;
    if (this.state !== StateType.Leader) return;
    this.forEachPeer((id) => {
      this.sendAppend(id);
      // Pipelining: fill the in-flight window (bounded by inflightMsgsMax / inflightBytesMax).
      while (this.maybeSendAppend(id, false)) {
        // each iteration sends one bounded append
      }
    });
  }

  private bcastHeartbeat(context: Uint8Array = new Uint8Array(0)): void {
    this.forEachPeer((id) => this.sendHeartbeat(id, context));
  }

  // ---- Log ------------------------------------------------------------------------------------------

  private appendEntries(ents: readonly Entry[]): void {
    this.log.append(ents);
    this.onLogReplaced(ents);
    // The leader's own "match": the Ready contract persists entries before anything that depends on them.
    const self = this.prs.get(this.id);
    if (self !== undefined) self.maybeUpdate(this.log.lastIndex());
    this.maybeCommit();
  }

  /** Leader: advance the commit index to what a majority of voters hold (current term only, §5.4.2). */
  maybeCommit(): boolean {
    if (this.state !== StateType.Leader) return false;
    const mci = committedIndex(this.conf().voters, (id) => this.prs.get(id)?.match ?? 0);
    const before = this.log.committed;
    if (!this.log.maybeCommit(mci, this.term)) return false;
    this.onLeaderCommitted(before);
    return true;
  }

  private onLeaderCommitted(before: number): void {
    // Proposals that are now committed no longer count against the uncommitted bound.
    if (this.log.committed > before) {
      const ents = this.log.slice(Math.max(before + 1, this.log.firstIndex()), this.log.committed + 1, Number.MAX_SAFE_INTEGER);
      this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entriesSizeBytes(ents));
    }
    if (this.committedEntryInCurrentTerm() && this.pendingReadIndexMessages.length > 0) {
      const pending = this.pendingReadIndexMessages;
      this.pendingReadIndexMessages = [];
      for (const m of pending) this.handleReadIndex(m);
    }
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  /** A leader that is not a voter of a committed configuration hands over by stepping down (§4.2.2). */
  private maybeStepDownAfterRemoval(): void {
    if (this.state !== StateType.Leader || this.promotable()) return;
    const latest = this.confLog[this.confLog.length - 1]!;
    if (latest.index <= this.log.committed) {
      this.bcastAppend();
      this.becomeFollower(this.term, NONE);
    }
  }

  // ---- Elections ------------------------------------------------------------------------------------

  private hup(transfer: boolean): void {
    if (this.state === StateType.Leader || !this.promotable()) return;
    if (this.preVote && !transfer) this.campaign('pre-election', false);
    else this.campaign('election', transfer);
  }

  private campaign(kind: 'pre-election' | 'election', transfer: boolean): void {
    let term: number;
    let voteType: MessageTypeValue;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      // Single-voter cluster: won already.
      if (kind === 'pre-election') this.campaign('election', false);
      else this.becomeLeader();
      return;
    }
    const context = transfer ? CAMPAIGN_TRANSFER : new Uint8Array(0);
    for (const id of this.conf().voters) {
      if (id === this.id) continue;
      this.send(makeMessage({ type: voteType, to: id, term, index: this.log.lastIndex(), logTerm: this.log.lastTerm(), context }));
    }
  }

  private poll(id: number, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return voteResult(this.conf().voters, this.votes);
  }

  // ---- Step -----------------------------------------------------------------------------------------

  /** Feeds one message (local or from a peer). Returns a refusal for local inputs that were not accepted. */
  step(m: Message): StepRefusal | undefined {
    if (m.term === 0) {
      // Local message or forwarded proposal/read: handled below.
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = isTransferContext(m.context);
        // Check-quorum lease (§4.2.3): a node that heard from a leader within the minimum election timeout
        // ignores higher-term (pre-)votes, so a removed or partitioned server cannot depose a live leader.
        const inLease =
          this.checkQuorum &&
          ((this.lead !== NONE && this.electionElapsed < this.electionTimeout) ||
            // With lease-based reads a restarted node must also wait out the lease it may have granted.
            (this.readOnlyOption === 'lease-based' && this.ticksSinceStart < this.electionTimeout));
        if (!force && inLease) return undefined;
      }
      if (m.type === MessageType.PreVote) {
        // Never change term in response to a pre-vote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // The term is bumped once the pre-election is won.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. after a partition) learns the new term from this and steps down; without it
        // a node whose term was raised by pre-vote-less elections could be stranded (§9.6).
        this.send(makeMessage({ type: MessageType.AppResp, to: m.from }));
      } else if (m.type === MessageType.PreVote) {
        this.send(makeMessage({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      return undefined;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(false);
        return undefined;
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        const respType = m.type === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
        if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
          // §5.4.1 election restriction: grant only to a candidate whose log is at least as up-to-date.
          this.send(makeMessage({ type: respType, to: m.from, term: m.term }));
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(makeMessage({ type: respType, to: m.from, term: this.term, reject: true }));
        }
        return undefined;
      }
      default:
        switch (this.state) {
          case StateType.Leader:
            return this.stepLeader(m);
          case StateType.Follower:
            return this.stepFollower(m);
          default:
            return this.stepCandidate(m);
        }
    }
  }

  private notLeader(): StepRefusal {
    return { kind: 'not-leader', leaderHint: this.lead };
  }

  private stepLeader(m: Message): StepRefusal | undefined {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return undefined;
      case MessageType.CheckQuorum:
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, NONE);
        }
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
        return undefined;
      case MessageType.Prop:
        return this.handlePropose(m);
      case MessageType.ReadIndex:
        if (this.pendingReadIndexMessages.length + this.readOnly.pendingCount() >= this.readIndexPendingMax) {
          return { kind: 'read-limit' };
        }
        this.handleReadIndex(m);
        return undefined;
      case MessageType.TransferLeader:
        this.handleTransferLeader(m);
        return undefined;
    }

    const pr = this.prs.get(m.from);
    if (pr === undefined) return undefined;
    switch (m.type) {
      case MessageType.AppResp:
        this.handleAppendResponse(m, pr);
        break;
      case MessageType.HeartbeatResp:
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        // The echoed send time of the heartbeat acknowledged: the follower's lease for us runs from there.
        pr.leaseAckTick = Math.max(pr.leaseAckTick, m.index);
        if (m.context.byteLength > 0) this.handleReadAck(m);
        break;
      case MessageType.SnapStatus:
        if (pr.state !== ProgressState.Snapshot) break;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the follower's append response (or a heartbeat response) before probing again.
        pr.probeSent = true;
        break;
      case MessageType.Unreachable:
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        break;
    }
    return undefined;
  }

  private handlePropose(m: Message): StepRefusal | undefined {
    assert(m.entries.length > 0, 'empty proposal');
    if (!this.prs.has(this.id)) return this.notLeader(); // removed from the configuration
    if (this.leadTransferee !== NONE) return { kind: 'transferring', transferee: this.leadTransferee };
    const size = entriesSizeBytes(m.entries);
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + size > this.uncommittedBytesMax) {
      return { kind: 'uncommitted-limit' };
    }
    let cs = this.conf();
    for (const e of m.entries) {
      if (e.type !== EntryType.ConfChange) continue;
      let reason: string | undefined;
      if (this.pendingConfIndex > this.log.committed) {
        reason = 'a configuration change is still uncommitted';
      } else if (!this.committedEntryInCurrentTerm()) {
        reason = 'the leader has not committed an entry of its term yet';
      } else {
        const cc = decodeConfChange(e.data);
        reason = validateConfChange(cs, cc);
        if (reason === undefined) cs = applyConfChange(cs, cc);
      }
      if (reason !== undefined) return { kind: 'conf-change-pending', reason };
      // At most one change per proposal batch; the next waits for commitment.
      this.pendingConfIndex = Number.MAX_SAFE_INTEGER;
    }
    const first = this.log.lastIndex() + 1;
    const ents = m.entries.map((e, i): Entry => ({ term: this.term, index: first + i, type: e.type, data: e.data }));
    for (const e of ents) if (e.type === EntryType.ConfChange) this.pendingConfIndex = e.index;
    this.uncommittedBytes += size;
    this.appendEntries(ents);
    this.bcastPending = true;
    this.maybeStepDownAfterRemoval();
    return undefined;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      // Fast backtracking (§5.3): jump to the last index where the follower's log might match ours.
      let nextProbeIdx = m.rejectHint;
      if (m.logTerm > 0) nextProbeIdx = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    switch (pr.state) {
      case ProgressState.Probe:
        pr.becomeReplicate();
        break;
      case ProgressState.Snapshot:
        if (pr.match + 1 >= this.log.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case ProgressState.Replicate:
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) {
      this.bcastPending = true;
      this.maybeStepDownAfterRemoval();
      if (this.state !== StateType.Leader) return;
    } else if (oldPaused) {
      this.sendAppend(m.from);
    }
    // Pipelining: keep the window full while there is something to send.
    while (this.maybeSendAppend(m.from, false)) {
      // bounded by the inflight window
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(m.from);
    }
  }

  private handleTransferLeader(m: Message): void {
    const transferee = m.from;
    const pr = this.prs.get(transferee);
    if (pr === undefined || pr.isLearner) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) return;
    // §3.10: stop accepting proposals, bring the transferee up to date, then tell it to campaign now.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  private sendTimeoutNow(to: number): void {
    this.timeoutNowSent = true;
    this.send(makeMessage({ type: MessageType.TimeoutNow, to }));
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /**
   * Leader lease (§6.4.1): a follower that received our heartbeat sent at tick s refuses votes (and does not
   * campaign) until at least s + electionTimeout on its own clock. So while a quorum of voters has
   * acknowledged heartbeats sent after now − electionTimeout + margin, no other leader can exist. The margin
   * (LEASE_MARGIN_TICKS) absorbs tick phase and clock drift; beyond that, leases are unsafe — use 'safe'.
   */
  leaseValid(): boolean {
    // A TimeoutNow lets its receiver win votes despite the followers' leases: no lease after one was sent.
    if (this.timeoutNowSent) return false;
    const now = this.ticksSinceStart;
    const voters = this.conf().voters;
    // Progress is fresh at becomeLeader, so every acknowledgement counted is of a heartbeat of this leadership.
    const sent = committedIndex(voters, (id) => (id === this.id ? now : (this.prs.get(id)?.leaseAckTick ?? -1)));
    return sent >= 0 && now < sent + this.electionTimeout - LEASE_MARGIN_TICKS;
  }

  private quorumActive(): boolean {
    const votes = new Map<number, boolean>();
    for (const id of this.conf().voters) {
      const pr = this.prs.get(id);
      votes.set(id, id === this.id || (pr?.recentActive ?? false));
    }
    return voteResult(this.conf().voters, votes) === 'won';
  }

  // ---- ReadIndex (§6.4) -----------------------------------------------------------------------------

  private handleReadIndex(m: Message): void {
    if (this.conf().voters.length === 1 && this.isVoter(this.id)) {
      this.respondToReadIndex(m, this.log.committed);
      return;
    }
    // The leader knows the commit index only once it has committed an entry of its own term (§6.4 step 1).
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    if (this.readOnlyOption === 'lease-based' && this.leadTransferee === NONE && this.leaseValid()) {
      this.respondToReadIndex(m, this.log.committed);
      return;
    }
    const ctx = m.context;
    if (this.readOnly.addRequest(this.log.committed, m)) {
      this.readOnly.recvAck(this.id, ctx);
      this.bcastHeartbeat(ctx);
    }
  }

  private handleReadAck(m: Message): void {
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined) return;
    const votes = new Map<number, boolean>();
    for (const id of acks) votes.set(id, true);
    if (voteResult(this.conf().voters, votes) !== 'won') return;
    for (const rs of this.readOnly.advance(m.context)) this.respondToReadIndex(rs.req, rs.index);
  }

  private respondToReadIndex(req: Message, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, requestContext: req.context });
    } else {
      this.send(makeMessage({ type: MessageType.ReadIndexResp, to: req.from, index, context: req.context }));
    }
  }

  // ---- Followers and candidates ---------------------------------------------------------------------

  private stepFollower(m: Message): StepRefusal | undefined {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === NONE || this.disableProposalForwarding) return this.notLeader();
        if (m.from !== NONE && m.from !== this.id) return this.notLeader(); // no second hop
        this.send({ ...m, to: this.lead });
        return undefined;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return undefined;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return undefined;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return undefined;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return this.notLeader();
        this.send({ ...m, to: this.lead });
        return undefined;
      case MessageType.TimeoutNow:
        // The leader asked us to take over (§3.10): campaign now, skipping pre-vote and leases.
        this.hup(true);
        return undefined;
      case MessageType.ReadIndex:
        if (this.lead === NONE) return this.notLeader();
        if (m.from !== NONE && m.from !== this.id) return this.notLeader();
        this.send({ ...m, to: this.lead });
        return undefined;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, requestContext: m.context });
        return undefined;
    }
    return undefined;
  }

  private stepCandidate(m: Message): StepRefusal | undefined {
    const myVoteResp = this.state === StateType.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
      case MessageType.ReadIndex:
      case MessageType.TransferLeader:
        return this.notLeader();
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return undefined;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return undefined;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return undefined;
      case MessageType.PreVoteResp:
      case MessageType.VoteResp: {
        if (m.type !== myVoteResp) return undefined;
        const res = this.poll(m.from, !m.reject);
        if (res === 'won') {
          if (this.state === StateType.PreCandidate) {
            this.campaign('election', false);
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (res === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return undefined;
      }
    }
    return undefined;
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries, (ents) => this.onLogReplaced(ents));
    if (lastNew !== undefined) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: lastNew }));
      return;
    }
    // Reject with a hint (§5.3 optimisation): the last index whose term is ≤ the leader's prevLogTerm.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term }));
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    this.send(makeMessage({ type: MessageType.HeartbeatResp, to: m.from, context: m.context, index: m.index }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    assert(s !== undefined, 'snapshot message without snapshot');
    if (this.restore(s)) {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.log.lastIndex() }));
    } else {
      this.send(makeMessage({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
    }
  }

  /** Installs a snapshot from the leader unless the log already covers it. */
  private restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.metadata.index, s.metadata.term)) {
      // We have the entry the snapshot ends at: fast-forward the commit index instead.
      this.log.commitTo(s.metadata.index);
      return false;
    }
    this.log.restore(s);
    const before = this.conf();
    this.confLog = [{ index: s.metadata.index, conf: s.metadata.confState }];
    if (!confStateEqual(before, this.conf())) this.applyConf(this.conf());
    return true;
  }
}

export function refusalToError(r: StepRefusal): CaskError {
  switch (r.kind) {
    case 'not-leader':
      return new CaskError(ErrorCode.NotLeader, r.leaderHint === NONE ? 'no leader known' : `not the leader; try node ${r.leaderHint}`, r.leaderHint === NONE ? {} : { leaderHint: String(r.leaderHint) });
    case 'transferring':
      return new CaskError(ErrorCode.NotLeader, `leadership is being transferred to node ${r.transferee}`, { leaderHint: String(r.transferee) });
    case 'conf-change-pending':
      return new CaskError(ErrorCode.LimitExceeded, `configuration change refused: ${r.reason}`, { limit: 'one configuration change at a time' });
    case 'read-limit':
      return new CaskError(ErrorCode.LimitExceeded, 'too many ReadIndex requests in flight', { limit: 'readIndexPendingMax' });
    case 'uncommitted-limit':
      return new CaskError(ErrorCode.LimitExceeded, 'too many uncommitted proposals', { limit: 'uncommittedBytesMax' });
  }
}

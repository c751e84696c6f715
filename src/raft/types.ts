// The Raft core's value types: entries, messages, hard state, snapshots, configuration changes, Ready.
// Everything here is plain data (no classes), so it can be copied, encoded (codec.ts) and compared freely.
// Node ids are positive integers; 0 (`NONE`) means "no node" (no vote, no known leader).

export const NONE = 0;

export const EntryType = { Normal: 0, ConfChange: 1 } as const;
export type EntryTypeValue = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryTypeValue;
  /** Opaque to Raft for normal entries; an encoded ConfChange (codec.ts) for confChange entries. */
  readonly data: Uint8Array;
}

export const MessageType = {
  // Local messages: never sent over the network (term 0).
  Hup: 0,
  Beat: 1,
  Prop: 2, // also forwarded follower → leader over the network
  CheckQuorum: 3,
  SnapStatus: 4,
  Unreachable: 5,
  // Network messages.
  App: 10,
  AppResp: 11,
  Vote: 12,
  VoteResp: 13,
  PreVote: 14,
  PreVoteResp: 15,
  Snap: 16,
  Heartbeat: 17,
  HeartbeatResp: 18,
  TransferLeader: 19,
  TimeoutNow: 20,
  ReadIndex: 21,
  ReadIndexResp: 22,
} as const;
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];

export const messageTypeName: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(MessageType).map(([name, value]) => [value, name]),
);

/** A Raft message. Fields not meaningful for a type are 0 / empty (one flat shape, as in etcd's raftpb). */
export interface Message {
  readonly type: MessageTypeValue;
  readonly to: number;
  readonly from: number;
  readonly term: number;
  /** App: term of the entry at `index`. Rejected AppResp: term of the follower's entry at `rejectHint`. */
  readonly logTerm: number;
  /** App: index preceding `entries`. AppResp: last index matched (or rejected index). Vote: last log index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  /** ReadIndex request context, or the campaign-transfer marker on Vote/PreVote. */
  readonly context: Uint8Array;
  readonly snapshot: Snapshot | undefined;
}

export interface HardState {
  readonly term: number;
  readonly vote: number;
  readonly commit: number;
}

export const emptyHardState: HardState = { term: 0, vote: NONE, commit: 0 };

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === NONE && hs.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** A configuration: who votes, who only replicates. The two sets are disjoint. */
export interface ConfState {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

export const ConfChangeType = { AddVoter: 0, AddLearner: 1, RemoveNode: 2 } as const;
export type ConfChangeTypeValue = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/**
 * A single-server membership change. AddVoter on a learner promotes it; AddLearner on a voter demotes it.
 * `context` is opaque to Raft (the cluster layer puts the new node's address there).
 */
export interface ConfChange {
  readonly type: ConfChangeTypeValue;
  readonly nodeId: number;
  readonly context: Uint8Array;
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  /** The configuration in force at `index`. */
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** The application's state machine image; opaque to Raft. */
  readonly data: Uint8Array;
}

export const emptySnapshot: Snapshot = {
  metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } },
  data: new Uint8Array(0),
};

export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0;
}

export const StateType = { Follower: 0, PreCandidate: 1, Candidate: 2, Leader: 3 } as const;
export type StateTypeValue = (typeof StateType)[keyof typeof StateType];
export const stateTypeName = ['follower', 'pre-candidate', 'candidate', 'leader'] as const;

/** Volatile state worth reporting (not persisted). */
export interface SoftState {
  readonly lead: number;
  readonly state: StateTypeValue;
}

/** A ReadIndex answer: once the state machine has applied `index`, a read for `requestContext` is linearizable. */
export interface ReadState {
  readonly index: number;
  readonly requestContext: Uint8Array;
}

/**
 * What the application must do next, in this order (see docs/raft.md):
 * 1. persist `snapshot`, `entries` and `hardState` (fsync when `mustSync`);
 * 2. send `messages`;
 * 3. apply `snapshot` then `committedEntries` to the state machine, serve `readStates`;
 * 4. call `advance()`.
 */
export interface Ready {
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly readStates: readonly ReadState[];
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | undefined;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly mustSync: boolean;
}

const emptyBytes = new Uint8Array(0);

/** Builds a message with every field not given set to its zero value. */
export function makeMessage(fields: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    to: NONE,
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: emptyBytes,
    snapshot: undefined,
    ...fields,
  };
}

export function entrySizeBytes(e: Entry): number {
  return e.data.byteLength + 24;
}

export function entriesSizeBytes(ents: readonly Entry[]): number {
  let n = 0;
  for (const e of ents) n += entrySizeBytes(e);
  return n;
}

/** Ids in ascending order: every iteration over peers goes through this, so runs are deterministic. */
export function sortedIds(ids: Iterable<number>): number[] {
  return [...ids].sort((a, b) => a - b);
}

// The leader's view of one follower (dissertation §3.5 nextIndex/matchIndex, plus etcd's flow control):
// probe (one append in flight until acknowledged), replicate (pipelined appends bounded by Inflights),
// snapshot (waiting for a snapshot to be installed). Invariant: match < next.
import { assert } from '../util/assert.js';

export const ProgressState = { Probe: 'probe', Replicate: 'replicate', Snapshot: 'snapshot' } as const;
export type ProgressStateValue = (typeof ProgressState)[keyof typeof ProgressState];

/** A bounded window of in-flight appends (by last index), limited in count and in bytes. */
export class Inflights {
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private bytes = 0;

  constructor(readonly countMax: number, readonly bytesMax: number) {
    assert(countMax > 0, 'inflight count bound must be positive');
  }

  add(index: number, bytes: number): void {
    assert(!this.full(), 'inflights full');
    const last = this.indexes[this.indexes.length - 1];
    assert(last === undefined || index > last, `inflight ${index} not after ${last}`);
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every in-flight append up to and including `to`. */
  freeLE(to: number): void {
    let n = 0;
    while (n < this.indexes.length && this.indexes[n]! <= to) {
      this.bytes -= this.sizes[n]!;
      n++;
    }
    if (n > 0) {
      this.indexes.splice(0, n);
      this.sizes.splice(0, n);
    }
  }

  freeFirstOne(): void {
    const first = this.indexes[0];
    if (first !== undefined) this.freeLE(first);
  }

  full(): boolean {
    return this.indexes.length >= this.countMax || this.bytes >= this.bytesMax;
  }

  count(): number {
    return this.indexes.length;
  }

  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.bytes = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressStateValue = ProgressState.Probe;
  /** In probe state: an append is outstanding, send nothing more until a reply or heartbeat response. */
  probeSent = false;
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** The leader's clock at the sending of the latest heartbeat this follower acknowledged (lease reads). */
  leaseAckTick = -1;
  readonly inflights: Inflights;

  constructor(next: number, public isLearner: boolean, inflightMsgsMax: number, inflightBytesMax: number) {
    this.next = next;
    this.inflights = new Inflights(inflightMsgsMax, inflightBytesMax);
  }

  private resetState(state: ProgressStateValue): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** An append up to n was acknowledged. Returns false for a stale acknowledgement. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    assert(this.match < this.next, `progress: match ${this.match} ≥ next ${this.next}`);
    return updated;
  }

  /** Pipelining: entries up to n were sent, assume they will be accepted. */
  optimisticUpdate(n: number): void {
    assert(n >= this.match, `optimistic update to ${n} below match ${this.match}`);
    this.next = n + 1;
  }

  /**
   * The follower rejected an append at `rejected`; `matchHint` is where its log may match. Returns false if
   * the rejection is stale (an old message), else moves next back.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    assert(this.next >= 1 && this.match < this.next, `progress after rejection: ${this.describe()}`);
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }

  describe(): string {
    return `match=${this.match} next=${this.next} ${this.state}${this.isLearner ? ' learner' : ''}`;
  }
}

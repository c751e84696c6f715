// The simulated network: every message is encoded to bytes when sent and decoded when delivered (so nodes
// never share objects and the codec is exercised), then dropped, duplicated, delayed (which reorders) or
// blocked by a partition, all decided by the seeded PRNG. Partitions are per directed link, so asymmetric
// partitions are just one blocked direction. In-flight messages are bounded by `inFlightMax`.
import { decodeMessage, encodeMessage } from '../codec.js';
import type { Prng } from '../prng.js';
import type { Message } from '../types.js';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Delivery happens 1..delayTicksMax ticks after sending. */
  delayTicksMax: number;
}

export const reliableNetwork: NetworkFaults = { dropRate: 0, duplicateRate: 0, delayTicksMax: 1 };

interface Envelope {
  readonly deliverAt: number;
  readonly seq: number;
  readonly bytes: Uint8Array;
  readonly from: number;
  readonly to: number;
  /** A lost snapshot: delivered to the sender as a failure report, as a real transport would. */
  readonly lostSnapshot: boolean;
}

export interface Delivery {
  readonly messages: Message[];
  /** (leader, follower) pairs whose snapshot message was lost. */
  readonly lostSnapshots: { readonly from: number; readonly to: number }[];
}

export class SimNetwork {
  faults: NetworkFaults = reliableNetwork;
  private queue: Envelope[] = [];
  private seq = 0;
  private readonly blocked = new Set<string>();
  sent = 0;
  delivered = 0;
  dropped = 0;
  bytes = 0;

  constructor(private readonly rng: Prng, readonly encode: boolean, readonly inFlightMax = 100_000) {}

  block(from: number, to: number): void {
    this.blocked.add(`${from}>${to}`);
  }

  isBlocked(from: number, to: number): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  healAll(): void {
    this.blocked.clear();
  }

  /** Splits the nodes into two sides; messages between the sides are lost in both directions. */
  partition(sideA: readonly number[], sideB: readonly number[]): void {
    for (const a of sideA) {
      for (const b of sideB) {
        this.block(a, b);
        this.block(b, a);
      }
    }
  }

  send(m: Message, now: number): void {
    this.sent++;
    const isSnap = m.snapshot !== undefined;
    if (this.rng.nextFloat() < this.faults.dropRate || this.queue.length >= this.inFlightMax) {
      this.dropped++;
      if (isSnap) this.queue.push({ deliverAt: now + 1, seq: this.seq++, bytes: new Uint8Array(0), from: m.from, to: m.to, lostSnapshot: true });
      return;
    }
    const bytes = this.encode ? encodeMessage(m) : (m as unknown as Uint8Array);
    if (this.encode) this.bytes += bytes.byteLength;
    const copies = this.rng.nextFloat() < this.faults.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const deliverAt = now + 1 + this.rng.nextInt(Math.max(1, this.faults.delayTicksMax));
      this.queue.push({ deliverAt, seq: this.seq++, bytes, from: m.from, to: m.to, lostSnapshot: false });
    }
  }

  /** Removes and returns the messages due at `now`, in a seeded random order; blocked links lose theirs. */
  due(now: number): Delivery {
    const ready: Envelope[] = [];
    const rest: Envelope[] = [];
    for (const e of this.queue) (e.deliverAt <= now ? ready : rest).push(e);
    this.queue = rest;
    // Fisher–Yates with the seeded PRNG: same-tick messages are delivered in any order.
    for (let i = ready.length - 1; i > 0; i--) {
      const j = this.rng.nextInt(i + 1);
      const t = ready[i]!;
      ready[i] = ready[j]!;
      ready[j] = t;
    }
    const out: Message[] = [];
    const lostSnapshots: { from: number; to: number }[] = [];
    for (const e of ready) {
      if (e.lostSnapshot) {
        lostSnapshots.push({ from: e.from, to: e.to });
        continue;
      }
      if (this.isBlocked(e.from, e.to)) {
        this.dropped++;
        const m = this.encode ? decodeMessage(e.bytes) : (e.bytes as unknown as Message);
        if (m.snapshot !== undefined) lostSnapshots.push({ from: e.from, to: e.to });
        continue;
      }
      this.delivered++;
      out.push(this.encode ? decodeMessage(e.bytes) : (e.bytes as unknown as Message));
    }
    return { messages: out, lostSnapshots };
  }

  inFlight(): number {
    return this.queue.length;
  }
}

// ReadIndex bookkeeping on the leader (dissertation §6.4): each request records the commit index at
// arrival and collects heartbeat acknowledgements carrying its context; once a quorum acknowledged, it
// and every earlier request are answered. Bounded by the number of outstanding requests (readIndexMax).
import type { Message } from './types.js';

interface ReadIndexStatus {
  readonly req: Message;
  readonly index: number;
  readonly acks: Set<number>;
}

function keyOf(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('latin1');
}

export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** Records a request; false when a request with the same context is already pending (contexts must be unique). */
  addRequest(index: number, req: Message): boolean {
    const key = keyOf(req.context);
    if (this.pending.has(key)) return false;
    this.pending.set(key, { req, index, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records an acknowledgement; returns the set of ackers, or undefined for an unknown context. */
  recvAck(id: number, ctx: Uint8Array): ReadonlySet<number> | undefined {
    const rs = this.pending.get(keyOf(ctx));
    if (rs === undefined) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Dequeues every request up to and including the one with `ctx` (all are now safe to answer). */
  advance(ctx: Uint8Array): ReadIndexStatus[] {
    const key = keyOf(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.splice(0, at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of done) {
      const rs = this.pending.get(k);
      if (rs !== undefined) out.push(rs);
      this.pending.delete(k);
    }
    return out;
  }

  pendingCount(): number {
    return this.queue.length;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}

// Replies of writes that wait for a shared commit. A `WriteGroup` is a set of writes handed to the engine
// together (the standalone store's event-loop turn); a `PendingReply` is one write's share of it. The
// server registers one listener per group and per connection instead of a promise per write, then reads
// each reply with `result()`; `PendingReply` is also a thenable, so `await store.submit(m)` works as with
// a promise. Invariant: a group settles once, after all its writes are as durable as the sync policy
// promises (or failed); `result()` is only meaningful after that.
import { ReplyError, type Reply } from '../resp/reply.js';
import type { WriteOp } from '../engine/types.js';
import { isCaskError } from '../util/errors.js';

export class WriteGroup {
  settled = false;
  private listeners: Array<() => void> = [];
  private promise: Promise<void> | undefined;
  private resolvePromise: (() => void) | undefined;

  /** Calls `listener` once the group settles (at once when it has). */
  listen(listener: () => void): void {
    if (this.settled) listener();
    else this.listeners.push(listener);
  }

  /** A promise that resolves when the group settles (created on first use). */
  get done(): Promise<void> {
    if (this.promise === undefined) {
      if (this.settled) this.promise = Promise.resolve();
      else this.promise = new Promise<void>((resolve) => (this.resolvePromise = resolve));
    }
    return this.promise;
  }

  /** Marks the group settled and notifies every listener; a throwing listener does not stop the others. */
  settle(): void {
    if (this.settled) return;
    this.settled = true;
    const listeners = this.listeners;
    this.listeners = [];
    this.resolvePromise?.();
    let failure: { error: unknown } | undefined;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}

export class PendingReply implements PromiseLike<Reply> {
  /** Set when this write failed (the whole group, or this write alone). */
  error: unknown = undefined;
  /** The command that made this write, for the server's statistics ('' when not told). */
  command = '';

  constructor(
    readonly group: WriteGroup,
    private readonly reply: Reply,
    /** This write's operations (committed alone when the group's combined write is refused). */
    readonly ops: WriteOp[],
  ) {}

  get settled(): boolean {
    return this.group.settled;
  }

  /** The reply, once the group has settled: the command's own reply, or an error if its write failed. */
  result(): Reply {
    return this.error === undefined ? this.reply : writeFailed(this.error);
  }

  then<T1 = Reply, T2 = never>(
    onfulfilled?: ((value: Reply) => T1 | PromiseLike<T1>) | null,
    onrejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.group.done.then(() => this.result()).then(onfulfilled, onrejected);
  }
}

/** The error reply of a failed write; an engine error names its code (`ERR write failed (CASKDB_NO_SPACE): …`). */
export function writeFailed(error: unknown): ReplyError {
  const message = error instanceof Error ? error.message : String(error);
  const code = isCaskError(error) ? ` (${error.code})` : '';
  return new ReplyError(`ERR write failed${code}: ${message}`);
}

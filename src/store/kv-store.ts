// `KvStore`: what the server needs from the data layer, whatever replicates it. Reads evaluate against
// `view` after `readBarrier()`; writes are `Mutation`s submitted in client order and applied in one
// global order (standalone: at once; Raft: in log order). The server never touches the engine directly.
import type { EngineStat } from '../engine/types.js';
import type { Reply } from '../resp/reply.js';
import type { KvView } from './kv-view.js';
import type { Mutation } from './mutation.js';
import type { PendingReply } from './pending-reply.js';
import type { ReadContext } from './data-commands.js';

export type StoreMode = 'standalone' | 'raft';

export interface KvStore {
  readonly mode: StoreMode;
  /** The applied state reads evaluate against. */
  readonly view: KvView;
  /** SCAN cursors and randomness for reads. */
  readonly readContext: ReadContext;
  /**
   * true when a submitted mutation is applied (visible in `view`) before `submit` returns, so the server
   * may run a client's next command at once; false makes the server wait for each write's reply first.
   */
  readonly appliesSynchronously: boolean;
  /**
   * Call before serving a read. undefined = the view may be read now (standalone); a promise = read once
   * it resolves (Raft ReadIndex). A rejection is sent to the client as an error. `stale`: the connection
   * accepts possibly stale local reads (READONLY), so no ReadIndex round is needed.
   */
  readBarrier(stale?: boolean): Promise<void> | undefined;
  /**
   * Applies a mutation. The reply is returned (or its promise resolves, or its `PendingReply` settles) once
   * the write is as durable as the sync policy promises (Raft: committed and applied). A failed write
   * resolves to an error reply. A `PendingReply` is also a thenable.
   */
  submit(mutation: Mutation): Reply | Promise<Reply> | PendingReply;
  /** Sequence number of the last applied mutation; WATCH records it. */
  readonly appliedSeq: number;
  /** WATCH bookkeeping: keys some client watches (reference-counted), so changes to them are tracked. */
  watchKeys(keys: readonly Buffer[]): void;
  unwatchKeys(keys: readonly Buffer[]): void;
  stat(): EngineStat;
  /** Flushes written data to disk (SAVE, BGSAVE). */
  sync(): Promise<void>;
  /** Compacts the data files (BGREWRITEAOF); undefined when the engine cannot. */
  readonly merge: (() => Promise<void>) | undefined;
  /** Extra INFO sections (Raft adds `raft`). */
  infoSections(): Record<string, Record<string, string | number>>;
  /** Waits for in-flight writes, syncs and closes the engine (releasing the directory lock). */
  close(): Promise<void>;
}

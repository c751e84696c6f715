// One client connection: parses requests, dispatches them, and writes replies strictly in request order
// even when some replies are promises (writes awaiting fsync). Replies of one event-loop turn leave in one
// socket write. Bounded: reading pauses while unsent output exceeds READ_PAUSE_BYTES, and a client whose
// unsent output passes `client-output-buffer-limit` is disconnected; a protocol error closes the
// connection after the error reply, as Redis does. Reading also pauses while READ_PAUSE_REPLIES replies
// are in flight, so a client pipelining into a slow fsync cannot make the server queue without bound.
// Hot path: GET and plain SET are recognised from their bytes and skip the generic command lookup; a
// grouped write's reply is a `PendingReply`, released when its group settles (one listener per group).
// Every command is first copied to MONITOR clients (as received; a monitor's line waits behind its own
// owed replies) and timed for SLOWLOG; with no monitor and the slow log off, both cost one comparison.
import type { Socket } from 'node:net';
import { RespParser } from '../resp/parser.js';
import { ReplyError, ReplyWriter, type ProtocolVersion, type Reply } from '../resp/reply.js';
import { checkArity, lookupDataCommand } from '../store/data-commands.js';
import type { Mutation, WatchedKey } from '../store/mutation.js';
import { PendingReply, type WriteGroup } from '../store/pending-reply.js';
import { ErrorCode, isCaskError } from '../util/errors.js';
import type { ClientInfo, MonitorSink, ServerContext } from './context.js';
import { monitorLine } from './monitor.js';
import { checkSubcommand, lookupServerCommand, NO_REPLY, type Outcome } from './server-commands.js';

/** Stop reading from a client while this many reply bytes wait in its socket. */
const READ_PAUSE_BYTES = 4 * 1024 * 1024;
/** Stop reading from a client while this many of its replies are still in flight (awaiting fsync). */
const READ_PAUSE_REPLIES = 16 * 1024;
/** Flush inside a long pipeline once this many reply bytes are encoded. */
const FLUSH_BYTES = 256 * 1024;

/** A reply owed behind an earlier one still in flight: done once its promise settled. */
interface Slot {
  done: boolean;
  reply: Outcome;
}

/**
 * Connections with replies to send once the event loop has handled every socket that was readable: like
 * Redis's write-before-sleep, the replies of one turn go out in a burst after all reads, so a client that
 * sleeps in epoll is woken once per burst rather than once per connection read (a wake-up is what a
 * loopback write costs most, and far more in a VM).
 */
let flushQueue: Connection[] = [];
let flushQueued = false;

function flushQueuedConnections(): void {
  const queue = flushQueue;
  flushQueue = [];
  flushQueued = false;
  for (const conn of queue) conn.flushQueuedReplies();
}

function isPromise(x: unknown): x is Promise<Outcome> {
  if (x instanceof Promise) return true;
  // Replies are mostly buffers, nulls and strings: answer those without a `then` lookup.
  if (typeof x !== 'object' || x === null || x instanceof Uint8Array) return false;
  return typeof (x as { then?: unknown }).then === 'function';
}

export function unknownCommandError(argv: readonly Buffer[]): ReplyError {
  let args = '';
  for (let i = 1; i < argv.length && args.length < 128; i++) args += `'${argv[i]!.toString('latin1').slice(0, 128 - args.length)}' `;
  return new ReplyError(`ERR unknown command '${argv[0]!.toString('latin1').slice(0, 128)}', with args beginning with: ${args}`);
}

/** A failed read barrier as a reply: Raft's no-leader and timeout conditions get their own error prefixes. */
function barrierError(error: unknown): ReplyError {
  const message = (error as Error)?.message ?? String(error);
  if (isCaskError(error, ErrorCode.NoLeader)) return new ReplyError(`CLUSTERDOWN ${message}`);
  if (isCaskError(error, ErrorCode.Timeout)) return new ReplyError(`TIMEOUT ${message}`);
  return new ReplyError(`ERR ${message}`);
}

/** Command names as sent ('SET', 'set', 'Set') → lower case, so the hot path lowercases each spelling once. */
const NAME_CACHE_MAX = 4096;
const nameCache = new Map<string, string>();

function commandName(arg: Buffer): string {
  const sent = arg.toString('latin1');
  let name = nameCache.get(sent);
  if (name === undefined) {
    name = sent.toLowerCase();
    if (nameCache.size < NAME_CACHE_MAX && arg.length <= 32) nameCache.set(sent, name);
  }
  return name;
}

export class Connection implements ClientInfo, MonitorSink {
  proto: ProtocolVersion = 2;
  name = '';
  libName = '';
  libVersion = '';
  readonly createdAtMs = Date.now();
  lastCommandAtMs = Date.now();
  lastCommand = 'NULL';
  /** Queued MULTI commands, or undefined outside MULTI. */
  multi: Buffer[][] | undefined;
  multiFailed = false;
  watched: WatchedKey[] = [];
  /** READONLY: this client accepts stale local reads in Raft mode (no ReadIndex round). */
  staleReads = false;
  /** MONITOR: this client receives every command; it may no longer touch the keyspace. */
  monitoring = false;

  private readonly parser: RespParser;
  private readonly writer = new ReplyWriter();
  private slots: Array<Slot | PendingReply> = [];
  /** The last write group this connection listens to (one listener per group is enough). */
  private listenedGroup: WriteGroup | undefined;
  private readonly onCommandBound = (argv: Buffer[]): void => this.onCommand(argv);
  private readonly drainBound = (): void => this.drain();
  private slotHead = 0;
  /** Commands parsed while an earlier one must finish first (read barrier, non-synchronous store). */
  private backlog: Buffer[][] = [];
  private waiting = false;
  private closeAfterReplies = false;
  private flushScheduled = false;
  /** In `flushQueue`, waiting for the end of the poll phase. */
  private inFlushQueue = false;
  private pausedForOutput = false;
  private pausedForReplies = false;
  closed = false;
  readonly addr: string;
  readonly laddr: string;

  constructor(
    readonly id: number,
    readonly socket: Socket,
    private readonly ctx: ServerContext,
    private readonly onClose: (conn: Connection) => void,
  ) {
    this.parser = new RespParser(ctx.parserLimits);
    this.addr = `${socket.remoteAddress}:${socket.remotePort}`;
    this.laddr = `${socket.localAddress}:${socket.localPort}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => undefined); // followed by 'close'
    socket.on('close', () => this.handleClose());
    socket.on('timeout', () => {
      ctx.stats.timeoutDisconnects++;
      ctx.log.debug('closing idle client', { client: id, addr: this.addr });
      socket.destroy();
    });
    this.applyTimeout();
  }

  applyTimeout(): void {
    this.socket.setTimeout(this.ctx.config.timeout * 1000);
  }

  private onData(chunk: Buffer): void {
    if (this.closeAfterReplies || this.closed) return;
    this.ctx.stats.inputBytes += chunk.length;
    this.lastCommandAtMs = Date.now();
    this.clockMark = performance.now();
    const error = this.parser.feed(chunk, this.onCommandBound);
    if (error !== undefined) {
      this.ctx.stats.protocolErrors++;
      this.ctx.log.info('protocol error, closing client', { client: this.id, addr: this.addr, error: error.message });
      this.push(new ReplyError(`ERR ${error.message}`));
      this.closeAfterReplies = true;
      this.socket.pause();
      this.maybeEnd();
    }
    if (this.writer.pendingBytes > 0) this.flushAfterReads();
  }

  private onCommand(argv: Buffer[]): void {
    if (this.closeAfterReplies || this.closed || this.socket.destroyed) return;
    if (this.waiting) {
      this.backlog.push(argv);
      return;
    }
    this.execute(argv);
    if (this.writer.pendingBytes > FLUSH_BYTES) this.flush();
    if (!this.pausedForReplies && this.slots.length - this.slotHead > READ_PAUSE_REPLIES) {
      this.pausedForReplies = true;
      this.socket.pause();
    }
  }

  private execute(argv: Buffer[]): void {
    const ctx = this.ctx;
    ctx.stats.commandsProcessed++;
    if (ctx.monitors.size > 0) this.feedMonitors(argv);
    this.statName = undefined;
    this.rejected = false;
    let result: Outcome | Promise<Outcome> | PendingReply;
    try {
      result = this.dispatch(argv);
    } catch (error) {
      // An engine failure (e.g. a corrupt record on read) fails this command only, never the server.
      const message = error instanceof Error ? error.message : String(error);
      ctx.log.error('command failed', { client: this.id, command: this.lastCommand, error: message });
      this.mustWait = false;
      result = new ReplyError(`ERR ${message}`);
    }
    // The command's time is its synchronous run (as Redis measures it: a write's wait for its group fsync
    // is not work), from the previous clock mark, so a pipeline costs one clock read per command; parsing
    // the command counts. It feeds INFO commandstats and SLOWLOG.
    const now = performance.now();
    const micros = (now - this.clockMark) * 1000;
    this.clockMark = now;
    const statName = this.statName;
    if (statName !== undefined) {
      if (this.rejected) ctx.commandStats.rejected(statName);
      else if (result instanceof ReplyError) ctx.commandStats.ran(statName, micros).failedCalls++;
      else ctx.commandStats.ran(statName, micros);
    }
    const slowMicros = ctx.config['slowlog-log-slower-than'];
    if (slowMicros >= 0 && micros >= slowMicros) ctx.slowlog.add(micros, argv, this.lastCommand, this.addr, this.name);
    this.push(result, statName);
    if (this.mustWait && isPromise(result)) {
      this.waiting = true;
      const resume = () => this.resume();
      result.then(resume, resume); // a rejection is answered through the slot; never left unhandled
    }
    this.mustWait = false;
  }

  /** Set by dispatch when the result is a promise later commands of this client must wait for. */
  private mustWait = false;
  /** When the command about to run started (the end of the previous one, or of the read that brought it). */
  private clockMark = 0;
  /** Set by dispatch: the known command being run (for commandstats), and whether it was refused unrun. */
  private statName: string | undefined;
  private rejected = false;

  private feedMonitors(argv: Buffer[]): void {
    const name = commandName(argv[0]!);
    const line = monitorLine(performance.timeOrigin + performance.now(), this.addr, argv, name);
    // A monitor's own RESET ends its monitoring; Redis, which feeds monitors after a command runs, never
    // shows it that line.
    const resettingMonitor = this.monitoring && name === 'reset';
    for (const monitor of this.ctx.monitors) if (!(resettingMonitor && monitor === this)) monitor.sendMonitorLine(line);
  }

  /** MONITOR: from now on this client gets a line per command; keyspace commands are refused. */
  startMonitoring(): void {
    this.monitoring = true;
    this.ctx.monitors.add(this);
  }

  /** RESET: back to an ordinary client. */
  stopMonitoring(): void {
    this.monitoring = false;
    this.ctx.monitors.delete(this);
  }

  sendMonitorLine(line: string): void {
    if (this.closed || this.closeAfterReplies) return;
    this.push(line);
    if (this.writer.pendingBytes > FLUSH_BYTES) this.flush();
    else this.flushAfterReads();
  }

  private resume(): void {
    this.waiting = false;
    this.clockMark = performance.now();
    while (!this.waiting && this.backlog.length > 0 && !this.closed && !this.closeAfterReplies) {
      this.execute(this.backlog.shift()!);
    }
    this.scheduleFlush();
  }

  private dispatch(argv: Buffer[]): Outcome | Promise<Outcome> | PendingReply {
    const first = argv[0]!;
    if (first.length === 3 && this.multi === undefined && !this.monitoring && (first[1]! | 0x20) === 0x65 && (first[2]! | 0x20) === 0x74) {
      const c = first[0]! | 0x20;
      if (c === 0x67 /* g */ && argv.length === 2) {
        this.lastCommand = 'get';
        this.statName = 'get';
        return this.get(argv[1]!);
      }
      if (c === 0x73 /* s */ && argv.length === 3) {
        this.lastCommand = 'set';
        this.statName = 'set';
        return this.submit({ op: 'set', key: argv[1]!, value: argv[2]!, nx: false, xx: false, get: false });
      }
    }
    const name = commandName(first);
    this.lastCommand = name;
    if (this.multi !== undefined && name !== 'exec' && name !== 'discard' && name !== 'multi' && name !== 'watch' && name !== 'quit' && name !== 'reset') {
      return this.queue(name, argv);
    }
    const server = lookupServerCommand(name);
    if (server !== undefined) {
      this.statName = name;
      const arityError = checkArity(server.spec, argv);
      if (arityError !== undefined) return this.reject(arityError);
      const out = server.run(this, argv, this.ctx);
      if (isPromise(out) && server.ordered === true) this.mustWait = true;
      return out;
    }
    const data = lookupDataCommand(name);
    if (data === undefined) return unknownCommandError(argv);
    this.statName = name;
    if (this.monitoring) return this.reject(new ReplyError("ERR Replica can't interact with the keyspace"));
    const arityError = checkArity(data, argv);
    if (arityError !== undefined) return this.reject(arityError);
    const parsed = data.parse(argv);
    if (parsed instanceof ReplyError) return parsed;
    const store = this.ctx.store;
    if (parsed.kind === 'read') {
      const barrier = store.readBarrier(this.staleReads);
      if (barrier === undefined) return parsed.run(store.view, store.readContext);
      this.mustWait = true;
      return barrier.then(
        () => parsed.run(store.view, store.readContext),
        (error: unknown) => barrierError(error),
      );
    }
    return this.submit(parsed.mutation);
  }

  /** A command refused before it ran (commandstats `rejected_calls`). */
  private reject(error: ReplyError): ReplyError {
    this.rejected = true;
    return error;
  }

  /** GET without the generic path: same barrier and view as any read. */
  private get(key: Buffer): Outcome | Promise<Outcome> {
    const store = this.ctx.store;
    const barrier = store.readBarrier(this.staleReads);
    if (barrier === undefined) return store.view.get(key) ?? null;
    this.mustWait = true;
    return barrier.then(
      () => store.view.get(key) ?? null,
      (error: unknown) => barrierError(error),
    );
  }

  private submit(mutation: Mutation): Outcome | Promise<Outcome> | PendingReply {
    const store = this.ctx.store;
    const out = store.submit(mutation);
    if (!store.appliesSynchronously && isPromise(out)) this.mustWait = true;
    return out;
  }

  private queue(name: string, argv: Buffer[]): Reply {
    const server = lookupServerCommand(name);
    const spec = server?.spec ?? lookupDataCommand(name);
    let error: ReplyError | undefined;
    if (spec === undefined) error = unknownCommandError(argv);
    else if (name === 'monitor') error = new ReplyError('ERR Command not allowed inside a transaction');
    else if (this.monitoring && server === undefined) error = new ReplyError("ERR Replica can't interact with the keyspace");
    else error = checkArity(spec, argv) ?? (server === undefined ? undefined : checkSubcommand(server, argv));
    if (error === undefined && this.multi!.length >= this.ctx.config['multi-queue-max']) {
      error = new ReplyError(`ERR MULTI queue is full (multi-queue-max is ${this.ctx.config['multi-queue-max']})`);
    }
    if (error !== undefined) {
      this.multiFailed = true;
      return error;
    }
    this.multi!.push(argv);
    return 'QUEUED';
  }

  /** Writes one reply into the output buffer, counting error replies (INFO errorstats). */
  private send(reply: Outcome): void {
    if (reply === NO_REPLY) return;
    if (reply instanceof ReplyError) this.ctx.commandStats.errorReply(reply.message);
    this.writer.write(reply, this.proto);
  }

  /** Appends a reply in request order; `command` is charged with a failure that arrives later. */
  private push(result: Outcome | Promise<Outcome> | PendingReply, command?: string): void {
    if (result instanceof PendingReply) {
      if (command !== undefined) result.command = command;
      this.slots.push(result);
      if (this.listenedGroup !== result.group) {
        this.listenedGroup = result.group;
        result.group.listen(this.drainBound);
      }
      return;
    }
    if (this.slotHead === this.slots.length && !isPromise(result)) {
      this.send(result);
      return;
    }
    const slot: Slot = { done: false, reply: null };
    this.slots.push(slot);
    if (isPromise(result)) {
      result.then(
        (reply) => {
          if (reply instanceof ReplyError && command !== undefined) this.ctx.commandStats.failed(command);
          this.complete(slot, reply);
        },
        (error: unknown) => {
          if (command !== undefined) this.ctx.commandStats.failed(command);
          this.complete(slot, new ReplyError(`ERR ${(error as Error)?.message ?? String(error)}`));
        },
      );
    } else {
      slot.done = true;
      slot.reply = result;
    }
  }

  private complete(slot: Slot, reply: Outcome): void {
    slot.done = true;
    slot.reply = reply;
    this.drain();
  }

  /** Writes every reply at the head of the queue that is ready, in order. */
  private drain(): void {
    if (this.closed) return;
    const slots = this.slots;
    let head = this.slotHead;
    const start = head;
    while (head < slots.length) {
      const slot = slots[head]!;
      let reply: Outcome;
      if (slot instanceof PendingReply) {
        if (!slot.settled) break;
        reply = slot.result();
        if (reply instanceof ReplyError && slot.command !== '') this.ctx.commandStats.failed(slot.command);
      } else {
        if (!slot.done) break;
        reply = slot.reply;
      }
      head++;
      this.send(reply);
    }
    this.slotHead = head;
    if (head === slots.length) {
      this.slots = [];
      this.slotHead = 0;
      this.listenedGroup = undefined;
    } else if (head > 1024) {
      this.slots = slots.slice(head);
      this.slotHead = 0;
    }
    if (head > start) this.scheduleFlush();
    if (this.pausedForReplies && this.pendingReplies < READ_PAUSE_REPLIES / 2) {
      this.pausedForReplies = false;
      if (!this.closeAfterReplies && !this.pausedForOutput) this.socket.resume();
    }
  }

  /** Replies still owed to this client (in flight). */
  get pendingReplies(): number {
    return this.slots.length - this.slotHead;
  }

  /** Sends this turn's replies once every readable socket has been read (see `flushQueue`). */
  private flushAfterReads(): void {
    if (this.inFlushQueue) return;
    this.inFlushQueue = true;
    flushQueue.push(this);
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flushQueuedConnections);
    }
  }

  /** Called by `flushQueuedConnections`. */
  flushQueuedReplies(): void {
    this.inFlushQueue = false;
    this.flush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed || this.socket.destroyed) return;
    const out = this.writer.take();
    if (out !== undefined) {
      if (Buffer.isBuffer(out)) {
        this.ctx.stats.outputBytes += out.length;
        this.socket.write(out);
      } else {
        this.socket.cork();
        for (const b of out) {
          this.ctx.stats.outputBytes += b.length;
          this.socket.write(b);
        }
        this.socket.uncork();
      }
      const queued = this.socket.writableLength;
      const limit = this.ctx.config['client-output-buffer-limit'];
      if (limit > 0 && queued > limit) {
        this.ctx.stats.outputLimitDisconnects++;
        this.ctx.log.warn('client output buffer limit reached, closing client', {
          client: this.id, addr: this.addr, queuedBytes: queued, limit: 'client-output-buffer-limit', limitBytes: limit,
        });
        this.socket.destroy();
        return;
      }
      if (queued > READ_PAUSE_BYTES && !this.pausedForOutput) {
        this.pausedForOutput = true;
        this.socket.pause();
      }
    }
    this.maybeEnd();
  }

  private onDrain(): void {
    if (this.pausedForOutput) {
      this.pausedForOutput = false;
      if (!this.closeAfterReplies && !this.pausedForReplies) this.socket.resume();
    }
  }

  private maybeEnd(): void {
    if (this.closeAfterReplies && this.pendingReplies === 0 && this.writer.pendingBytes === 0 && !this.closed) {
      this.socket.end();
    }
  }

  /** QUIT and SHUTDOWN: answer what is owed, then close. */
  closeAfterPending(): void {
    this.closeAfterReplies = true;
    this.backlog = [];
    this.socket.pause();
    this.scheduleFlush();
  }

  kill(): void {
    this.ctx.log.info('client killed (CLIENT KILL)', { client: this.id, addr: this.addr });
    this.socket.destroy();
  }

  /** Resolves once every reply owed has been handed to the socket. */
  async settle(deadlineMs = Date.now() + 10_000): Promise<void> {
    while (this.pendingReplies > 0 && !this.closed && Date.now() < deadlineMs) await new Promise((r) => setTimeout(r, 5));
    this.flush();
  }

  private handleClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.monitoring) this.ctx.monitors.delete(this);
    if (this.watched.length > 0) this.ctx.store.unwatchKeys(this.watched.map((w) => w.key));
    this.watched = [];
    this.onClose(this);
  }

  describe(): string {
    const now = Date.now();
    return [
      `id=${this.id}`, `addr=${this.addr}`, `laddr=${this.laddr}`, 'fd=-1', `name=${this.name}`,
      `age=${Math.floor((now - this.createdAtMs) / 1000)}`, `idle=${Math.floor((now - this.lastCommandAtMs) / 1000)}`,
      `flags=${this.monitoring ? 'O' : this.multi !== undefined ? 'x' : 'N'}`, 'db=0', 'sub=0', 'psub=0', 'ssub=0',
      `multi=${this.multi?.length ?? -1}`, `qbuf=${this.parser.bufferedBytes}`, 'qbuf-free=0', 'argv-mem=0', 'multi-mem=0',
      `obl=${this.writer.pendingBytes}`, `oll=${this.pendingReplies}`, `omem=${this.socket.writableLength}`,
      'events=r', `cmd=${this.lastCommand}`, 'user=default', 'redir=-1', `resp=${this.proto}`,
      `lib-name=${this.libName}`, `lib-ver=${this.libVersion}`,
    ].join(' ');
  }
}

// One server as the client sees it: an ioredis connection (no offline queue, no automatic resend, so a
// command is either written on a ready connection or refused before anything is sent), its registry data,
// its health and the requests in flight. A failed connection marks the server down; ioredis reconnects in
// the background with exponential backoff and a `ready` marks it up again. Command timeouts are one
// watchdog per connection, not a timer per command: replies arrive in send order, so a connection with
// requests in flight and no reply for the timeout (checked every quarter of it) is stuck; it is dropped and
// its requests fail as timed out.
import { Redis } from 'ioredis';
import type { BalancerServer } from '../balancer/types.js';
import type { RegistrationData } from '../registry/types.js';

export type ServerHealth = 'connecting' | 'up' | 'down';

export interface ConnectionOptions {
  connectTimeoutMs: number;
  /** 0 = no timeout. */
  commandTimeoutMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
}

/** Thrown when a command could not be written (the connection was not ready): safe to retry anywhere. */
export class NotSentError extends Error {
  constructor(address: string, reason: string) {
    super(`${address}: ${reason}`);
    this.name = 'NotSentError';
  }
}

/** A request had no reply within the command timeout; its connection was dropped. */
export class CommandTimeoutError extends Error {
  constructor(address: string, timeoutMs: number) {
    super(`${address}: no reply within ${timeoutMs} ms (command timed out; connection dropped)`);
    this.name = 'CommandTimeoutError';
  }
}

export class ServerConnection implements BalancerServer {
  readonly address: string;
  weight: number;
  role: string;
  inFlight = 0;
  /** Requests answered or failed through this server, for load-spread statistics. */
  served = 0;
  readonly redis: Redis;
  private readonly firstAttempt: Promise<void>;
  private closed = false;
  /** Watchdog state: `served` at the last check and when replies last made progress (or the line was idle). */
  private servedAtCheck = 0;
  private progressAt = performance.now();
  /** Set when the watchdog dropped the connection: the failures that follow are timeouts. */
  private timedOut = false;
  private readonly watchdog: NodeJS.Timeout | undefined;
  private state: ServerHealth = 'connecting';

  /**
   * `onEligibilityChange` runs synchronously whenever `eligible` may have changed (health or close), so the
   * client can keep its candidate lists precomputed instead of filtering the server list per request.
   */
  constructor(address: string, data: RegistrationData, private readonly options: ConnectionOptions,
    private readonly onEligibilityChange: () => void = () => undefined) {
    this.address = address;
    this.weight = data.weight;
    this.role = data.role;
    const { host, port } = splitAddress(address);
    this.redis = new Redis({
      host,
      port,
      lazyConnect: true,
      protocol: 2, // RESP2: no HELLO round trip before the first command (ioredis 6 defaults to HELLO 3)
      disableClientInfo: true, // no CLIENT SETINFO round trip per connection; caskdb needs no library tag
      enableOfflineQueue: false,
      enableReadyCheck: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs,
      retryStrategy: (times: number) => (this.closed ? null : Math.min(options.reconnectMaxMs, options.reconnectBaseMs * 2 ** Math.min(times - 1, 16))),
    });
    this.redis.on('ready', () => { this.setHealth('up'); this.timedOut = false; });
    this.redis.on('close', () => { if (this.state === 'up') this.setHealth('down'); });
    this.redis.on('error', () => undefined); // surfaced through the commands; an unhandled 'error' would crash
    this.firstAttempt = this.redis.connect().then(
      () => { this.setHealth('up'); },
      () => { if (this.state === 'connecting') this.setHealth('down'); },
    );
    if (options.commandTimeoutMs > 0) {
      this.watchdog = setInterval(() => this.checkTimeout(), Math.max(10, Math.min(250, options.commandTimeoutMs / 4)));
      this.watchdog.unref();
    }
  }

  get health(): ServerHealth {
    return this.state;
  }

  private setHealth(health: ServerHealth): void {
    if (this.state === health) return;
    this.state = health;
    this.onEligibilityChange();
  }

  update(data: RegistrationData): void {
    this.weight = data.weight;
    this.role = data.role;
  }

  /** True when the balancer may pick this server. */
  get eligible(): boolean {
    return this.state !== 'down' && !this.closed;
  }

  /** The connection when it is ready right now (the fast path, no await), else undefined. */
  readyNow(): Redis | undefined {
    return this.state === 'up' && this.redis.status === 'ready' && !this.closed ? this.redis : undefined;
  }

  /** The connection when ready; waits for the first connection attempt; throws NotSentError otherwise. */
  async ready(): Promise<Redis> {
    if (this.state === 'connecting') await this.firstAttempt;
    if (this.closed) throw new NotSentError(this.address, 'connection closed by the client');
    if (this.redis.status !== 'ready') {
      this.setHealth('down');
      throw new NotSentError(this.address, `not connected (${this.redis.status})`);
    }
    return this.redis;
  }

  /** Call right before writing a request. */
  begin(): void {
    // A busy period starts now: the watchdog must not count idle time before it as waiting.
    if (this.inFlight++ === 0) this.progressAt = performance.now();
  }

  /** Call when its reply (or failure) arrives. */
  end(): void {
    this.inFlight--;
    this.served++;
  }

  /** Maps a failure of a request sent here: a timeout-caused drop becomes CommandTimeoutError; connection failures mark the server down. */
  classify(error: unknown): unknown {
    if (error instanceof Error && error.name === 'ReplyError') return error;
    if (this.timedOut) return new CommandTimeoutError(this.address, this.options.commandTimeoutMs);
    if (error instanceof Error && /enableOfflineQueue|Stream isn't writeable/.test(error.message)) {
      // ioredis refused before writing (the connection dropped between our check and the send).
      this.markDown();
      return new NotSentError(this.address, error.message);
    }
    this.markDown();
    return error;
  }

  markDown(): void {
    if (this.state === 'up') this.setHealth('down');
  }

  private checkTimeout(): void {
    const now = performance.now();
    if (this.inFlight === 0 || this.served !== this.servedAtCheck) {
      this.servedAtCheck = this.served;
      this.progressAt = now;
      return;
    }
    if (now - this.progressAt < this.options.commandTimeoutMs) return;
    this.timedOut = true;
    this.setHealth('down');
    // Destroy, not end(): a stuck peer may never finish a graceful close. The close fails everything in
    // flight (no resend) and ioredis reconnects with backoff.
    this.redis.stream.destroy();
  }

  /** Closes the connection after in-flight replies arrive. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.state === 'down') this.onEligibilityChange();
    else this.setHealth('down');
    if (this.watchdog !== undefined) clearInterval(this.watchdog);
    if (this.redis.status === 'ready') {
      // QUIT lets replies in flight arrive first; bounded, since a stuck server may never answer it.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(1_000, this.options.commandTimeoutMs || 1_000))));
      await Promise.race([this.redis.quit().catch(() => undefined), bound]);
      clearTimeout(timer);
    }
    this.redis.disconnect();
    this.redis.stream?.destroy(); // do not wait for the peer's FIN: a stuck server would keep the socket (and the process) alive
  }
}

export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(i + 1)) };
}

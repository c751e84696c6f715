// One server as the client sees it: an ioredis connection (no offline queue, no automatic resend, so a
// command is either written on a ready connection or refused before anything is sent), its registry data,
// its health and the requests in flight. A failed connection marks the server down; ioredis reconnects in
// the background with exponential backoff and a `ready` marks it up again.
import { Redis } from 'ioredis';
import type { BalancerServer } from '../balancer/types.js';
import type { RegistrationData } from '../registry/types.js';

export type ServerHealth = 'connecting' | 'up' | 'down';

export interface ConnectionOptions {
  connectTimeoutMs: number;
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

export class ServerConnection implements BalancerServer {
  readonly address: string;
  weight: number;
  role: string;
  inFlight = 0;
  health: ServerHealth = 'connecting';
  /** Requests sent and answered (or failed) through this server, for load-spread statistics. */
  served = 0;
  readonly redis: Redis;
  private readonly firstAttempt: Promise<void>;
  private closed = false;

  constructor(address: string, data: RegistrationData, options: ConnectionOptions) {
    this.address = address;
    this.weight = data.weight;
    this.role = data.role;
    const { host, port } = splitAddress(address);
    this.redis = new Redis({
      host,
      port,
      lazyConnect: true,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      protocol: 2, // RESP2: no HELLO round trip before the first command (ioredis 6 defaults to HELLO 3)
      disableClientInfo: true, // no CLIENT SETINFO round trip per connection; caskdb needs no library tag
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs,
      commandTimeout: options.commandTimeoutMs,
      retryStrategy: (times: number) => (this.closed ? null : Math.min(options.reconnectMaxMs, options.reconnectBaseMs * 2 ** Math.min(times - 1, 16))),
    });
    this.redis.on('ready', () => (this.health = 'up'));
    this.redis.on('close', () => { if (this.health === 'up') this.health = 'down'; });
    this.redis.on('error', () => undefined); // surfaced through the commands; an unhandled 'error' would crash
    this.firstAttempt = this.redis.connect().then(
      () => { this.health = 'up'; },
      () => { if (this.health === 'connecting') this.health = 'down'; },
    );
  }

  update(data: RegistrationData): void {
    this.weight = data.weight;
    this.role = data.role;
  }

  /** True when the balancer may pick this server. */
  get eligible(): boolean {
    return this.health !== 'down' && !this.closed;
  }

  /** The connection when ready; waits for the first connection attempt; throws NotSentError otherwise. */
  async ready(): Promise<Redis> {
    if (this.health === 'connecting') await this.firstAttempt;
    if (this.closed) throw new NotSentError(this.address, 'connection closed by the client');
    if (this.redis.status !== 'ready') {
      this.health = 'down';
      throw new NotSentError(this.address, `not connected (${this.redis.status})`);
    }
    return this.redis;
  }

  markDown(): void {
    if (this.health === 'up') this.health = 'down';
  }

  /** Closes the connection after in-flight replies arrive (bounded by the command timeout). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.health = 'down';
    if (this.redis.status === 'ready') {
      try { await this.redis.quit(); } catch { /* already gone */ }
    }
    this.redis.disconnect();
  }
}

export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(i + 1)) };
}

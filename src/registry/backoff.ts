// Exponential backoff with full jitter for retries against the registry and servers. The jitter source is
// injectable so tests can pin it; delays are bounded by `maxMs`.
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** Returns a number in [0, 1); default Math.random (this module is not a pure one). */
  jitter?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly jitter: () => number;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 100;
    this.maxMs = options.maxMs ?? 10_000;
    this.jitter = options.jitter ?? Math.random;
  }

  /** The delay before the next attempt: in [cap/2, cap], cap = min(maxMs, baseMs · 2^attempt). */
  next(): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(cap / 2 + (cap / 2) * this.jitter());
  }

  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}

// SLOWLOG: the most recent commands that ran at least `slowlog-log-slower-than` microseconds, newest
// first, at most `slowlog-max-len` of them. The time is the command's synchronous run on the event loop
// (parse → apply → reply encoded), as Redis measures it; the wait for a group fsync or a Raft commit
// is not part of it (that is latency, not work). Entries are trimmed as Redis trims them — at most 32
// arguments and 128 bytes per argument, the rest summarised — so a huge MSET cannot pin its values in
// memory. Invariants: ids increase by one per entry ever added (RESET does not reuse them); the ring
// never holds more than the configured length.
import { isSecretArgument, REDACTED_ARGUMENT } from './monitor.js';

/** Arguments kept per entry; the last kept one says how many more there were. */
export const SLOWLOG_ARGS_MAX = 32;
/** Bytes kept per argument; the rest is summarised. */
export const SLOWLOG_ARG_BYTES_MAX = 128;

export interface SlowlogEntry {
  readonly id: number;
  /** Unix time in seconds when the command finished. */
  readonly unixSeconds: number;
  readonly durationMicros: number;
  readonly args: readonly Buffer[];
  readonly clientAddr: string;
  readonly clientName: string;
}

export function trimArguments(argv: readonly Buffer[], commandName: string): Buffer[] {
  const kept = argv.length > SLOWLOG_ARGS_MAX ? SLOWLOG_ARGS_MAX - 1 : argv.length;
  const args: Buffer[] = [];
  for (let i = 0; i < kept; i++) {
    const arg = argv[i]!;
    if (isSecretArgument(argv, commandName, i)) args.push(REDACTED_ARGUMENT);
    else if (arg.length > SLOWLOG_ARG_BYTES_MAX) {
      args.push(Buffer.concat([arg.subarray(0, SLOWLOG_ARG_BYTES_MAX), Buffer.from(`... (${arg.length - SLOWLOG_ARG_BYTES_MAX} more bytes)`)]));
    } else args.push(Buffer.from(arg)); // a copy: the request buffer may be reused or large
  }
  if (kept < argv.length) args.push(Buffer.from(`... (${argv.length - kept} more arguments)`));
  return args;
}

export class Slowlog {
  /** Newest last. */
  private entries: SlowlogEntry[] = [];
  private nextId = 0;

  constructor(private maxLength: number) {}

  get length(): number {
    return this.entries.length;
  }

  /** Records a command when the log keeps anything (`maxLength` > 0). */
  add(durationMicros: number, argv: readonly Buffer[], commandName: string, clientAddr: string, clientName: string): void {
    if (this.maxLength === 0) return;
    this.entries.push({
      id: this.nextId++,
      unixSeconds: Math.floor(Date.now() / 1000),
      durationMicros: Math.round(durationMicros),
      args: trimArguments(argv, commandName),
      clientAddr,
      clientName,
    });
    if (this.entries.length > this.maxLength) this.entries.splice(0, this.entries.length - this.maxLength);
  }

  /** The newest `count` entries, newest first (all of them when `count` is negative). */
  newest(count: number): SlowlogEntry[] {
    const n = count < 0 ? this.entries.length : Math.min(count, this.entries.length);
    const out: SlowlogEntry[] = [];
    for (let i = this.entries.length - 1; out.length < n; i--) out.push(this.entries[i]!);
    return out;
  }

  reset(): void {
    this.entries = [];
  }

  /** CONFIG SET slowlog-max-len: a shorter log drops its oldest entries at once. */
  setMaxLength(maxLength: number): void {
    this.maxLength = maxLength;
    if (this.entries.length > maxLength) this.entries.splice(0, this.entries.length - maxLength);
  }
}

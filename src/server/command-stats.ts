// Per-command and per-error counters for INFO `commandstats`, `errorstats` and `latencystats` (and the
// LATENCY HISTOGRAM command), in Redis's formats
// (`cmdstat_get:calls=…,usec=…,usec_per_call=…,rejected_calls=…,failed_calls=…`, `errorstat_ERR:count=…`),
// which exporters and dashboards read. Semantics as Redis: `calls` and `usec` count commands that ran
// (the time is the synchronous run, as SLOWLOG measures it), `rejected_calls` those refused before running
// (wrong arity, a keyspace command from a MONITOR client), `failed_calls` those that ran and answered an
// error — also later, when a write's group commit fails. `errorstat_<PREFIX>` counts every error reply
// sent, by its first word. Invariants: only known command names become entries (a client sending random
// names cannot grow the table), and at most ERROR_PREFIXES_MAX error prefixes are kept (then the rest
// count under ERRORSTATS_OVERFLOW). With `latency-tracking` on, each command that ran also lands in its
// latency histogram (latency-histogram.ts).
import { LatencyHistogram } from './latency-histogram.js';

export interface CommandStat {
  calls: number;
  usec: number;
  rejectedCalls: number;
  failedCalls: number;
  /** Created on the first call recorded while latency tracking is on. */
  latency: LatencyHistogram | undefined;
}

export const ERROR_PREFIXES_MAX = 128;
const OVERFLOW_PREFIX = 'ERRORSTATS_OVERFLOW';

export class CommandStats {
  private readonly commands = new Map<string, CommandStat>();
  private readonly errors = new Map<string, number>();
  /** Error replies sent (INFO stats `total_error_replies`). */
  errorReplies = 0;
  /** `latency-tracking`: record each call's time in its command's histogram. */
  latencyTracking = true;

  private entry(name: string): CommandStat {
    let stat = this.commands.get(name);
    if (stat === undefined) {
      stat = { calls: 0, usec: 0, rejectedCalls: 0, failedCalls: 0, latency: undefined };
      this.commands.set(name, stat);
    }
    return stat;
  }

  /** A command that ran for `micros`; returns its entry so a failure can be added at once. */
  ran(name: string, micros: number): CommandStat {
    const stat = this.entry(name);
    stat.calls++;
    stat.usec += micros;
    if (this.latencyTracking) (stat.latency ??= new LatencyHistogram()).record(micros);
    return stat;
  }

  rejected(name: string): void {
    this.entry(name).rejectedCalls++;
  }

  /** A command whose reply, settled later, is an error. */
  failed(name: string): void {
    this.entry(name).failedCalls++;
  }

  /** Counts an error reply sent to a client, under the first word of its message. */
  errorReply(message: string): void {
    this.errorReplies++;
    const space = message.indexOf(' ');
    let prefix = space < 0 ? message : message.slice(0, space);
    if (!this.errors.has(prefix) && this.errors.size >= ERROR_PREFIXES_MAX) prefix = OVERFLOW_PREFIX;
    this.errors.set(prefix, (this.errors.get(prefix) ?? 0) + 1);
  }

  /** CONFIG RESETSTAT. */
  reset(): void {
    this.commands.clear();
    this.errors.clear();
    this.errorReplies = 0;
  }

  commandSection(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of [...this.commands.keys()].sort()) {
      const s = this.commands.get(name)!;
      const usec = Math.round(s.usec);
      const perCall = s.calls === 0 ? 0 : s.usec / s.calls;
      out[`cmdstat_${name}`] = `calls=${s.calls},usec=${usec},usec_per_call=${perCall.toFixed(2)},rejected_calls=${s.rejectedCalls},failed_calls=${s.failedCalls}`;
    }
    return out;
  }

  /** `latency_percentiles_usec_<cmd>:p50=…,p99=…` for every command with recorded latencies. */
  latencySection(percentiles: readonly number[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of [...this.commands.keys()].sort()) {
      const histogram = this.commands.get(name)!.latency;
      if (histogram === undefined || histogram.total === 0) continue;
      out[`latency_percentiles_usec_${name}`] = percentiles.map((p) => `p${p}=${histogram.percentileMicros(p).toFixed(3)}`).join(',');
    }
    return out;
  }

  /** LATENCY HISTOGRAM: the commands asked for (all with data when none), each with calls and its histogram. */
  histograms(names: readonly string[]): Array<{ name: string; calls: number; cumulative: Array<[number, number]> }> {
    const wanted = names.length === 0 ? [...this.commands.keys()].sort() : names;
    const out: Array<{ name: string; calls: number; cumulative: Array<[number, number]> }> = [];
    for (const name of wanted) {
      const histogram = this.commands.get(name)?.latency;
      if (histogram === undefined || histogram.total === 0) continue;
      out.push({ name, calls: histogram.total, cumulative: histogram.cumulativePowersOfTwoMicros() });
    }
    return out;
  }

  errorSection(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const prefix of [...this.errors.keys()].sort()) out[`errorstat_${prefix}`] = `count=${this.errors.get(prefix)!}`;
    return out;
  }
}

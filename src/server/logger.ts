// Structured logs: one JSON object per line on stderr ({"ts","level","msg",…fields}), filtered by level.
// The same function shape as the engine's `Logger`, so the engine logs through it too.
import type { LogEntry, LogLevel } from '../engine/options.js';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export class ServerLogger {
  level: LogLevel;
  constructor(
    level: LogLevel,
    private readonly out: (line: string) => void = (line) => process.stderr.write(line),
  ) {
    this.level = level;
  }

  log(entry: LogEntry): void {
    if (RANK[entry.level] < RANK[this.level]) return;
    const { level, msg, ...fields } = entry;
    this.out(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }) + '\n');
  }

  debug(msg: string, fields: Record<string, unknown> = {}): void {
    this.log({ level: 'debug', msg, ...fields });
  }
  info(msg: string, fields: Record<string, unknown> = {}): void {
    this.log({ level: 'info', msg, ...fields });
  }
  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.log({ level: 'warn', msg, ...fields });
  }
  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.log({ level: 'error', msg, ...fields });
  }
}

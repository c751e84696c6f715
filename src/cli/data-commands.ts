// The data subcommands of the CLI: get, put, del, dump, stat, merge and backup on a data directory.
// Scriptable: results go to stdout, messages to stderr; exit 0 on success, 1 on failure (or a missing
// key for get), 2 on a usage error. Each command opens the Db (taking the directory lock) and closes it.
import { existsSync, statSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { dirname } from 'node:path';
import { Db } from '../engine/db.js';
import type { EngineStat } from '../engine/types.js';
import { CaskError, ErrorCode } from '../util/errors.js';
import type { SubcommandModule } from './dispatch.js';

/** A usage mistake: printed with the command's help hint, exit code 2. */
export class UsageError extends Error {}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

type Values = Record<string, string | boolean | undefined>;

export interface ParsedArgs {
  values: Values;
  positionals: string[];
}

/** Parses argv strictly; `--help`/`-h` is always accepted. Throws UsageError on unknown options. */
export function parseCommandArgs(argv: string[], options: NonNullable<ParseArgsConfig['options']>): ParsedArgs {
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function requireDir(values: Values): string {
  const dir = values['dir'];
  if (typeof dir !== 'string' || dir === '') throw new UsageError('--dir DIR is required');
  return dir;
}

/**
 * Wraps a command body: prints help for --help, maps UsageError to exit 2 (with the help text), and
 * CaskError to exit 1 with its code, so scripts can branch on the exit status.
 */
export function command(name: string, help: string, body: (argv: string[]) => Promise<number>): SubcommandModule {
  return {
    async run(argv: string[]): Promise<number> {
      const options = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
      if (options.includes('--help') || options.includes('-h')) {
        process.stdout.write(help.trimEnd() + '\n');
        return EXIT_OK;
      }
      try {
        return await body(argv);
      } catch (error) {
        if (error instanceof UsageError) {
          process.stderr.write(`caskdb ${name}: ${error.message}\n\n${help.trimEnd()}\n`);
          return EXIT_USAGE;
        }
        if (error instanceof CaskError) {
          process.stderr.write(failureText(name, error));
          return EXIT_FAILURE;
        }
        throw error;
      }
    },
  };
}

/** What a command prints when it fails with a typed error: the message and code, and a next step where there is an obvious one. */
export function failureText(command: string, error: CaskError): string {
  let text = `caskdb ${command}: ${error.message} [${error.code}]\n`;
  // Damage in an engine file (not, say, a Raft log segment): `check` lists every damaged spot in its directory.
  if (error.code === ErrorCode.Corruption && error.file !== undefined && /(\.data|hint-index|merge-finished|seq-no)$/.test(error.file)) {
    text += `  the damaged data is left as it is; \`caskdb check --dir ${dirname(error.file)}\` lists every damaged spot\n`;
  }
  return text;
}

/** Decodes a key or value argument: UTF-8 text, or hex with --hex. */
export function decodeArgument(text: string, hex: boolean, what: string): Buffer {
  if (!hex) return Buffer.from(text, 'utf8');
  const compact = text.replace(/\s+/g, '');
  if (compact.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(compact)) throw new UsageError(`${what} is not valid hex: ${JSON.stringify(text.slice(0, 40))}`);
  return Buffer.from(compact, 'hex');
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

let stdoutWatched = false;
let stdoutClosed = false;
let stdoutError: Error | undefined;

/** Notes EPIPE (the reader went away, e.g. `| head`) instead of crashing on it. */
function watchStdout(): void {
  if (stdoutWatched) return;
  stdoutWatched = true;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') stdoutClosed = true;
    else stdoutError ??= error;
  });
}

function checkStdout(): void {
  const error: Error | undefined = stdoutError;
  if (error !== undefined) throw new CaskError(ErrorCode.Io, `cannot write to stdout: ${error.message}`);
}

/**
 * Writes to stdout, waiting for drain on backpressure. Resolves false once the reader has closed the
 * pipe (callers stop producing output); rejects with any other write error.
 */
export async function writeOut(data: string | Uint8Array): Promise<boolean> {
  watchStdout();
  checkStdout();
  if (stdoutClosed) return false;
  if (!process.stdout.write(data)) {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        process.stdout.off('drain', done);
        process.stdout.off('close', done);
        process.stdout.off('error', done);
        resolve();
      };
      process.stdout.on('drain', done);
      process.stdout.on('close', done);
      process.stdout.on('error', done);
    });
  }
  checkStdout();
  return !stdoutClosed;
}

/** A progress line on stderr, only when stderr is a terminal (so pipes and logs stay clean). */
export class ProgressLine {
  private readonly enabled = process.stderr.isTTY === true;
  private lastDrawMs = 0;

  update(text: string): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDrawMs < 100) return;
    this.lastDrawMs = now;
    process.stderr.write(`\r\x1b[2K${text}`);
  }

  done(): void {
    if (this.enabled && this.lastDrawMs > 0) process.stderr.write('\r\x1b[2K');
  }
}

/**
 * Opens the Db for a CLI command; warnings from recovery (a cut torn tail) go to stderr. Only `put`
 * creates a missing directory: reading a mistyped path must not leave an empty database behind.
 */
async function openForCli(dir: string, create: boolean): Promise<Db> {
  if (!create && !(existsSync(dir) && statSync(dir).isDirectory())) {
    throw new CaskError(ErrorCode.InvalidArgument, `no such data directory: ${dir}`);
  }
  return Db.open({ dir });
}

async function withDb<T>(dir: string, body: (db: Db) => Promise<T>, create = false): Promise<T> {
  const db = await openForCli(dir, create);
  try {
    return await body(db);
  } finally {
    await db.close();
  }
}

// ------------------------------------------------------------------ get

const GET_HELP = `usage: caskdb get --dir DIR [--hex] KEY

Prints the value stored under KEY to stdout, byte for byte (no newline added).
Exit status: 0 found, 1 not found (nothing printed) or an error, 2 usage error.

options:
  --dir DIR   the data directory
  --hex       KEY is given as hex, and the value is printed as hex followed by a newline
  -h, --help  this help
`;

export const getCommand = command('get', GET_HELP, async (argv) => {
  const { values, positionals } = parseCommandArgs(argv, { dir: { type: 'string' }, hex: { type: 'boolean' } });
  const dir = requireDir(values);
  if (positionals.length !== 1) throw new UsageError('expected exactly one KEY');
  const hex = values['hex'] === true;
  const key = decodeArgument(positionals[0]!, hex, 'KEY');
  const value = await withDb(dir, async (db) => db.get(key));
  if (value === undefined) {
    process.stderr.write(`caskdb get: key not found\n`);
    return EXIT_FAILURE;
  }
  await writeOut(hex ? value.toString('hex') + '\n' : value);
  return EXIT_OK;
});

// ------------------------------------------------------------------ put

const PUT_HELP = `usage: caskdb put --dir DIR [--hex] KEY [VALUE|-]

Stores VALUE under KEY and makes it durable (fsync) before exiting. Without VALUE, or with '-',
the value is read from stdin, every byte of it (a trailing newline is kept).
Exit status: 0 stored, 1 an error (directory locked, key or value too large, I/O), 2 usage error.

options:
  --dir DIR   the data directory (created when missing)
  --hex       KEY and VALUE (or stdin) are hex; whitespace in them is ignored
  -h, --help  this help
`;

export const putCommand = command('put', PUT_HELP, async (argv) => {
  const { values, positionals } = parseCommandArgs(argv, { dir: { type: 'string' }, hex: { type: 'boolean' } });
  const dir = requireDir(values);
  if (positionals.length < 1 || positionals.length > 2) throw new UsageError('expected KEY and an optional VALUE');
  const hex = values['hex'] === true;
  const key = decodeArgument(positionals[0]!, hex, 'KEY');
  const valueArgument = positionals[1];
  let value: Buffer;
  if (valueArgument === undefined || valueArgument === '-') {
    const input = await readStdin();
    value = hex ? decodeArgument(input.toString('latin1'), true, 'stdin') : input;
  } else {
    value = decodeArgument(valueArgument, hex, 'VALUE');
  }
  await withDb(
    dir,
    async (db) => {
      await db.put(key, value);
      await db.sync();
    },
    true,
  );
  return EXIT_OK;
});

// ------------------------------------------------------------------ del

const DEL_HELP = `usage: caskdb del --dir DIR [--hex] KEY

Deletes KEY (durably, before exiting). Deleting a key that does not exist succeeds and writes nothing;
stdout says which happened: 'deleted' or 'not found'.
Exit status: 0 done, 1 an error, 2 usage error.

options:
  --dir DIR   the data directory
  --hex       KEY is given as hex
  -h, --help  this help
`;

export const delCommand = command('del', DEL_HELP, async (argv) => {
  const { values, positionals } = parseCommandArgs(argv, { dir: { type: 'string' }, hex: { type: 'boolean' } });
  const dir = requireDir(values);
  if (positionals.length !== 1) throw new UsageError('expected exactly one KEY');
  const key = decodeArgument(positionals[0]!, values['hex'] === true, 'KEY');
  const existed = await withDb(dir, async (db) => {
    const had = db.has(key);
    await db.delete(key);
    await db.sync();
    return had;
  });
  await writeOut(existed ? 'deleted\n' : 'not found\n');
  return EXIT_OK;
});

// ------------------------------------------------------------------ dump

const DUMP_HELP = `usage: caskdb dump --dir DIR [--format hex|json]

Prints every live pair in key order (unsigned byte order), one per line.
  hex  (default)  hex(key) TAB hex(value)
  json            {"key":K,"value":V}; K and V are strings when the bytes are valid UTF-8,
                  otherwise base64 with a marker: {"key":"AP8=","keyEncoding":"base64",...}
                  (likewise "valueEncoding":"base64" for the value).
A progress line is drawn on stderr only when stderr is a terminal.

options:
  --dir DIR        the data directory
  --format FORMAT  hex or json
  -h, --help       this help
`;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function jsonField(name: string, bytes: Buffer): string {
  try {
    return `${JSON.stringify(name)}:${JSON.stringify(utf8.decode(bytes))}`;
  } catch {
    return `${JSON.stringify(name)}:${JSON.stringify(bytes.toString('base64'))},${JSON.stringify(`${name}Encoding`)}:"base64"`;
  }
}

/** One dump line of a pair in the chosen format. */
export function formatDumpLine(format: 'hex' | 'json', key: Buffer, value: Buffer): string {
  if (format === 'hex') return `${key.toString('hex')}\t${value.toString('hex')}\n`;
  return `{${jsonField('key', key)},${jsonField('value', value)}}\n`;
}

const DUMP_FLUSH_BYTES = 256 * 1024;

export const dumpCommand = command('dump', DUMP_HELP, async (argv) => {
  const { values, positionals } = parseCommandArgs(argv, { dir: { type: 'string' }, format: { type: 'string' } });
  const dir = requireDir(values);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const format = values['format'] ?? 'hex';
  if (format !== 'hex' && format !== 'json') throw new UsageError(`--format must be hex or json, got '${String(format)}'`);
  return withDb(dir, async (db) => {
    const progress = new ProgressLine();
    const total = db.size;
    let written = 0;
    let pending = '';
    for (const [key, value] of db.iterate()) {
      pending += formatDumpLine(format, key, value);
      written++;
      if (pending.length >= DUMP_FLUSH_BYTES) {
        if (!(await writeOut(pending))) return EXIT_OK; // the reader closed the pipe (e.g. `| head`)
        pending = '';
        progress.update(`dump: ${written} / ${total} keys`);
      }
    }
    progress.done();
    if (pending.length > 0) await writeOut(pending);
    return EXIT_OK;
  });
});

// ------------------------------------------------------------------ stat

const STAT_HELP = `usage: caskdb stat --dir DIR [--json]

Prints engine statistics of a data directory: live keys, data files, disk and reclaimable bytes,
the index's memory, the last batch seq and how long the open took.

options:
  --dir DIR   the data directory
  --json      one JSON object instead of a table
  -h, --help  this help
`;

function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]} (${bytes})`;
}

export function formatStatTable(stat: EngineStat): string {
  const rows: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(stat)) {
    const shown = typeof value === 'number' && /bytes$/i.test(name) && !/PerKey$/.test(name) ? humanBytes(value) : String(value);
    rows.push([name, shown]);
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`).join('\n') + '\n';
}

export const statCommand = command('stat', STAT_HELP, async (argv) => {
  const { values, positionals } = parseCommandArgs(argv, { dir: { type: 'string' }, json: { type: 'boolean' } });
  const dir = requireDir(values);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const stat = await withDb(dir, async (db) => db.stat());
  await writeOut(values['json'] === true ? JSON.stringify(stat) + '\n' : formatStatTable(stat));
  return EXIT_OK;
});

// ------------------------------------------------------------------ merge and backup

const MERGE_HELP = `usage: caskdb merge --dir DIR

Compacts the data directory: rewrites the live records into merged files with a hint file and removes
the superseded ones (see docs/format.md). Prints the disk bytes before and after.
Exit status: 0 merged, 1 an error, 2 usage error.

options:
  --dir DIR   the data directory
  -h, --help  this help
`;

export const mergeCommand = command('merge', MERGE_HELP, async (argv) => {
  const { values, positionals } = parseCommandArgs(argv, { dir: { type: 'string' } });
  const dir = requireDir(values);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const outcome = await withDb(dir, async (db) => {
    const before = db.stat();
    const result = await db.merge();
    return { before, after: db.stat(), result };
  });
  if (outcome.result === undefined) {
    await writeOut(`nothing to merge: the data directory holds no records\n`);
    return EXIT_OK;
  }
  const { before, after, result } = outcome;
  await writeOut(
    `merged ${result.keys} live keys: ${result.inputBytes} bytes of old files -> ${result.outputBytes} bytes; ` +
      `disk bytes ${before.diskBytes} -> ${after.diskBytes}, reclaimable ${before.reclaimableBytes} -> ${after.reclaimableBytes}\n`,
  );
  return EXIT_OK;
});

const BACKUP_HELP = `usage: caskdb backup --dir DIR [--to] DEST

Copies a consistent snapshot of the data directory to DEST (which must not exist or be empty) while
holding the directory open; DEST then opens as a database of its own.
Exit status: 0 copied, 1 an error, 2 usage error.

options:
  --dir DIR   the data directory
  --to DEST   the backup directory (or give DEST as the argument)
  -h, --help  this help
`;

export const backupCommand = command('backup', BACKUP_HELP, async (argv) => {
  const { values, positionals } = parseCommandArgs(argv, { dir: { type: 'string' }, to: { type: 'string' } });
  const dir = requireDir(values);
  const to = typeof values['to'] === 'string' ? values['to'] : positionals[0];
  if (to === undefined || to === '') throw new UsageError('the backup destination DEST is required');
  if (positionals.length > (typeof values['to'] === 'string' ? 0 : 1)) throw new UsageError('too many arguments');
  const result = await withDb(dir, async (db) => db.backup(to));
  await writeOut(`backed up ${dir} to ${result.dir}: ${result.files} files, ${result.bytes} bytes\n`);
  return EXIT_OK;
});

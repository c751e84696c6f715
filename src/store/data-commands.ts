// The data commands (strings and keyspace), shared by the server and by EXEC at apply time. Each entry has
// Redis's arity/flags/key positions (for COMMAND) and a `parse` that validates arguments and returns
// either a read (run against a view) or a write (a Mutation). Parsing is pure and deterministic.
import { ReplyError, type Reply } from '../resp/reply.js';
import { globLiteralPrefix, globMatch } from './glob-match.js';
import type { KvView } from './kv-view.js';
import type { Mutation } from './mutation.js';
import { parseLongDouble } from './long-double.js';
import { parseInt64, parseSafeInt } from './numbers.js';
import type { ScanCursorTable } from './scan-cursors.js';

export interface ReadContext {
  scanCursors: ScanCursorTable;
  /** A number in [0, 1) (RANDOMKEY); reads may be non-deterministic, writes never are. */
  random(): number;
}

export type ParsedCommand =
  | { readonly kind: 'read'; run(view: KvView, ctx: ReadContext): Reply }
  | { readonly kind: 'write'; readonly mutation: Mutation };

export interface CommandSpec {
  readonly name: string;
  /** Redis arity: the argument count including the name; negative = at least that many. */
  readonly arity: number;
  readonly flags: readonly string[];
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  readonly group: string;
  readonly summary: string;
  readonly since: string;
}

export interface DataCommand extends CommandSpec {
  parse(argv: readonly Buffer[]): ParsedCommand | ReplyError;
}

const ERR_NOT_INTEGER = new ReplyError('ERR value is not an integer or out of range');
const ERR_SYNTAX = new ReplyError('ERR syntax error');

export function expiryNotSupported(name: string): ReplyError {
  return new ReplyError(`ERR expiry is not supported by caskdb: keys never expire ('${name}' was refused)`);
}

export function checkArity(spec: CommandSpec, argv: readonly unknown[]): ReplyError | undefined {
  const n = argv.length;
  if (spec.arity > 0 ? n !== spec.arity : n < -spec.arity) {
    return new ReplyError(`ERR wrong number of arguments for '${spec.name}' command`);
  }
  return undefined;
}

const read = (run: (view: KvView, ctx: ReadContext) => Reply): ParsedCommand => ({ kind: 'read', run });
const write = (mutation: Mutation): ParsedCommand => ({ kind: 'write', mutation });

const lower = (b: Buffer): string => b.toString('latin1').toLowerCase();

type Def = Omit<DataCommand, 'name' | 'firstKey' | 'lastKey' | 'step' | 'since'> &
  Partial<Pick<DataCommand, 'firstKey' | 'lastKey' | 'step' | 'since'>>;

const table = new Map<string, DataCommand>();
function define(name: string, def: Def): void {
  table.set(name, { firstKey: 1, lastKey: 1, step: 1, since: '1.0.0', ...def, name });
}

export function lookupDataCommand(name: string): DataCommand | undefined {
  return table.get(name);
}

export function dataCommandNames(): string[] {
  return [...table.keys()];
}

// --- strings ---------------------------------------------------------------------------------------

define('get', { arity: 2, flags: ['readonly', 'fast'], group: 'string', summary: 'Returns the string value of a key.',
  parse: (a) => read((v) => v.get(a[1]!) ?? null) });

define('set', {
  arity: -3, flags: ['write', 'denyoom'], group: 'string', summary: 'Sets the string value of a key.',
  parse: (a) => {
    let nx = false;
    let xx = false;
    let get = false;
    for (let i = 3; i < a.length; i++) {
      const opt = lower(a[i]!);
      if (opt === 'nx' && !xx) nx = true;
      else if (opt === 'xx' && !nx) xx = true;
      else if (opt === 'get') get = true;
      else if (opt === 'keepttl') continue; // keys never expire, so keeping "no TTL" is what happens anyway
      else if (opt === 'ex' || opt === 'px' || opt === 'exat' || opt === 'pxat') return expiryNotSupported(`set ${opt}`);
      else return ERR_SYNTAX;
    }
    return write({ op: 'set', key: a[1]!, value: a[2]!, nx, xx, get });
  },
});

define('setnx', { arity: 3, flags: ['write', 'denyoom', 'fast'], group: 'string', summary: 'Sets a key only when it does not exist.',
  parse: (a) => write({ op: 'setnx', key: a[1]!, value: a[2]! }) });
define('getset', { arity: 3, flags: ['write', 'denyoom', 'fast'], group: 'string', summary: 'Sets a key and returns its old value.',
  parse: (a) => write({ op: 'set', key: a[1]!, value: a[2]!, nx: false, xx: false, get: true }) });
define('getdel', { arity: 2, flags: ['write', 'fast'], group: 'string', summary: 'Returns a value and deletes the key.', since: '6.2.0',
  parse: (a) => write({ op: 'getdel', key: a[1]! }) });
define('getex', { arity: -2, flags: ['write', 'fast'], group: 'string', summary: 'Returns a value (expiry options are refused).', since: '6.2.0',
  parse: (a) => (a.length > 2 ? (lower(a[2]!) === 'persist' && a.length === 3 ? read((v) => v.get(a[1]!) ?? null) : expiryNotSupported('getex')) : read((v) => v.get(a[1]!) ?? null)) });

define('mget', { arity: -2, flags: ['readonly', 'fast'], group: 'string', summary: 'Returns the values of keys.', lastKey: -1,
  parse: (a) => read((v) => a.slice(1).map((k) => v.get(k) ?? null)) });

function parsePairs(a: readonly Buffer[], name: string): Array<readonly [Buffer, Buffer]> | ReplyError {
  if ((a.length - 1) % 2 !== 0) return new ReplyError(`ERR wrong number of arguments for '${name}' command`);
  const pairs: Array<readonly [Buffer, Buffer]> = [];
  for (let i = 1; i < a.length; i += 2) pairs.push([a[i]!, a[i + 1]!]);
  return pairs;
}
define('mset', { arity: -3, flags: ['write', 'denyoom'], group: 'string', summary: 'Sets several keys.', lastKey: -1, step: 2,
  parse: (a) => { const p = parsePairs(a, 'mset'); return p instanceof ReplyError ? p : write({ op: 'mset', pairs: p, nx: false }); } });
define('msetnx', { arity: -3, flags: ['write', 'denyoom'], group: 'string', summary: 'Sets several keys only when none exists.', lastKey: -1, step: 2,
  parse: (a) => { const p = parsePairs(a, 'msetnx'); return p instanceof ReplyError ? p : write({ op: 'mset', pairs: p, nx: true }); } });

define('append', { arity: 3, flags: ['write', 'denyoom', 'fast'], group: 'string', summary: 'Appends to the value of a key.',
  parse: (a) => write({ op: 'append', key: a[1]!, value: a[2]! }) });
define('strlen', { arity: 2, flags: ['readonly', 'fast'], group: 'string', summary: 'Returns the length of a value.',
  parse: (a) => read((v) => v.get(a[1]!)?.length ?? 0) });

define('getrange', {
  arity: 4, flags: ['readonly'], group: 'string', summary: 'Returns a substring of a value.',
  parse: (a) => {
    const start0 = parseInt64(a[2]!);
    const end0 = parseInt64(a[3]!);
    if (start0 === undefined || end0 === undefined) return ERR_NOT_INTEGER;
    return read((v) => {
      const value = v.get(a[1]!);
      if (value === undefined) return Buffer.alloc(0);
      const len = BigInt(value.length);
      let start = start0;
      let end = end0;
      if (start < 0n && end < 0n && start > end) return Buffer.alloc(0);
      if (start < 0n) start += len;
      if (end < 0n) end += len;
      if (start < 0n) start = 0n;
      if (end < 0n) end = 0n;
      if (end >= len) end = len - 1n;
      if (start > end || len === 0n) return Buffer.alloc(0);
      return value.subarray(Number(start), Number(end) + 1);
    });
  },
});
define('substr', { arity: 4, flags: ['readonly'], group: 'string', summary: 'Alias of GETRANGE.',
  parse: (a) => table.get('getrange')!.parse(a) });

define('setrange', {
  arity: 4, flags: ['write', 'denyoom'], group: 'string', summary: 'Overwrites part of a value from an offset.', since: '2.2.0',
  parse: (a) => {
    const offset = parseInt64(a[2]!);
    if (offset === undefined) return ERR_NOT_INTEGER;
    if (offset < 0n) return new ReplyError('ERR offset is out of range');
    if (offset > 2n ** 40n) return new ReplyError('ERR string exceeds maximum allowed size (proto-max-bulk-len)');
    return write({ op: 'setrange', key: a[1]!, offset: Number(offset), value: a[3]! });
  },
});

function incr(key: Buffer, by: bigint): ParsedCommand {
  return write({ op: 'incrby', key, by });
}
define('incr', { arity: 2, flags: ['write', 'denyoom', 'fast'], group: 'string', summary: 'Adds 1 to an integer value.', parse: (a) => incr(a[1]!, 1n) });
define('decr', { arity: 2, flags: ['write', 'denyoom', 'fast'], group: 'string', summary: 'Subtracts 1 from an integer value.', parse: (a) => incr(a[1]!, -1n) });
define('incrby', { arity: 3, flags: ['write', 'denyoom', 'fast'], group: 'string', summary: 'Adds an amount to an integer value.',
  parse: (a) => { const by = parseInt64(a[2]!); return by === undefined ? ERR_NOT_INTEGER : incr(a[1]!, by); } });
define('decrby', {
  arity: 3, flags: ['write', 'denyoom', 'fast'], group: 'string', summary: 'Subtracts an amount from an integer value.',
  parse: (a) => {
    const by = parseInt64(a[2]!);
    if (by === undefined) return ERR_NOT_INTEGER;
    if (by === -(2n ** 63n)) return new ReplyError('ERR decrement would overflow');
    return incr(a[1]!, -by);
  },
});
define('incrbyfloat', {
  arity: 3, flags: ['write', 'denyoom', 'fast'], group: 'string', summary: 'Adds a floating-point amount to a value.', since: '2.6.0',
  parse: (a) => (parseLongDouble(a[2]!) === undefined ? new ReplyError('ERR value is not a valid float') : write({ op: 'incrbyfloat', key: a[1]!, by: a[2]! })),
});

// --- keyspace --------------------------------------------------------------------------------------

define('del', { arity: -2, flags: ['write'], group: 'generic', summary: 'Deletes keys.', lastKey: -1, parse: (a) => write({ op: 'del', keys: a.slice(1) }) });
define('unlink', { arity: -2, flags: ['write', 'fast'], group: 'generic', summary: 'Deletes keys.', lastKey: -1, since: '4.0.0', parse: (a) => write({ op: 'del', keys: a.slice(1) }) });
define('exists', { arity: -2, flags: ['readonly', 'fast'], group: 'generic', summary: 'Counts the given keys that exist.', lastKey: -1,
  parse: (a) => read((v) => a.slice(1).reduce((n, k) => n + (v.has(k) ? 1 : 0), 0)) });
define('type', { arity: 2, flags: ['readonly', 'fast'], group: 'generic', summary: 'Returns the type of a key.',
  parse: (a) => read((v) => (v.has(a[1]!) ? 'string' : 'none')) });
define('dbsize', { arity: 1, flags: ['readonly', 'fast'], group: 'server', summary: 'Returns the number of keys.', firstKey: 0, lastKey: 0, step: 0,
  parse: () => read((v) => v.size) });

define('keys', {
  arity: 2, flags: ['readonly'], group: 'generic', summary: 'Returns the keys matching a pattern.', firstKey: 0, lastKey: 0, step: 0,
  parse: (a) => read((v) => {
    const pattern = a[1]!;
    const prefix = globLiteralPrefix(pattern);
    const out: Buffer[] = [];
    for (const key of v.keys(prefix.length > 0 ? { prefix } : {})) if (globMatch(pattern, key)) out.push(key);
    return out;
  }),
});

define('scan', {
  arity: -2, flags: ['readonly'], group: 'generic', summary: 'Iterates over the keys, stable across writes.', firstKey: 0, lastKey: 0, step: 0, since: '2.8.0',
  parse: (a) => {
    let pattern: Buffer | undefined;
    let count = 10;
    let typeFilter: string | undefined;
    for (let i = 2; i < a.length; i += 2) {
      const opt = lower(a[i]!);
      const arg = a[i + 1];
      if (arg === undefined) return ERR_SYNTAX;
      if (opt === 'match') pattern = arg;
      else if (opt === 'count') {
        const n = parseSafeInt(arg);
        if (n === undefined) return ERR_NOT_INTEGER;
        if (n < 1) return ERR_SYNTAX;
        count = Math.min(n, 1_000_000);
      } else if (opt === 'type') typeFilter = lower(arg);
      else return ERR_SYNTAX;
    }
    const cursorText = a[1]!.toString('latin1');
    return read((v, ctx) => {
      const after = ctx.scanCursors.load(cursorText);
      if (after === undefined) return new ReplyError('ERR invalid cursor');
      const prefix = pattern === undefined ? undefined : globLiteralPrefix(pattern);
      const options = { limit: count, ...(after === null ? {} : { gt: after }), ...(prefix !== undefined && prefix.length > 0 ? { prefix } : {}) };
      let last: Buffer | undefined;
      let examined = 0;
      const out: Buffer[] = [];
      for (const key of v.keys(options)) {
        examined++;
        last = key;
        if (pattern !== undefined && !globMatch(pattern, key)) continue;
        if (typeFilter !== undefined && typeFilter !== 'string') continue;
        out.push(key);
      }
      const next = last === undefined || examined < count ? '0' : ctx.scanCursors.save(last);
      return [Buffer.from(next), out];
    });
  },
});

define('randomkey', {
  arity: 1, flags: ['readonly'], group: 'generic', summary: 'Returns a random key.', firstKey: 0, lastKey: 0, step: 0,
  parse: () => read((v, ctx) => {
    if (v.size === 0) return null;
    const probe = Buffer.from([Math.floor(ctx.random() * 256), Math.floor(ctx.random() * 256), Math.floor(ctx.random() * 256)]);
    for (const key of v.keys({ gte: probe, limit: 1 })) return key;
    for (const key of v.keys({ limit: 1 })) return key;
    return null;
  }),
});

define('rename', { arity: 3, flags: ['write'], group: 'generic', summary: 'Renames a key.', lastKey: 2,
  parse: (a) => write({ op: 'rename', key: a[1]!, newKey: a[2]!, nx: false }) });
define('renamenx', { arity: 3, flags: ['write', 'fast'], group: 'generic', summary: 'Renames a key if the new name is free.', lastKey: 2,
  parse: (a) => write({ op: 'rename', key: a[1]!, newKey: a[2]!, nx: true }) });

define('copy', { arity: -3, flags: ['write', 'denyoom'], group: 'generic', summary: 'Copies the value of a key to a new key.', lastKey: 2, since: '6.2.0',
  parse: (a) => {
    let replace = false;
    for (let i = 3; i < a.length; i++) {
      const option = lower(a[i]!);
      if (option === 'replace') replace = true;
      else if (option === 'db' && i + 1 < a.length) {
        const db = parseInt64(a[++i]!);
        if (db === undefined) return ERR_NOT_INTEGER;
        if (db !== 0n) return new ReplyError('ERR DB index is out of range');
      } else return ERR_SYNTAX;
    }
    return write({ op: 'copy', key: a[1]!, newKey: a[2]!, replace });
  } });
define('touch', { arity: -2, flags: ['readonly', 'fast'], group: 'generic', summary: 'Counts the given keys that exist (caskdb keeps no access times).', lastKey: -1, since: '3.2.1',
  parse: (a) => read((v) => a.slice(1).reduce((n, k) => n + (v.has(k) ? 1 : 0), 0)) });

/** OBJECT ENCODING names the encoding Redis would pick for the value, so tools that branch on it behave. */
function redisEncoding(value: Buffer): string {
  if (value.length <= 20 && parseInt64(value) !== undefined && BigInt(value.toString('latin1')).toString() === value.toString('latin1')) return 'int';
  return value.length <= 44 ? 'embstr' : 'raw';
}
define('object', { arity: -2, flags: ['readonly'], group: 'generic', summary: 'Inspects a key: ENCODING, REFCOUNT (FREQ and IDLETIME are not tracked).', firstKey: 2, lastKey: 2, since: '2.2.3',
  parse: (a) => {
    const sub = lower(a[1]!);
    if (sub === 'help') {
      return a.length === 2
        ? read(() => ['OBJECT <subcommand> [<arg> ...]', 'ENCODING <key>', 'REFCOUNT <key>', 'FREQ <key>', 'IDLETIME <key>', 'HELP'].map((line) => Buffer.from(line)))
        : new ReplyError("ERR wrong number of arguments for 'object|help' command");
    }
    if (!['encoding', 'refcount', 'freq', 'idletime'].includes(sub)) {
      return new ReplyError(`ERR unknown subcommand '${a[1]!.toString('latin1').slice(0, 128)}'. Try OBJECT HELP.`);
    }
    if (a.length !== 3) return new ReplyError(`ERR wrong number of arguments for 'object|${sub}' command`);
    return read((v) => {
      const value = v.get(a[2]!);
      if (value === undefined) return null;
      if (sub === 'encoding') return Buffer.from(redisEncoding(value));
      if (sub === 'refcount') return 1;
      // Redis answers these two only under an LFU or LRU eviction policy; caskdb evicts nothing.
      if (sub === 'freq') return new ReplyError('ERR An LFU maxmemory policy is not selected, access frequency not tracked (caskdb keeps no access statistics).');
      return new ReplyError('ERR caskdb keeps no access times: OBJECT IDLETIME is not tracked.');
    });
  } });

function flush(a: readonly Buffer[]): ParsedCommand | ReplyError {
  if (a.length > 2) return ERR_SYNTAX;
  if (a.length === 2 && lower(a[1]!) !== 'async' && lower(a[1]!) !== 'sync') return ERR_SYNTAX;
  return write({ op: 'flushall' });
}
define('flushdb', { arity: -1, flags: ['write'], group: 'server', summary: 'Deletes every key.', firstKey: 0, lastKey: 0, step: 0, parse: flush });
define('flushall', { arity: -1, flags: ['write'], group: 'server', summary: 'Deletes every key.', firstKey: 0, lastKey: 0, step: 0, parse: flush });

// --- expiry: refused with a clear error --------------------------------------------------------------

for (const [name, arity] of [
  ['expire', -3], ['pexpire', -3], ['expireat', -3], ['pexpireat', -3], ['ttl', 2], ['pttl', 2], ['persist', 2],
  ['expiretime', 2], ['pexpiretime', 2], ['setex', 4], ['psetex', 4],
] as const) {
  define(name, { arity, flags: ['write'], group: 'generic', summary: 'Not supported: caskdb keys never expire.', parse: () => expiryNotSupported(name) });
}

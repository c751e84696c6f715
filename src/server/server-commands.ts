// Connection, transaction and server commands (everything that is not a data command): PING ECHO QUIT
// HELLO SELECT AUTH CLIENT (incl. KILL) COMMAND MULTI EXEC DISCARD WATCH UNWATCH INFO MEMORY CONFIG TIME
// SAVE BGSAVE LASTSAVE BGREWRITEAOF SHUTDOWN MONITOR SLOWLOG LATENCY. Replies and error texts follow Redis 7 so client libraries classify them.
import { diskKeyLength, recordLength } from '../codec/record.js';
import { coerceValue } from '../config/load-config.js';
import { CONFIG_KEYS, KEY_SPECS, type ServerConfig } from '../config/schema.js';
import { ReplyError, ReplyMap, NIL_ARRAY, type Reply } from '../resp/reply.js';
import { checkArity, dataCommandNames, lookupDataCommand, type CommandSpec } from '../store/data-commands.js';
import { globMatch } from '../store/glob-match.js';
import { parseInt64 } from '../store/numbers.js';
import { PendingReply } from '../store/pending-reply.js';
import { version } from '../util/version.js';
import type { Connection } from './connection.js';
import type { ClientInfo, ServerContext } from './context.js';
import { REDIS_COMPAT_VERSION, renderInfo } from './info.js';

/** A command that sends nothing back (SHUTDOWN closes the connection instead). */
export const NO_REPLY: unique symbol = Symbol('no-reply');
export type Outcome = Reply | typeof NO_REPLY;

export interface ServerCommand {
  readonly spec: CommandSpec;
  /** Later commands of the client wait for this one's promise (SAVE-like barriers). */
  readonly ordered?: boolean;
  /** A container command's subcommands and their arities (Redis's rule: negative = at least), checked when queued. */
  readonly subcommands?: Readonly<Record<string, number>>;
  run(conn: Connection, argv: readonly Buffer[], ctx: ServerContext): Outcome | Promise<Outcome>;
}

const table = new Map<string, ServerCommand>();

function define(
  name: string,
  arity: number,
  flags: string[],
  summary: string,
  run: ServerCommand['run'],
  extra: { group?: string; ordered?: boolean; subcommands?: Record<string, number> } = {},
): void {
  table.set(name, {
    spec: { name, arity, flags, firstKey: 0, lastKey: 0, step: 0, group: extra.group ?? 'server', summary, since: '1.0.0' },
    ...(extra.ordered === undefined ? {} : { ordered: extra.ordered }),
    ...(extra.subcommands === undefined ? {} : { subcommands: extra.subcommands }),
    run,
  });
}

/**
 * Inside MULTI, Redis refuses an unknown subcommand or a subcommand's wrong argument count when it queues
 * the command (the transaction then ends in EXECABORT), not when EXEC runs it; this is that check.
 */
export function checkSubcommand(command: ServerCommand, argv: readonly Buffer[]): ReplyError | undefined {
  if (command.subcommands === undefined || argv.length < 2) return undefined;
  const arity = command.subcommands[lower(argv[1])];
  if (arity === undefined) return unknownSubcommand(argv);
  return subArity(argv, arity >= 0 ? argv.length === arity : argv.length >= -arity);
}

export function lookupServerCommand(name: string): ServerCommand | undefined {
  return table.get(name);
}

const lower = (b: Buffer | undefined): string => (b === undefined ? '' : b.toString('latin1').toLowerCase());
const bulk = (s: string): Buffer => Buffer.from(s);
const ERR_SYNTAX = new ReplyError('ERR syntax error');

function unknownSubcommand(argv: readonly Buffer[]): ReplyError {
  return new ReplyError(`ERR unknown subcommand '${argv[1]!.toString('latin1').slice(0, 128)}'. Try ${argv[0]!.toString('latin1').toUpperCase()} HELP.`);
}

function subArity(argv: readonly Buffer[], ok: boolean): ReplyError | undefined {
  return ok ? undefined : new ReplyError(`ERR wrong number of arguments for '${lower(argv[0])}|${lower(argv[1])}' command`);
}

// --- connection ------------------------------------------------------------------------------------

define('ping', -1, ['fast'], 'Returns PONG or the argument.', (conn, a) => {
  if (a.length > 2) return new ReplyError("ERR wrong number of arguments for 'ping' command");
  return a.length === 2 ? a[1]! : 'PONG';
}, { group: 'connection' });

define('echo', 2, ['fast'], 'Returns the argument.', (_c, a) => a[1]!, { group: 'connection' });

define('quit', -1, ['fast'], 'Closes the connection.', (conn) => {
  conn.closeAfterPending();
  return 'OK';
}, { group: 'connection' });

/**
 * RESET: the connection as new — out of MULTI (its queue discarded), no watched keys, out of MONITOR, RESP2,
 * no name, linearizable reads again (raft mode). As in Redis it is not queued inside MULTI.
 */
define('reset', 1, ['fast'], 'Resets the connection to its initial state.', (conn, _a, ctx) => {
  endTransaction(conn, ctx);
  conn.stopMonitoring();
  conn.proto = 2;
  conn.name = '';
  conn.staleReads = false;
  return 'RESET';
}, { group: 'connection' });

define('select', 2, ['fast'], 'Selects the database (caskdb has only database 0).', (_c, a) => {
  const n = parseInt64(a[1]!);
  if (n === undefined) return new ReplyError('ERR value is not an integer or out of range');
  return n === 0n ? 'OK' : new ReplyError('ERR DB index is out of range');
}, { group: 'connection' });

const AUTH_ERROR = 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?';
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
/**
 * caskdb has one user, Redis's `default` with `nopass` (the state of a Redis with no ACL or requirepass set):
 * it accepts any password, and any other user name is refused as Redis refuses an unknown user. So clients
 * configured with `default` and a password connect, as they do to such a Redis.
 */
function authenticate(user: Buffer): ReplyError | undefined {
  return user.toString('latin1') === 'default' ? undefined : new ReplyError(WRONGPASS);
}
define('auth', -2, ['fast'], 'Authenticates: the one user, default, needs no password.', (_c, a) => {
  if (a.length > 3) return ERR_SYNTAX;
  if (a.length === 2) return new ReplyError(AUTH_ERROR);
  return authenticate(a[1]!) ?? 'OK';
}, { group: 'connection' });

define('hello', -1, ['fast'], 'Handshakes and selects RESP2 or RESP3.', (conn, a, ctx) => {
  let i = 1;
  if (a.length >= 2) {
    const v = parseInt64(a[1]!);
    if (v === undefined) return new ReplyError('ERR Protocol version is not an integer or out of range');
    if (v !== 2n && v !== 3n) return new ReplyError('NOPROTO unsupported protocol version');
    i = 2;
    let user: Buffer | undefined;
    let name: string | undefined;
    for (; i < a.length; i++) {
      const opt = lower(a[i]);
      if (opt === 'auth' && i + 2 < a.length) {
        user = a[i + 1]!;
        i += 2;
      } else if (opt === 'setname' && i + 1 < a.length) {
        name = a[++i]!.toString('latin1');
      } else return new ReplyError(`ERR Syntax error in HELLO option '${a[i]!.toString('latin1')}'`);
    }
    // As in Redis: authenticate first, then name the client, then switch protocols.
    const refused = user === undefined ? undefined : authenticate(user);
    if (refused !== undefined) return refused;
    if (name !== undefined) {
      if (!validClientName(name)) return new ReplyError('ERR Client names cannot contain spaces, newlines or special characters.');
      conn.name = name;
    }
    conn.proto = v === 3n ? 3 : 2;
  }
  return new ReplyMap([
    [bulk('server'), bulk('redis')],
    [bulk('version'), bulk(REDIS_COMPAT_VERSION)],
    [bulk('proto'), conn.proto],
    [bulk('id'), conn.id],
    [bulk('mode'), bulk('standalone')],
    [bulk('role'), bulk('master')],
    [bulk('modules'), []],
    [bulk('caskdb_version'), bulk(version)],
    [bulk('caskdb_mode'), bulk(ctx.store.mode)],
  ]);
}, { group: 'connection' });

function validClientName(name: string): boolean {
  return /^[\x21-\x7e]*$/.test(name);
}

define('client', -2, [], 'Client connection commands.', (conn, a, ctx) => {
  const sub = lower(a[1]);
  switch (sub) {
    case 'setname': {
      const e = subArity(a, a.length === 3);
      if (e) return e;
      const name = a[2]!.toString('latin1');
      if (!validClientName(name)) return new ReplyError('ERR Client names cannot contain spaces, newlines or special characters.');
      conn.name = name;
      return 'OK';
    }
    case 'getname':
      return subArity(a, a.length === 2) ?? (conn.name === '' ? null : bulk(conn.name));
    case 'id':
      return subArity(a, a.length === 2) ?? conn.id;
    case 'info':
      return subArity(a, a.length === 2) ?? bulk(conn.describe() + '\n');
    case 'list': {
      // CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]: every caskdb client is a normal one.
      let ids: Set<number> | undefined;
      let type: string | undefined;
      for (let i = 2; i < a.length; ) {
        const opt = lower(a[i]);
        if (opt === 'type' && i + 1 < a.length) {
          type = lower(a[i + 1]);
          if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(type)) return new ReplyError(`ERR Unknown client type '${a[i + 1]!.toString('latin1')}'`);
          i += 2;
        } else if (opt === 'id' && i + 1 < a.length) {
          ids = new Set();
          for (i++; i < a.length; i++) {
            const id = parseInt64(a[i]!);
            if (id === undefined) return new ReplyError('ERR Invalid client ID');
            ids.add(Number(id));
          }
        } else return ERR_SYNTAX;
      }
      let out = '';
      if (type === undefined || type === 'normal') {
        for (const c of ctx.clients.values()) if (ids === undefined || ids.has(c.id)) out += c.describe() + '\n';
      }
      return bulk(out);
    }
    case 'no-evict':
    case 'no-touch': {
      // Nothing is evicted, and no access times are kept: both settings are accepted and change nothing.
      const e = subArity(a, a.length === 3);
      if (e) return e;
      return lower(a[2]) === 'on' || lower(a[2]) === 'off' ? 'OK' : ERR_SYNTAX;
    }
    case 'getredir':
      return subArity(a, a.length === 2) ?? -1;
    case 'tracking': {
      if (a.length < 3) return subArity(a, false)!;
      if (lower(a[2]) === 'off') return 'OK';
      if (lower(a[2]) === 'on') return new ReplyError('ERR client-side caching (CLIENT TRACKING) is not supported by caskdb');
      return ERR_SYNTAX;
    }
    case 'reply': {
      const e = subArity(a, a.length === 3);
      if (e) return e;
      const mode = lower(a[2]);
      if (mode === 'on') return 'OK';
      if (mode === 'off' || mode === 'skip') return new ReplyError(`ERR CLIENT REPLY ${mode.toUpperCase()} is not supported by caskdb: every command is answered`);
      return ERR_SYNTAX;
    }
    case 'setinfo': {
      const e = subArity(a, a.length === 4);
      if (e) return e;
      const attr = lower(a[2]);
      if (attr === 'lib-name') conn.libName = a[3]!.toString('latin1');
      else if (attr === 'lib-ver') conn.libVersion = a[3]!.toString('latin1');
      else return new ReplyError(`ERR Unrecognized option '${a[2]!.toString('latin1')}'`);
      return 'OK';
    }
    case 'kill':
      return clientKill(conn, a, ctx);
    case 'help':
      return [
        'CLIENT <subcommand>', 'ID', 'INFO', 'LIST [TYPE <type>] [ID <id> [<id> ...]]', 'GETNAME', 'SETNAME <name>', 'SETINFO <attr> <value>',
        'NO-EVICT on|off', 'NO-TOUCH on|off', 'GETREDIR', 'TRACKING off', 'REPLY on',
        'KILL <ip:port>', 'KILL <option> <value> [<option> <value> [...]]',
        '    Options: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>, TYPE normal, USER default, SKIPME yes|no, MAXAGE <seconds>',
      ].map(bulk);
    default:
      return unknownSubcommand(a);
  }
}, {
  group: 'connection',
  subcommands: {
    setname: 3, getname: 2, id: 2, info: 2, list: -2, setinfo: 4, kill: -3, help: 2, 'no-evict': 3, 'no-touch': 3, getredir: 2, tracking: -3, reply: 3,
  },
});

interface KillFilter {
  id?: number;
  addr?: string;
  laddr?: string;
  maxAgeS?: number;
  skipMe: boolean;
  /** TYPE or USER named something no caskdb client can be (every client is a normal one of user default). */
  matchesNone: boolean;
}

/**
 * CLIENT KILL, both of Redis's forms: `CLIENT KILL ip:port` (OK, or an error when no client has that
 * address) and `CLIENT KILL <filter> <value> ...` (the number of clients closed; SKIPME defaults to yes).
 * A client that kills itself gets its reply first, as in Redis.
 */
function clientKill(conn: Connection, a: readonly Buffer[], ctx: ServerContext): Reply {
  if (a.length < 3) return subArity(a, false)!;
  if (a.length === 3) {
    const addr = a[2]!.toString('latin1');
    const target = [...ctx.clients.values()].find((c) => c.addr === addr);
    if (target === undefined) return new ReplyError('ERR No such client');
    killClient(conn, target);
    return 'OK';
  }
  if (a.length % 2 !== 0) return ERR_SYNTAX;
  const filter: KillFilter = { skipMe: true, matchesNone: false };
  for (let i = 2; i < a.length; i += 2) {
    const option = lower(a[i]);
    const value = a[i + 1]!.toString('latin1');
    switch (option) {
      case 'id': {
        const id = parseInt64(a[i + 1]!);
        if (id === undefined || id <= 0n) return new ReplyError('ERR client-id should be greater than 0');
        filter.id = Number(id);
        break;
      }
      case 'addr':
        filter.addr = value;
        break;
      case 'laddr':
        filter.laddr = value;
        break;
      case 'maxage': {
        const age = parseInt64(a[i + 1]!);
        if (age === undefined || age < 0n) return new ReplyError('ERR value is not an integer or out of range');
        filter.maxAgeS = Number(age);
        break;
      }
      case 'skipme': {
        const yes = value.toLowerCase();
        if (yes !== 'yes' && yes !== 'no') return ERR_SYNTAX;
        filter.skipMe = yes === 'yes';
        break;
      }
      case 'type': {
        const type = value.toLowerCase();
        if (!['normal', 'master', 'replica', 'slave', 'pubsub'].includes(type)) return new ReplyError(`ERR Unknown client type '${value}'`);
        if (type !== 'normal') filter.matchesNone = true;
        break;
      }
      case 'user':
        if (value !== 'default') return new ReplyError(`ERR No such user '${value}'`);
        break;
      default:
        return ERR_SYNTAX;
    }
  }
  if (filter.matchesNone) return 0;
  const now = Date.now();
  const targets = [...ctx.clients.values()].filter((c) =>
    (filter.id === undefined || c.id === filter.id) &&
    (filter.addr === undefined || c.addr === filter.addr) &&
    (filter.laddr === undefined || c.laddr === filter.laddr) &&
    (filter.maxAgeS === undefined || now - c.createdAtMs >= filter.maxAgeS * 1000) &&
    !(filter.skipMe && c.id === conn.id));
  for (const target of targets) killClient(conn, target);
  return targets.length;
}

function killClient(caller: Connection, target: ClientInfo): void {
  if (target.id === caller.id) caller.closeAfterPending();
  else target.kill();
}

// --- COMMAND ---------------------------------------------------------------------------------------

function allSpecs(): CommandSpec[] {
  return [...dataCommandNames().map((n) => lookupDataCommand(n)!), ...[...table.values()].map((c) => c.spec)];
}

function specFor(name: string): CommandSpec | undefined {
  return lookupDataCommand(name) ?? table.get(name)?.spec;
}

function commandInfo(s: CommandSpec): Reply {
  return [bulk(s.name), s.arity, s.flags, s.firstKey, s.lastKey, s.step, [], [], [], []];
}

function commandDocs(s: CommandSpec): Reply {
  return new ReplyMap([
    [bulk('summary'), bulk(s.summary)],
    [bulk('since'), bulk(s.since)],
    [bulk('group'), bulk(s.group)],
  ]);
}

define('command', -1, [], 'Describes the commands.', (_c, a) => {
  const sub = lower(a[1]);
  if (a.length === 1) return allSpecs().map(commandInfo);
  switch (sub) {
    case 'count':
      return subArity(a, a.length === 2) ?? allSpecs().length;
    case 'list':
      return allSpecs().map((s) => bulk(s.name));
    case 'info': {
      if (a.length === 2) return allSpecs().map(commandInfo);
      return a.slice(2).map((n) => {
        const s = specFor(lower(n));
        return s === undefined ? null : commandInfo(s);
      });
    }
    case 'docs': {
      const specs = a.length === 2 ? allSpecs() : a.slice(2).map((n) => specFor(lower(n))).filter((s): s is CommandSpec => s !== undefined);
      return new ReplyMap(specs.map((s) => [bulk(s.name), commandDocs(s)] as const));
    }
    case 'help':
      return ['COMMAND [<subcommand>]', 'COUNT', 'DOCS [<command-name> ...]', 'INFO [<command-name> ...]', 'LIST'].map(bulk);
    default:
      return unknownSubcommand(a);
  }
}, { subcommands: { count: 2, list: -2, info: -2, docs: -2, help: 2 } });

// --- Raft mode --------------------------------------------------------------------------------------

define('readonly', 1, ['fast'], 'Raft mode: this connection reads the local node\'s state, possibly stale (no ReadIndex round).', (conn) => {
  conn.staleReads = true;
  return 'OK';
}, { group: 'cluster' });

define('readwrite', 1, ['fast'], 'Raft mode: back to linearizable reads (the default).', (conn) => {
  conn.staleReads = false;
  return 'OK';
}, { group: 'cluster' });

/** The Raft store's admin entry point (RAFT STATUS/ADD/PROMOTE/REMOVE/TRANSFER/SNAPSHOT). */
interface RaftAdmin {
  raftCommand(args: readonly string[]): Promise<Reply>;
}

define('raft', -2, [], 'Raft mode: STATUS, ADD id host:port [LEARNER], PROMOTE id, REMOVE id, TRANSFER id, SNAPSHOT.', (_c, a, ctx) => {
  const admin = ctx.store as unknown as Partial<RaftAdmin>;
  if (ctx.store.mode !== 'raft' || typeof admin.raftCommand !== 'function') return new ReplyError('ERR RAFT commands need mode raft (this server is standalone)');
  return admin.raftCommand(a.slice(1).map((b) => b.toString('utf8')));
}, { group: 'cluster' });

// --- transactions ----------------------------------------------------------------------------------

define('multi', 1, ['fast'], 'Starts a transaction.', (conn) => {
  if (conn.multi !== undefined) return new ReplyError('ERR MULTI calls can not be nested');
  conn.multi = [];
  conn.multiFailed = false;
  return 'OK';
}, { group: 'transactions' });

function endTransaction(conn: Connection, ctx: ServerContext): void {
  conn.multi = undefined;
  conn.multiFailed = false;
  if (conn.watched.length > 0) ctx.store.unwatchKeys(conn.watched.map((w) => w.key));
  conn.watched = [];
}

define('discard', 1, ['fast'], 'Discards a transaction.', (conn, _a, ctx) => {
  if (conn.multi === undefined) return new ReplyError('ERR DISCARD without MULTI');
  endTransaction(conn, ctx);
  return 'OK';
}, { group: 'transactions' });

define('watch', -2, ['fast'], 'Watches keys for EXEC.', (conn, a, ctx) => {
  if (conn.multi !== undefined) return new ReplyError('ERR WATCH inside MULTI is not allowed');
  const keys = a.slice(1);
  ctx.store.watchKeys(keys);
  const seq = ctx.store.appliedSeq;
  for (const key of keys) conn.watched.push({ key, sinceSeq: seq });
  return 'OK';
}, { group: 'transactions' });

define('unwatch', 1, ['fast'], 'Forgets watched keys.', (conn, _a, ctx) => {
  if (conn.watched.length > 0) ctx.store.unwatchKeys(conn.watched.map((w) => w.key));
  conn.watched = [];
  return 'OK';
}, { group: 'transactions' });

define('exec', 1, [], 'Runs the queued commands as one atomic write.', (conn, _a, ctx) => {
  if (conn.multi === undefined) return new ReplyError('ERR EXEC without MULTI');
  const queued = conn.multi;
  const failed = conn.multiFailed;
  const watch = conn.watched;
  // The watched keys stay registered until the exec mutation has been applied.
  conn.multi = undefined;
  conn.multiFailed = false;
  conn.watched = [];
  const release = () => {
    if (watch.length > 0) ctx.store.unwatchKeys(watch.map((w) => w.key));
  };
  if (failed) {
    release();
    return new ReplyError('EXECABORT Transaction discarded because of previous errors.');
  }
  // Data commands go to the store as one mutation; connection/server commands run here, in place.
  const dataIndexes: number[] = [];
  const dataCommands: Buffer[][] = [];
  queued.forEach((argv, i) => {
    if (lookupDataCommand(lower(argv[0])) !== undefined) {
      dataIndexes.push(i);
      dataCommands.push(argv);
    }
  });
  const finish = (dataReply: Reply): Outcome | Promise<Outcome> => {
    release();
    if (dataReply === NIL_ARRAY) return NIL_ARRAY;
    // The whole transaction was refused (a failed write, a raft limit): that error is EXEC's reply, as it
    // would be for one command; nothing of the transaction was applied.
    if (dataReply instanceof ReplyError) return dataReply;
    const dataReplies = Array.isArray(dataReply) ? (dataReply as Reply[]) : [];
    const replies: Array<Outcome | Promise<Outcome>> = new Array(queued.length);
    dataIndexes.forEach((qi, di) => (replies[qi] = dataReplies[di] ?? null));
    queued.forEach((argv, i) => {
      if (replies[i] !== undefined) return;
      const cmd = table.get(lower(argv[0]))!;
      replies[i] = checkArity(cmd.spec, argv) ?? cmd.run(conn, argv, ctx);
    });
    const all = Promise.all(replies);
    return all.then((r) => r.map((x) => (x === NO_REPLY ? null : x)));
  };
  if (dataCommands.length === 0 && watch.length === 0) return finish([]);
  const out = ctx.store.submit({ op: 'exec', commands: dataCommands, watch });
  return out instanceof Promise || out instanceof PendingReply ? Promise.resolve(out).then(finish) : finish(out);
}, { group: 'transactions' });

// --- server ----------------------------------------------------------------------------------------

define('info', -1, [], 'Returns server information and statistics.', (_c, a, ctx) => bulk(renderInfo(ctx, a.slice(1).map(lower))));

/**
 * MEMORY USAGE key [SAMPLES n]: what the key costs caskdb, in bytes: its record in the data file (header,
 * disk key, value) plus the index's average bytes per key. Values live on disk, so this is not RAM alone as
 * in Redis; `redis-cli --memkeys` uses it. In Raft mode it reads the local node's state (an estimate).
 */
define('memory', -2, [], 'MEMORY USAGE key: bytes a key takes (its data-file record plus its share of the index).', (_c, a, ctx) => {
  switch (lower(a[1])) {
    case 'usage': {
      const arityError = subArity(a, a.length === 3 || a.length === 5);
      if (arityError !== undefined) return arityError;
      if (a.length === 5) {
        if (lower(a[3]) !== 'samples') return ERR_SYNTAX;
        const samples = parseInt64(a[4]!);
        if (samples === undefined || samples < 0n) return new ReplyError('ERR value is not an integer or out of range');
      }
      const key = a[2]!;
      const value = ctx.store.view.get(key);
      if (value === undefined) return null;
      return recordLength(diskKeyLength(0, key.length), value.length) + Math.round(ctx.store.stat().indexBytesPerKey);
    }
    case 'help':
      return ['MEMORY <subcommand> [<arg> ...]', 'USAGE <key> [SAMPLES <count>]', '    Bytes the key takes: its data-file record plus its share of the index.', 'HELP'].map(bulk);
    default:
      return unknownSubcommand(a);
  }
});

define('time', 1, ['fast'], 'Returns the server time.', () => {
  const us = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
  return [bulk(String(us / 1_000_000n)), bulk(String(us % 1_000_000n))];
});

define('save', 1, [], 'Flushes written data to disk (fsync).', (_c, _a, ctx) => ctx.store.sync().then(() => {
  ctx.lastSaveAtMs = Date.now();
  return 'OK' as const;
}), { ordered: true });

define('bgsave', -1, [], 'Flushes written data to disk in the background.', (_c, a, ctx) => {
  if (a.length > 2 || (a.length === 2 && lower(a[1]) !== 'schedule')) return ERR_SYNTAX;
  ctx.store.sync().then(
    () => (ctx.lastSaveAtMs = Date.now()),
    (error: unknown) => ctx.log.error('background sync failed', { error: (error as Error).message }),
  );
  return 'Background saving started';
});

/**
 * ROLE: a standalone server is what Redis calls a master with no replicas (replication offset 0). In raft
 * mode leadership moves and followers are not Redis replicas, so a ROLE reply would mislead: it points to
 * INFO raft instead.
 */
define('role', 1, ['fast'], 'The replication role: master with no replicas (standalone).', (_c, _a, ctx) => {
  if (ctx.store.mode !== 'standalone') return new ReplyError('ERR ROLE is not available in raft mode: INFO raft shows this node\'s role, leader and peers');
  return [bulk('master'), 0, []];
}, { group: 'server' });

define('lastsave', 1, ['fast'], 'Unix time of the last completed SAVE or BGSAVE (or of the server start).', (_c, _a, ctx) => Math.floor(ctx.lastSaveAtMs / 1000));

define('bgrewriteaof', 1, [], 'Compacts the data files (merge) in the background.', (_c, _a, ctx) => {
  const merge = ctx.store.merge;
  if (merge === undefined) return new ReplyError('ERR BGREWRITEAOF (merge) is not supported by this storage engine yet');
  if (ctx.store.stat().merging) return new ReplyError('ERR Background append only file rewriting already in progress');
  ctx.log.info('merge started (BGREWRITEAOF)');
  const started = Date.now();
  merge().then(
    () => ctx.log.info('merge finished', { ms: Date.now() - started }),
    (error: unknown) => ctx.log.error('merge failed', { error: (error as Error).message }),
  );
  return 'Background append only file rewriting started';
});

define('shutdown', -1, [], 'Stops the server after finishing in-flight commands.', (conn, a, ctx) => {
  for (const opt of a.slice(1).map(lower)) {
    if (opt === 'abort') return new ReplyError('ERR No shutdown in progress.');
    if (!['nosave', 'save', 'now', 'force'].includes(opt)) return ERR_SYNTAX;
  }
  conn.closeAfterPending();
  ctx.shutdown(`SHUTDOWN from client ${conn.id}`);
  return NO_REPLY;
});

define('monitor', 1, ['admin'], 'Streams every command the server receives (MONITOR).', (conn) => {
  conn.startMonitoring();
  return 'OK';
});

define('slowlog', -2, ['admin'], 'Reads or resets the slow command log.', (_c, a, ctx) => {
  switch (lower(a[1])) {
    case 'get': {
      const e = subArity(a, a.length <= 3);
      if (e) return e;
      let count = 10;
      if (a.length === 3) {
        const n = parseInt64(a[2]!);
        if (n === undefined || n < -1n) return new ReplyError('ERR count should be greater than or equal to -1');
        count = n > 2n ** 31n ? 2 ** 31 : Number(n);
      }
      return ctx.slowlog.newest(count).map((entry): Reply => [
        entry.id, entry.unixSeconds, entry.durationMicros, entry.args, bulk(entry.clientAddr), bulk(entry.clientName),
      ]);
    }
    case 'len': {
      const e = subArity(a, a.length === 2);
      return e ?? ctx.slowlog.length;
    }
    case 'reset': {
      const e = subArity(a, a.length === 2);
      if (e) return e;
      ctx.slowlog.reset();
      return 'OK';
    }
    case 'help':
      return [
        'SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
        'GET [<count>]', '    Return top <count> entries from the slowlog (default: 10, -1 mean all).',
        '    Entries are made of:', '    id, timestamp, time in microseconds, arguments array, client IP and port,', '    client name',
        'LEN', '    Return the length of the slowlog.', 'RESET', '    Reset the slowlog.',
      ].map(bulk);
    default:
      return unknownSubcommand(a);
  }
}, { subcommands: { get: -2, len: 2, reset: 2, help: 2 } });

// caskdb keeps per-command histograms (LATENCY HISTOGRAM) but no latency-spike monitor — as Redis with its
// default latency-monitor-threshold of 0 — so LATEST, HISTORY and RESET answer as that Redis does.
define('latency', -2, ['admin'], 'Per-command latency histograms.', (_c, a, ctx) => {
  switch (lower(a[1])) {
    case 'histogram': {
      const names = a.slice(2).map(lower);
      return new ReplyMap(ctx.commandStats.histograms(names).map(({ name, calls, cumulative }) => [
        bulk(name),
        new ReplyMap([
          [bulk('calls'), calls],
          [bulk('histogram_usec'), new ReplyMap(cumulative)],
        ]),
      ] as const));
    }
    case 'latest':
      return subArity(a, a.length === 2) ?? [];
    case 'history':
      return subArity(a, a.length === 3) ?? [];
    case 'reset':
      return 0;
    case 'doctor':
    case 'graph':
      return new ReplyError('ERR LATENCY DOCTOR and GRAPH need the latency monitor, which caskdb does not have: use LATENCY HISTOGRAM or INFO latencystats');
    case 'help':
      return [
        'LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
        'HISTOGRAM [COMMAND ...]', '    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.',
        '    If no commands are specified then all histograms are replied.',
        'LATEST', '    Return the latest latency samples (caskdb keeps none).', 'HISTORY <event>', '    Return time-latency samples (caskdb keeps none).',
        'RESET [<event> ...]', '    Reset latency data of one or more event classes (caskdb keeps none: answers 0).',
      ].map(bulk);
    default:
      return unknownSubcommand(a);
  }
});

// --- CONFIG ----------------------------------------------------------------------------------------

/** Read-only keys Redis tools ask for, with the caskdb equivalent. */
function compatConfig(ctx: ServerContext): Array<[string, string]> {
  return [
    ['save', ''],
    ['appendonly', 'yes'],
    ['appendfsync', ctx.config.sync === 'none' ? 'no' : ctx.config.sync],
    ['databases', '1'],
    ['bind', ctx.config.bind],
  ];
}

define('config', -2, [], 'Reads or changes configuration.', (_c, a, ctx) => {
  const sub = lower(a[1]);
  switch (sub) {
    case 'get': {
      const e = subArity(a, a.length >= 3);
      if (e) return e;
      const entries = new Map<string, string>();
      const all: Array<[string, string]> = [
        ...CONFIG_KEYS.map((s) => [s.key, String(ctx.config[s.key as keyof ServerConfig])] as [string, string]),
        ...compatConfig(ctx),
      ];
      for (const pattern of a.slice(2)) {
        for (const [k, v] of all) if (!entries.has(k) && globMatch(pattern, Buffer.from(k), true)) entries.set(k, v);
      }
      return new ReplyMap([...entries].map(([k, v]) => [bulk(k), bulk(v)] as const));
    }
    case 'set': {
      if (a.length < 4) return new ReplyError("ERR wrong number of arguments for 'config|set' command");
      if (a.length % 2 !== 0) return ERR_SYNTAX;
      const changes: Array<[keyof ServerConfig, string | number]> = [];
      for (let i = 2; i < a.length; i += 2) {
        const key = lower(a[i]);
        const spec = KEY_SPECS.get(key);
        if (spec === undefined) return new ReplyError(`ERR Unknown option or number of arguments for CONFIG SET - '${key}'`);
        if (!spec.settable) return new ReplyError(`ERR CONFIG SET failed (possibly related to argument '${key}') - can't set immutable config`);
        try {
          changes.push([key as keyof ServerConfig, coerceValue(spec, a[i + 1]!.toString('utf8'), 'CONFIG SET')]);
        } catch (error) {
          return new ReplyError(`ERR CONFIG SET failed (possibly related to argument '${key}') - ${(error as Error).message}`);
        }
      }
      for (const [k, v] of changes) ctx.applyConfig(k, v);
      return 'OK';
    }
    case 'resetstat':
      for (const k of Object.keys(ctx.stats) as Array<keyof typeof ctx.stats>) ctx.stats[k] = 0;
      ctx.commandStats.reset();
      return 'OK';
    case 'rewrite':
      return new ReplyError('ERR CONFIG REWRITE is not supported: edit the config file instead');
    case 'help':
      return ['CONFIG <subcommand>', 'GET <pattern>', 'SET <key> <value> [<key> <value> ...]', 'RESETSTAT'].map(bulk);
    default:
      return unknownSubcommand(a);
  }
}, { subcommands: { get: -3, set: -4, resetstat: 2, rewrite: 2, help: 2 } });

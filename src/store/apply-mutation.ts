// Evaluates a mutation against the current state: pure, synchronous and deterministic. It returns the
// WriteOps to commit (as one atomic write) and the client's reply; it never writes itself. Every
// read-modify-write (INCR, APPEND, MSETNX, RENAME, COPY, EXEC, WATCH checks) is decided here, at apply time.
import type { WriteOp } from '../engine/types.js';
import { NIL_ARRAY, ReplyError, type Reply } from '../resp/reply.js';
import { DirectView, OverlayView, type KvView, type MutableView } from './kv-view.js';
import type { Mutation } from './mutation.js';
import { LONG_DOUBLE_ZERO, addLongDoubles, formatLongDouble, parseLongDouble } from './long-double.js';
import { INT64_MAX, INT64_MIN, parseInt64 } from './numbers.js';
import { lookupDataCommand, checkArity, type ReadContext } from './data-commands.js';

export interface ApplyContext extends ReadContext {
  /** Longest string SETRANGE/APPEND may build (`proto-max-bulk-len`). */
  stringBytesMax: number;
  /**
   * Longest key a write may name (the engine's `keyBytesMax`). Checked here, before any op exists, so a
   * Raft node applying a logged entry answers it with an error exactly as every other node does, instead of
   * failing the engine write (which would stop the node, and again on every replay of the log).
   */
  keyBytesMax: number;
  /**
   * Longest value a write may store (the engine's `valueBytesMax`, which must not be below this). Checked
   * here for the same reason as `keyBytesMax`; `stringBytesMax` must not be above it.
   */
  valueBytesMax: number;
  /** WATCH: whether `key` changed after the applied sequence number `seq`. */
  isModifiedSince(key: Buffer, seq: number): boolean;
}

export interface ApplyResult {
  ops: WriteOp[];
  reply: Reply;
}

export const ERR_NOT_INTEGER = new ReplyError('ERR value is not an integer or out of range');
export const ERR_NOT_FLOAT = new ReplyError('ERR value is not a valid float');
export const ERR_SYNTAX = new ReplyError('ERR syntax error');
const ERR_OVERFLOW = new ReplyError('ERR increment or decrement would overflow');
const ERR_NAN_OR_INFINITY = new ReplyError('ERR increment would produce NaN or Infinity');
const ERR_NO_SUCH_KEY = new ReplyError('ERR no such key');
const ERR_SAME_OBJECT = new ReplyError('ERR source and destination objects are the same');
const ERR_TOO_BIG = new ReplyError('ERR string exceeds maximum allowed size (proto-max-bulk-len)');

export function applyMutation(state: KvView, m: Mutation, ctx: ApplyContext): ApplyResult {
  if (m.op === 'exec') return applyExec(state, m, ctx);
  // The most common write, a plain SET, needs no view: it reads nothing and writes one key.
  if (m.op === 'set' && !m.nx && !m.xx && !m.get) {
    if (m.key.length > ctx.keyBytesMax) return { ops: [], reply: keyTooLong(m.key, ctx) };
    if (m.value.length > ctx.valueBytesMax) return { ops: [], reply: valueTooLong(m.value, ctx) };
    return { ops: [{ type: 'put', key: m.key, value: m.value }], reply: 'OK' };
  }
  const view = new DirectView(state);
  const reply = applyTo(view, m, ctx);
  return { ops: view.ops(), reply };
}

function applyExec(state: KvView, m: Extract<Mutation, { op: 'exec' }>, ctx: ApplyContext): ApplyResult {
  for (const { key, sinceSeq } of m.watch) {
    if (ctx.isModifiedSince(key, sinceSeq)) return { ops: [], reply: NIL_ARRAY };
  }
  const view = new OverlayView(state);
  const replies: Reply[] = [];
  for (const argv of m.commands) replies.push(applyCommand(view, argv, ctx));
  return { ops: view.ops(), reply: replies };
}

/** Runs one data command (read or write) inside a transaction. */
export function applyCommand(view: MutableView, argv: readonly Buffer[], ctx: ApplyContext): Reply {
  const name = argv[0]!.toString('latin1').toLowerCase();
  const command = lookupDataCommand(name);
  if (command === undefined) return new ReplyError(`ERR unknown command '${name}'`);
  const arityError = checkArity(command, argv);
  if (arityError !== undefined) return arityError;
  const parsed = command.parse(argv);
  if (parsed instanceof ReplyError) return parsed;
  if (parsed.kind === 'read') return parsed.run(view, ctx);
  if (parsed.mutation.op === 'exec') return new ReplyError('ERR EXEC inside a transaction');
  return applyTo(view, parsed.mutation, ctx);
}

/** The first key a mutation names that is longer than the key limit, if any. */
function oversizeKey(m: Exclude<Mutation, { op: 'exec' }>, max: number): Buffer | undefined {
  switch (m.op) {
    case 'mset':
      return m.pairs.find(([key]) => key.length > max)?.[0];
    case 'del':
      return m.keys.find((key) => key.length > max);
    case 'rename':
    case 'copy':
      return m.key.length > max ? m.key : m.newKey.length > max ? m.newKey : undefined;
    case 'flushall':
      return undefined;
    default:
      return m.key.length > max ? m.key : undefined;
  }
}

function keyTooLong(key: Buffer, ctx: ApplyContext): ReplyError {
  return new ReplyError(`ERR key of ${key.length} bytes exceeds the key limit of ${ctx.keyBytesMax} bytes`);
}

function valueTooLong(value: Buffer, ctx: ApplyContext): ReplyError {
  return new ReplyError(`ERR value of ${value.length} bytes exceeds the value limit of ${ctx.valueBytesMax} bytes`);
}

/**
 * The first value a mutation would store as given that is longer than the value limit, if any. Values a
 * command builds (APPEND, SETRANGE) are bounded by `stringBytesMax` instead; the others are short or copies.
 */
function oversizeValue(m: Exclude<Mutation, { op: 'exec' }>, max: number): Buffer | undefined {
  switch (m.op) {
    case 'set':
    case 'setnx':
      return m.value.length > max ? m.value : undefined;
    case 'mset':
      return m.pairs.find(([, value]) => value.length > max)?.[1];
    default:
      return undefined;
  }
}

function applyTo(view: MutableView, m: Exclude<Mutation, { op: 'exec' }>, ctx: ApplyContext): Reply {
  const oversize = oversizeKey(m, ctx.keyBytesMax);
  if (oversize !== undefined) return keyTooLong(oversize, ctx);
  const oversizeVal = oversizeValue(m, ctx.valueBytesMax);
  if (oversizeVal !== undefined) return valueTooLong(oversizeVal, ctx);
  switch (m.op) {
    case 'set': {
      const old = m.get || m.nx || m.xx ? view.get(m.key) : undefined;
      const skip = (m.nx && old !== undefined) || (m.xx && old === undefined);
      if (!skip) view.put(m.key, m.value);
      if (m.get) return old ?? null;
      return skip ? null : 'OK';
    }
    case 'setnx':
      if (view.has(m.key)) return 0;
      view.put(m.key, m.value);
      return 1;
    case 'mset':
      if (m.nx && m.pairs.some(([k]) => view.has(k))) return 0;
      for (const [k, v] of m.pairs) view.put(k, v);
      return m.nx ? 1 : 'OK';
    case 'del': {
      let n = 0;
      const seen = new Set<string>();
      for (const key of m.keys) {
        const id = key.toString('latin1');
        if (seen.has(id)) continue;
        seen.add(id);
        if (view.has(key)) {
          view.del(key);
          n++;
        }
      }
      return n;
    }
    case 'getdel': {
      const old = view.get(m.key);
      if (old !== undefined) view.del(m.key);
      return old ?? null;
    }
    case 'incrby': {
      const old = view.get(m.key);
      const current = old === undefined ? 0n : parseInt64(old);
      if (current === undefined) return ERR_NOT_INTEGER;
      const next = current + m.by;
      if (next > INT64_MAX || next < INT64_MIN) return ERR_OVERFLOW;
      view.put(m.key, Buffer.from(next.toString()));
      return next;
    }
    case 'incrbyfloat': {
      const old = view.get(m.key);
      const current = old === undefined ? LONG_DOUBLE_ZERO : parseLongDouble(old);
      const by = parseLongDouble(m.by);
      if (current === undefined || by === undefined) return ERR_NOT_FLOAT;
      const sum = addLongDoubles(current, by);
      if (sum.kind === 'infinite') return ERR_NAN_OR_INFINITY;
      const text = Buffer.from(formatLongDouble(sum));
      view.put(m.key, text);
      return text;
    }
    case 'append': {
      const old = view.get(m.key);
      const length = (old?.length ?? 0) + m.value.length;
      if (length > ctx.stringBytesMax) return ERR_TOO_BIG;
      view.put(m.key, old === undefined ? m.value : Buffer.concat([old, m.value], length));
      return length;
    }
    case 'setrange': {
      const old = view.get(m.key);
      if (m.value.length === 0) return old?.length ?? 0;
      const length = Math.max(old?.length ?? 0, m.offset + m.value.length);
      if (m.offset + m.value.length > ctx.stringBytesMax) return ERR_TOO_BIG;
      const next = Buffer.alloc(length);
      old?.copy(next);
      m.value.copy(next, m.offset);
      view.put(m.key, next);
      return length;
    }
    case 'rename': {
      const value = view.get(m.key);
      if (value === undefined) return ERR_NO_SUCH_KEY;
      if (m.key.equals(m.newKey)) return m.nx ? 0 : 'OK';
      if (m.nx && view.has(m.newKey)) return 0;
      view.put(m.newKey, value);
      view.del(m.key);
      return m.nx ? 1 : 'OK';
    }
    case 'copy': {
      if (m.key.equals(m.newKey)) return ERR_SAME_OBJECT; // before the lookup, as in Redis
      const value = view.get(m.key);
      if (value === undefined) return 0;
      if (!m.replace && view.has(m.newKey)) return 0;
      view.put(m.newKey, value);
      return 1;
    }
    case 'flushall':
      view.clear();
      return 'OK';
  }
}

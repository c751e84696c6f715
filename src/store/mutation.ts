// Write commands as deterministic, serializable mutations. A mutation is what a client asked for, already
// validated and normalised (INCR → incrby 1), and is evaluated against the state at apply time, so that in
// Raft mode every node applies the same log entry to the same state and gets the same result.
// Binary form: one op byte, then fields; byte strings are u32 length + bytes. decode(encode(m)) equals m.
import { CaskError, ErrorCode } from '../util/errors.js';

export interface WatchedKey {
  readonly key: Buffer;
  /** The store's applied sequence number when WATCH ran: a change after it aborts the EXEC. */
  readonly sinceSeq: number;
}

export type Mutation =
  | { readonly op: 'set'; readonly key: Buffer; readonly value: Buffer; readonly nx: boolean; readonly xx: boolean; readonly get: boolean }
  | { readonly op: 'setnx'; readonly key: Buffer; readonly value: Buffer }
  | { readonly op: 'mset'; readonly pairs: ReadonlyArray<readonly [Buffer, Buffer]>; readonly nx: boolean }
  | { readonly op: 'del'; readonly keys: readonly Buffer[] }
  | { readonly op: 'getdel'; readonly key: Buffer }
  | { readonly op: 'incrby'; readonly key: Buffer; readonly by: bigint }
  | { readonly op: 'incrbyfloat'; readonly key: Buffer; readonly by: Buffer }
  | { readonly op: 'append'; readonly key: Buffer; readonly value: Buffer }
  | { readonly op: 'setrange'; readonly key: Buffer; readonly offset: number; readonly value: Buffer }
  | { readonly op: 'rename'; readonly key: Buffer; readonly newKey: Buffer; readonly nx: boolean }
  /** COPY: the value of `key` to `newKey`; an existing `newKey` is overwritten only with `replace`. */
  | { readonly op: 'copy'; readonly key: Buffer; readonly newKey: Buffer; readonly replace: boolean }
  | { readonly op: 'flushall' }
  /** MULTI/EXEC: the queued commands (reads included) applied as one atomic batch, unless a watched key changed. */
  | { readonly op: 'exec'; readonly commands: ReadonlyArray<readonly Buffer[]>; readonly watch: readonly WatchedKey[] };

export type MutationOp = Mutation['op'];

const OP_CODES: Record<MutationOp, number> = {
  set: 1, setnx: 2, mset: 3, del: 4, getdel: 5, incrby: 6, incrbyfloat: 7, append: 8, setrange: 9, rename: 10, flushall: 11, exec: 12, copy: 13,
};

class Writer {
  parts: Buffer[] = [];
  u8(n: number): void {
    this.parts.push(Buffer.from([n]));
  }
  u32(n: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(n);
    this.parts.push(b);
  }
  f64(n: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleLE(n);
    this.parts.push(b);
  }
  bytes(b: Buffer): void {
    this.u32(b.length);
    this.parts.push(b);
  }
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new CaskError(ErrorCode.Corruption, 'truncated mutation');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const n = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return n;
  }
  f64(): number {
    this.need(8);
    const n = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return n;
  }
  bytes(): Buffer {
    const n = this.u32();
    this.need(n);
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }
}

/**
 * The binary form of `m`. With `reserveBytes`, that many bytes (not initialised) come first, for a caller's
 * header: the mutation is then copied once, not once more into a framed buffer.
 */
export function encodeMutation(m: Mutation, reserveBytes = 0): Buffer {
  const w = new Writer();
  if (reserveBytes > 0) w.parts.push(Buffer.allocUnsafe(reserveBytes));
  w.u8(OP_CODES[m.op]);
  switch (m.op) {
    case 'set':
      w.u8((m.nx ? 1 : 0) | (m.xx ? 2 : 0) | (m.get ? 4 : 0));
      w.bytes(m.key);
      w.bytes(m.value);
      break;
    case 'setnx':
    case 'append':
      w.bytes(m.key);
      w.bytes(m.value);
      break;
    case 'mset':
      w.u8(m.nx ? 1 : 0);
      w.u32(m.pairs.length);
      for (const [k, v] of m.pairs) {
        w.bytes(k);
        w.bytes(v);
      }
      break;
    case 'del':
      w.u32(m.keys.length);
      for (const k of m.keys) w.bytes(k);
      break;
    case 'getdel':
      w.bytes(m.key);
      break;
    case 'incrby':
      w.bytes(m.key);
      w.bytes(Buffer.from(m.by.toString()));
      break;
    case 'incrbyfloat':
      w.bytes(m.key);
      w.bytes(m.by);
      break;
    case 'setrange':
      w.bytes(m.key);
      w.f64(m.offset);
      w.bytes(m.value);
      break;
    case 'rename':
      w.u8(m.nx ? 1 : 0);
      w.bytes(m.key);
      w.bytes(m.newKey);
      break;
    case 'copy':
      w.u8(m.replace ? 1 : 0);
      w.bytes(m.key);
      w.bytes(m.newKey);
      break;
    case 'flushall':
      break;
    case 'exec':
      w.u32(m.commands.length);
      for (const argv of m.commands) {
        w.u32(argv.length);
        for (const a of argv) w.bytes(a);
      }
      w.u32(m.watch.length);
      for (const { key, sinceSeq } of m.watch) {
        w.bytes(key);
        w.f64(sinceSeq);
      }
      break;
  }
  return Buffer.concat(w.parts);
}

/** Decodes a mutation; malformed input gives a CASKDB_CORRUPTION error, never an assertion. */
export function decodeMutation(buf: Buffer): Mutation {
  const r = new Reader(buf);
  const code = r.u8();
  let m: Mutation;
  switch (code) {
    case 1: {
      const f = r.u8();
      m = { op: 'set', key: r.bytes(), value: r.bytes(), nx: (f & 1) !== 0, xx: (f & 2) !== 0, get: (f & 4) !== 0 };
      break;
    }
    case 2:
      m = { op: 'setnx', key: r.bytes(), value: r.bytes() };
      break;
    case 3: {
      const nx = r.u8() === 1;
      const n = r.u32();
      const pairs: Array<readonly [Buffer, Buffer]> = [];
      for (let i = 0; i < n; i++) pairs.push([r.bytes(), r.bytes()]);
      m = { op: 'mset', pairs, nx };
      break;
    }
    case 4: {
      const n = r.u32();
      const keys: Buffer[] = [];
      for (let i = 0; i < n; i++) keys.push(r.bytes());
      m = { op: 'del', keys };
      break;
    }
    case 5:
      m = { op: 'getdel', key: r.bytes() };
      break;
    case 6: {
      const key = r.bytes();
      const text = r.bytes().toString();
      if (!/^-?\d{1,20}$/.test(text)) throw new CaskError(ErrorCode.Corruption, 'bad incrby amount in mutation');
      m = { op: 'incrby', key, by: BigInt(text) };
      break;
    }
    case 7:
      m = { op: 'incrbyfloat', key: r.bytes(), by: r.bytes() };
      break;
    case 8:
      m = { op: 'append', key: r.bytes(), value: r.bytes() };
      break;
    case 9:
      m = { op: 'setrange', key: r.bytes(), offset: r.f64(), value: r.bytes() };
      break;
    case 10: {
      const nx = r.u8() === 1;
      m = { op: 'rename', key: r.bytes(), newKey: r.bytes(), nx };
      break;
    }
    case 11:
      m = { op: 'flushall' };
      break;
    case 13: {
      const replace = r.u8() === 1;
      m = { op: 'copy', key: r.bytes(), newKey: r.bytes(), replace };
      break;
    }
    case 12: {
      const n = r.u32();
      const commands: Buffer[][] = [];
      for (let i = 0; i < n; i++) {
        const argc = r.u32();
        const argv: Buffer[] = [];
        for (let j = 0; j < argc; j++) argv.push(r.bytes());
        commands.push(argv);
      }
      const w = r.u32();
      const watch: WatchedKey[] = [];
      for (let i = 0; i < w; i++) watch.push({ key: r.bytes(), sinceSeq: r.f64() });
      m = { op: 'exec', commands, watch };
      break;
    }
    default:
      throw new CaskError(ErrorCode.Corruption, `unknown mutation op ${code}`);
  }
  if (r.pos !== buf.length) throw new CaskError(ErrorCode.Corruption, 'trailing bytes after mutation');
  return m;
}

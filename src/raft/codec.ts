// Byte encodings of Raft messages, entries and configuration changes, for the cluster's TCP transport and
// for confChange entry data. Layout: a version byte, then fields in declaration order; integers as unsigned
// LEB128 varints (≤ 2^53), byte strings as varint length + bytes. decode(encode(x)) deep-equals x; malformed
// input raises CaskError CASKDB_CORRUPTION (never an assertion: these bytes come from the network or disk).
import { CaskError, ErrorCode } from '../util/errors.js';
import {
  type ConfChange,
  type ConfChangeTypeValue,
  type ConfState,
  type Entry,
  type EntryTypeValue,
  type Message,
  type MessageTypeValue,
  type Snapshot,
  messageTypeName,
} from './types.js';

const CODEC_VERSION = 1;

class Writer {
  private buf: Uint8Array;
  private pos = 0;

  /**
   * `capacityBytes`: a size estimate, so that the common case allocates once. `reserveBytes` are left
   * unwritten at the start for the caller (a frame header), so a large message is not copied again to frame it.
   * Memory is not zero-filled: every byte `finish` returns has been written (or is the caller's reserve).
   */
  constructor(capacityBytes = 64, reserveBytes = 0) {
    this.buf = Buffer.allocUnsafe(reserveBytes + capacityBytes);
    this.pos = reserveBytes;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  uvarint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`cannot encode ${v} as uvarint`);
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  bytes(b: Uint8Array): void {
    this.uvarint(b.byteLength);
    this.ensure(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }

  /** The bytes written (reserve included), as a plain Uint8Array view (no copy). */
  finish(): Uint8Array {
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.pos);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly what: string) {}

  private fail(reason: string): never {
    throw new CaskError(ErrorCode.Corruption, `malformed ${this.what} at byte ${this.pos}: ${reason}`, {
      offset: this.pos,
    });
  }

  u8(): number {
    const v = this.buf[this.pos];
    if (v === undefined) this.fail('truncated');
    this.pos++;
    return v;
  }

  uvarint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) this.fail('varint beyond 2^53');
        return result;
      }
      mul *= 0x80;
    }
    return this.fail('varint too long');
  }

  bytes(): Uint8Array {
    const n = this.uvarint();
    if (this.pos + n > this.buf.length) this.fail(`byte string of ${n} overruns input`);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  count(maxPerItemBytes: number): number {
    const n = this.uvarint();
    // Every item takes at least `maxPerItemBytes` byte(s): a count larger than the input is garbage.
    if (n * maxPerItemBytes > this.buf.length - this.pos) this.fail(`count ${n} exceeds input`);
    return n;
  }

  end(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.buf.length - this.pos} trailing bytes`);
  }
}

function writeEntry(w: Writer, e: Entry): void {
  w.uvarint(e.term);
  w.uvarint(e.index);
  w.u8(e.type);
  w.bytes(e.data);
}

function readEntry(r: Reader): Entry {
  const term = r.uvarint();
  const index = r.uvarint();
  const type = r.u8();
  if (type !== 0 && type !== 1) throw new CaskError(ErrorCode.Corruption, `unknown entry type ${type}`);
  return { term, index, type: type as EntryTypeValue, data: r.bytes() };
}

function writeIds(w: Writer, ids: readonly number[]): void {
  w.uvarint(ids.length);
  for (const id of ids) w.uvarint(id);
}

function readIds(r: Reader): number[] {
  const n = r.count(1);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(r.uvarint());
  return ids;
}

function writeConfState(w: Writer, cs: ConfState): void {
  writeIds(w, cs.voters);
  writeIds(w, cs.learners);
}

function readConfState(r: Reader): ConfState {
  return { voters: readIds(r), learners: readIds(r) };
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  w.uvarint(s.metadata.index);
  w.uvarint(s.metadata.term);
  writeConfState(w, s.metadata.confState);
  w.bytes(s.data);
}

function readSnapshot(r: Reader): Snapshot {
  const index = r.uvarint();
  const term = r.uvarint();
  const confState = readConfState(r);
  return { metadata: { index, term, confState }, data: r.bytes() };
}

export function encodeEntries(ents: readonly Entry[]): Uint8Array {
  let size = 16;
  for (const e of ents) size += e.data.byteLength + 24;
  const w = new Writer(size);
  w.u8(CODEC_VERSION);
  w.uvarint(ents.length);
  for (const e of ents) writeEntry(w, e);
  return w.finish();
}

export function decodeEntries(buf: Uint8Array): Entry[] {
  const r = new Reader(buf, 'entries');
  if (r.u8() !== CODEC_VERSION) throw new CaskError(ErrorCode.Corruption, 'unknown entries codec version');
  const n = r.count(4);
  const ents: Entry[] = [];
  for (let i = 0; i < n; i++) ents.push(readEntry(r));
  r.end();
  return ents;
}

function estimateBytes(m: Message): number {
  let n = 64 + m.context.byteLength;
  for (const e of m.entries) n += e.data.byteLength + 24;
  if (m.snapshot !== undefined) n += m.snapshot.data.byteLength + 16 + 9 * (m.snapshot.metadata.confState.voters.length + m.snapshot.metadata.confState.learners.length);
  return n;
}

/** The message's bytes, after `reserveBytes` left for the caller (see Writer). */
export function encodeMessage(m: Message, reserveBytes = 0): Uint8Array {
  const w = new Writer(estimateBytes(m), reserveBytes);
  w.u8(CODEC_VERSION);
  w.u8(m.type);
  w.uvarint(m.to);
  w.uvarint(m.from);
  w.uvarint(m.term);
  w.uvarint(m.logTerm);
  w.uvarint(m.index);
  w.uvarint(m.commit);
  w.u8(m.reject ? 1 : 0);
  w.uvarint(m.rejectHint);
  w.bytes(m.context);
  w.uvarint(m.entries.length);
  for (const e of m.entries) writeEntry(w, e);
  if (m.snapshot === undefined) {
    w.u8(0);
  } else {
    w.u8(1);
    writeSnapshot(w, m.snapshot);
  }
  return w.finish();
}

export function decodeMessage(buf: Uint8Array): Message {
  const r = new Reader(buf, 'message');
  if (r.u8() !== CODEC_VERSION) throw new CaskError(ErrorCode.Corruption, 'unknown message codec version');
  const type = r.u8();
  if (messageTypeName[type] === undefined) throw new CaskError(ErrorCode.Corruption, `unknown message type ${type}`);
  const to = r.uvarint();
  const from = r.uvarint();
  const term = r.uvarint();
  const logTerm = r.uvarint();
  const index = r.uvarint();
  const commit = r.uvarint();
  const rejectByte = r.u8();
  if (rejectByte > 1) throw new CaskError(ErrorCode.Corruption, `bad reject flag ${rejectByte}`);
  const rejectHint = r.uvarint();
  const context = r.bytes();
  const n = r.count(4);
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) entries.push(readEntry(r));
  const hasSnap = r.u8();
  if (hasSnap > 1) throw new CaskError(ErrorCode.Corruption, `bad snapshot flag ${hasSnap}`);
  const snapshot = hasSnap === 1 ? readSnapshot(r) : undefined;
  r.end();
  return {
    type: type as MessageTypeValue,
    to,
    from,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject: rejectByte === 1,
    rejectHint,
    context,
    snapshot,
  };
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const w = new Writer();
  w.u8(CODEC_VERSION);
  w.u8(cc.type);
  w.uvarint(cc.nodeId);
  w.bytes(cc.context);
  return w.finish();
}

export function decodeConfChange(buf: Uint8Array): ConfChange {
  const r = new Reader(buf, 'conf change');
  if (r.u8() !== CODEC_VERSION) throw new CaskError(ErrorCode.Corruption, 'unknown conf change codec version');
  const type = r.u8();
  if (type > 2) throw new CaskError(ErrorCode.Corruption, `unknown conf change type ${type}`);
  const nodeId = r.uvarint();
  const context = r.bytes();
  r.end();
  return { type: type as ConfChangeTypeValue, nodeId, context };
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  const w = new Writer();
  w.u8(CODEC_VERSION);
  writeSnapshot(w, s);
  return w.finish();
}

export function decodeSnapshot(buf: Uint8Array): Snapshot {
  const r = new Reader(buf, 'snapshot');
  if (r.u8() !== CODEC_VERSION) throw new CaskError(ErrorCode.Corruption, 'unknown snapshot codec version');
  const s = readSnapshot(r);
  r.end();
  return s;
}

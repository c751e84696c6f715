// Streaming parser for client requests: RESP multibulk frames (`*N\r\n$len\r\n…`) and inline commands
// (`SET a b\r\n`, for telnet). Any split of the input yields the same commands. Every length is bounded
// (bulk bytes, multibulk count, header/inline line bytes) and violations are typed `ProtocolError`s
// carrying Redis's own wording; after one, the stream is unusable and the connection should be closed.

/** Longest inline command or header line without a newline (Redis's PROTO_INLINE_MAX_SIZE). */
export const INLINE_BYTES_MAX = 64 * 1024;

export interface ParserLimits {
  /** Longest accepted bulk string (`proto-max-bulk-len`). */
  bulkBytesMax: number;
  /** Most arguments in one multibulk frame (`proto-max-multibulk-len`). */
  multibulkLengthMax: number;
}

export class ProtocolError extends Error {
  /** The configuration key whose limit was exceeded, when that is the cause. */
  readonly limit: string | undefined;
  constructor(message: string, limit?: string) {
    super(message);
    this.name = 'ProtocolError';
    this.limit = limit;
  }
}

const CR = 13;
const LF = 10;
const EMPTY = Buffer.alloc(0);

/**
 * The most common command names as sent by clients, shared instead of a new view per request (arguments
 * are only ever read). A name is used only when all three bytes match.
 */
const COMMON_NAMES = ['GET', 'get', 'SET', 'set'].map((name) => Buffer.from(name, 'latin1'));

/** A shared buffer equal to buf[at, at + 3) when it spells GET/get/SET/set, else undefined. */
function commonName(buf: Buffer, at: number): Buffer | undefined {
  const c0 = buf[at];
  if (buf[at + 2] !== (c0 === 71 || c0 === 83 ? 84 : 116)) return undefined; // T or t, matching the case of G/S
  for (const name of COMMON_NAMES) {
    if (name[0] === c0 && name[1] === buf[at + 1] && name[2] === buf[at + 2]) return name;
  }
  return undefined;
}

/**
 * Parses a decimal integer from buf[start, end). Returns NaN on anything but an optional '-' and 1–18
 * digits (longer numbers cannot be valid lengths anyway).
 */
function parseLength(buf: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (i < end && buf[i] === 45) {
    negative = true;
    i++;
  }
  if (i >= end || end - i > 18) return NaN;
  let n = 0;
  for (; i < end; i++) {
    const c = buf[i]! - 48;
    if (c < 0 || c > 9) return NaN;
    n = n * 10 + c;
  }
  return negative ? -n : n;
}

/**
 * Fast path for a frame header (`*3\r\n`, `$100\r\n`): the non-negative decimal number after the type byte
 * at `pos`, when the whole header (digits, CR, LF) is in buf[pos, end) and well-formed. -1 = anything else
 * (incomplete, negative, malformed, too long): the caller then takes the general path, which reports it.
 * The header ends at the returned `headerEnd` (set as a side result to avoid an allocation).
 */
let headerEnd = 0;
function scanHeader(buf: Buffer, pos: number, end: number): number {
  let i = pos + 1;
  const limit = Math.min(end - 1, i + 18);
  let n = 0;
  for (; i < limit; i++) {
    const c = buf[i]!;
    if (c === CR) {
      if (i === pos + 1 || buf[i + 1] !== LF) return -1;
      headerEnd = i + 2;
      return n;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return -1;
}

export class RespParser {
  limits: ParserLimits;
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Extra chunks held while a large bulk body is incomplete, so it is concatenated once. */
  private parked: Buffer[] = [];
  private parkedBytes = 0;
  /** Multibulk in progress: its arguments so far and how many are expected. */
  private args: Buffer[] | undefined;
  private argsWanted = 0;
  /** Length of the bulk body being waited for, or -1 when a `$` header is expected next. */
  private bulkLength = -1;
  private failed: ProtocolError | undefined;

  constructor(limits: ParserLimits) {
    this.limits = limits;
  }

  /** Bytes buffered but not yet parsed (for CLIENT LIST's qbuf and input accounting). */
  get bufferedBytes(): number {
    return this.buf.length - this.pos + this.parkedBytes;
  }

  /**
   * Feeds a chunk and calls `onCommand` for each complete command, in order. Returns a ProtocolError when
   * the input is malformed (commands before the bad frame have been delivered); the parser then refuses
   * further input. `onCommand` receives views into the input chunks (GET/SET names: shared buffers): never
   * modify them, and copy them to keep them.
   */
  feed(chunk: Buffer, onCommand: (argv: Buffer[]) => void): ProtocolError | undefined {
    if (this.failed !== undefined) return this.failed;
    if (this.parked.length > 0) {
      this.parked.push(chunk);
      this.parkedBytes += chunk.length;
      if (this.parkedBytes < this.bulkLength + 2) return undefined;
      this.buf = Buffer.concat(this.parked, this.parkedBytes);
      this.pos = 0;
      this.parked = [];
      this.parkedBytes = 0;
    } else if (this.pos < this.buf.length) {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
      this.pos = 0;
    } else {
      this.buf = chunk;
      this.pos = 0;
    }
    const error = this.parse(onCommand);
    if (error !== undefined) {
      this.failed = error;
      this.buf = EMPTY;
      this.pos = 0;
      this.args = undefined;
    } else if (this.pos >= this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
    }
    return error;
  }

  private parse(onCommand: (argv: Buffer[]) => void): ProtocolError | undefined {
    const buf = this.buf;
    const end = buf.length;
    for (;;) {
      let pos = this.pos;
      if (this.args === undefined) {
        if (pos >= end) return undefined;
        if (buf[pos] !== 42 /* '*' */) {
          const result = this.parseInline(onCommand);
          if (result !== true) return result;
          continue;
        }
        let n = scanHeader(buf, pos, end);
        let next = headerEnd;
        if (n < 0) {
          const nl = buf.indexOf(CR, pos);
          if (nl < 0 || nl + 1 >= end) {
            if (end - pos > INLINE_BYTES_MAX) return new ProtocolError('Protocol error: too big mbulk count string');
            return undefined;
          }
          if (nl - pos > INLINE_BYTES_MAX) return new ProtocolError('Protocol error: too big mbulk count string');
          n = parseLength(buf, pos + 1, nl);
          if (Number.isNaN(n)) return new ProtocolError('Protocol error: invalid multibulk length');
          next = nl + 2;
        }
        if (n > this.limits.multibulkLengthMax) {
          return new ProtocolError(
            `Protocol error: invalid multibulk length (${n} exceeds proto-max-multibulk-len ${this.limits.multibulkLengthMax})`,
            'proto-max-multibulk-len',
          );
        }
        this.pos = pos = next;
        if (n <= 0) continue; // Redis ignores `*0` and `*-1`.
        this.args = [];
        this.argsWanted = n;
        this.bulkLength = -1;
      }
      const args = this.args;
      while (args.length < this.argsWanted) {
        if (this.bulkLength < 0) {
          if (pos >= end) return undefined;
          if (buf[pos] !== 36 /* '$' */) {
            return new ProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(buf[pos]!)}'`);
          }
          let len = scanHeader(buf, pos, end);
          let next = headerEnd;
          if (len < 0) {
            const nl = buf.indexOf(CR, pos);
            if (nl < 0 || nl + 1 >= end) {
              if (end - pos > INLINE_BYTES_MAX) return new ProtocolError('Protocol error: too big bulk count string');
              return undefined;
            }
            if (nl - pos > INLINE_BYTES_MAX) return new ProtocolError('Protocol error: too big bulk count string');
            len = parseLength(buf, pos + 1, nl);
            if (Number.isNaN(len) || len < 0) return new ProtocolError('Protocol error: invalid bulk length');
            next = nl + 2;
          }
          if (len > this.limits.bulkBytesMax) {
            return new ProtocolError(
              `Protocol error: invalid bulk length (${len} exceeds proto-max-bulk-len ${this.limits.bulkBytesMax})`,
              'proto-max-bulk-len',
            );
          }
          this.pos = pos = next;
          this.bulkLength = len;
        }
        const len = this.bulkLength;
        if (end - pos < len + 2) {
          // A large body arrives in many chunks: park them instead of re-concatenating on every chunk.
          if (len >= 32 * 1024) this.park();
          return undefined;
        }
        args.push((len === 3 && args.length === 0 ? commonName(buf, pos) : undefined) ?? buf.subarray(pos, pos + len));
        this.pos = pos = pos + len + 2;
        this.bulkLength = -1;
      }
      this.args = undefined;
      onCommand(args);
    }
  }

  /** Moves the partial bulk body into `parked`; later chunks are collected there and joined once. */
  private park(): void {
    const rest = this.buf.subarray(this.pos);
    this.buf = EMPTY;
    this.pos = 0;
    this.parked = [rest];
    this.parkedBytes = rest.length;
  }

  /** Parses one inline command at `pos`. true = consumed a line; undefined = need more input. */
  private parseInline(onCommand: (argv: Buffer[]) => void): true | ProtocolError | undefined {
    const buf = this.buf;
    const pos = this.pos;
    const nl = buf.indexOf(LF, pos);
    if (nl < 0) {
      if (buf.length - pos > INLINE_BYTES_MAX) return new ProtocolError('Protocol error: too big inline request');
      return undefined;
    }
    if (nl - pos > INLINE_BYTES_MAX) return new ProtocolError('Protocol error: too big inline request');
    const lineEnd = nl > pos && buf[nl - 1] === CR ? nl - 1 : nl;
    this.pos = nl + 1;
    const argv = splitInlineArgs(buf.subarray(pos, lineEnd));
    if (argv === undefined) return new ProtocolError('Protocol error: unbalanced quotes in request');
    if (argv.length > this.limits.multibulkLengthMax) {
      return new ProtocolError(
        `Protocol error: invalid multibulk length (${argv.length} exceeds proto-max-multibulk-len ${this.limits.multibulkLengthMax})`,
        'proto-max-multibulk-len',
      );
    }
    if (argv.length > 0) onCommand(argv);
    return true;
  }
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

function hexValue(c: number): number {
  return c <= 57 ? c - 48 : (c | 0x20) - 87;
}

function isSpace(c: number | undefined): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12 || c === 0;
}

/**
 * Splits an inline command line like Redis's sdssplitargs: whitespace-separated words, "double quotes"
 * with \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' with \' only. undefined = unbalanced quotes.
 */
export function splitInlineArgs(line: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) return out;
    const bytes: number[] = [];
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const c = line[i];
      if (inDouble) {
        if (c === undefined) return undefined;
        if (c === 92 && line[i + 1] === 120 && isHex(line[i + 2] ?? 0) && isHex(line[i + 3] ?? 0)) {
          bytes.push(hexValue(line[i + 2]!) * 16 + hexValue(line[i + 3]!));
          i += 3;
        } else if (c === 92 && i + 1 < n) {
          i++;
          const e = line[i]!;
          bytes.push(e === 110 ? 10 : e === 114 ? 13 : e === 116 ? 9 : e === 98 ? 8 : e === 97 ? 7 : e);
        } else if (c === 34) {
          // A closing quote must be followed by a space or the end.
          if (i + 1 < n && !isSpace(line[i + 1])) return undefined;
          done = true;
        } else {
          bytes.push(c);
        }
      } else if (inSingle) {
        if (c === undefined) return undefined;
        if (c === 92 && line[i + 1] === 39) {
          i++;
          bytes.push(39);
        } else if (c === 39) {
          if (i + 1 < n && !isSpace(line[i + 1])) return undefined;
          done = true;
        } else {
          bytes.push(c);
        }
      } else if (c === undefined || isSpace(c)) {
        done = true;
      } else if (c === 34) {
        inDouble = true;
      } else if (c === 39) {
        inSingle = true;
      } else {
        bytes.push(c);
      }
      if (i < n) i++;
    }
    out.push(Buffer.from(bytes));
  }
}

// Reply values and their RESP2/RESP3 encoding. A `Reply` is plain data (no protocol version baked in) so
// the same command result can be sent to a RESP2 or a RESP3 client. `ReplyWriter` encodes into a slab and
// hands out the bytes of one event-loop turn at once, so a pipeline costs one socket write.

/** An error reply; `message` starts with its code word (`ERR …`, `WRONGTYPE …`, `EXECABORT …`). */
export class ReplyError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/** A map (RESP3 `%`); RESP2 clients receive it as a flat array of key, value, key, value… */
export class ReplyMap {
  readonly entries: ReadonlyArray<readonly [Reply, Reply]>;
  constructor(entries: ReadonlyArray<readonly [Reply, Reply]>) {
    this.entries = entries;
  }
}

/** A null array (`*-1` in RESP2, `_` in RESP3): EXEC aborted by WATCH. */
export const NIL_ARRAY: unique symbol = Symbol('nil-array');

/**
 * `null` = nil bulk; number/bigint = integer; Buffer = bulk string; string = simple status (`+OK`);
 * arrays = array.
 */
export type Reply = null | number | bigint | string | Buffer | ReplyError | ReplyMap | typeof NIL_ARRAY | readonly Reply[];

export type ProtocolVersion = 2 | 3;

export function errorReply(message: string): ReplyError {
  return new ReplyError(message);
}

const SLAB_BYTES = 64 * 1024;
/** Bulk payloads at least this long are passed to the socket as they are instead of copied. */
const COPY_BYTES_MAX = 16 * 1024;

export class ReplyWriter {
  private slab: Buffer = Buffer.allocUnsafe(SLAB_BYTES);
  /** Start of the bytes not yet handed out, and end of the bytes written, in `slab`. */
  private start = 0;
  private end = 0;
  private chunks: Buffer[] = [];
  private chunkBytes = 0;

  /** Bytes encoded and not yet taken. */
  get pendingBytes(): number {
    return this.chunkBytes + this.end - this.start;
  }

  /** Returns everything encoded since the last call, as one buffer when possible. */
  take(): Buffer | Buffer[] | undefined {
    if (this.end > this.start) this.cut();
    const chunks = this.chunks;
    if (chunks.length === 0) return undefined;
    this.chunks = [];
    this.chunkBytes = 0;
    return chunks.length === 1 ? chunks[0]! : chunks;
  }

  private cut(): void {
    const piece = this.slab.subarray(this.start, this.end);
    this.chunks.push(piece);
    this.chunkBytes += piece.length;
    this.start = this.end;
  }

  private reserve(bytes: number): void {
    if (this.slab.length - this.end >= bytes) return;
    if (this.end > this.start) this.cut();
    this.slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, bytes));
    this.start = 0;
    this.end = 0;
  }

  /** Writes ASCII/latin1 text (protocol framing, numbers, simple strings). */
  writeAscii(text: string): void {
    const n = text.length;
    this.reserve(n);
    if (n <= 24) {
      // Framing strings are short: a byte loop beats Buffer#write's call overhead.
      const slab = this.slab;
      let at = this.end;
      for (let i = 0; i < n; i++) slab[at++] = text.charCodeAt(i);
      this.end = at;
      return;
    }
    this.end += this.slab.write(text, this.end, 'latin1');
  }

  /** Writes `prefix`, the decimal digits of a safe integer, and CRLF (`:42\r\n`, `$100\r\n`, `*3\r\n`). */
  private writeHeader(prefix: number, n: number): void {
    this.reserve(24);
    const slab = this.slab;
    let at = this.end;
    slab[at++] = prefix;
    if (n < 0) {
      slab[at++] = 45; // '-'
      n = -n;
    }
    if (n < 10) {
      slab[at++] = 48 + n;
    } else {
      let digits = 1;
      for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
      at += digits;
      for (let i = at - 1; n >= 10; i--) {
        const q = Math.floor(n / 10);
        slab[i] = 48 + n - q * 10;
        n = q;
      }
      slab[at - digits] = 48 + n;
    }
    slab[at++] = 13;
    slab[at++] = 10;
    this.end = at;
  }

  writeBytes(bytes: Buffer): void {
    if (bytes.length >= COPY_BYTES_MAX) {
      if (this.end > this.start) this.cut();
      this.chunks.push(bytes);
      this.chunkBytes += bytes.length;
      return;
    }
    this.reserve(bytes.length);
    bytes.copy(this.slab, this.end);
    this.end += bytes.length;
  }

  writeBulk(bytes: Buffer): void {
    const n = bytes.length;
    if (n >= COPY_BYTES_MAX) {
      this.writeHeader(36 /* '$' */, n);
      this.writeBytes(bytes);
      this.writeAscii('\r\n');
      return;
    }
    // Header, body and CRLF in one reservation.
    this.reserve(n + 26);
    this.writeHeader(36 /* '$' */, n);
    const slab = this.slab;
    let at = this.end;
    if (n <= 32) for (let i = 0; i < n; i++) slab[at++] = bytes[i]!;
    else at += bytes.copy(slab, at);
    slab[at++] = 13;
    slab[at++] = 10;
    this.end = at;
  }

  /** Writes a simple status string: `+OK\r\n`. */
  private writeStatus(text: string): void {
    const n = text.length;
    if (n > 24) {
      this.writeAscii(`+${text}\r\n`);
      return;
    }
    this.reserve(n + 3);
    const slab = this.slab;
    let at = this.end;
    slab[at++] = 43; // '+'
    for (let i = 0; i < n; i++) slab[at++] = text.charCodeAt(i);
    slab[at++] = 13;
    slab[at++] = 10;
    this.end = at;
  }

  write(reply: Reply, proto: ProtocolVersion): void {
    if (reply === null) {
      this.writeAscii(proto === 3 ? '_\r\n' : '$-1\r\n');
    } else if (typeof reply === 'string') {
      this.writeStatus(reply);
    } else if (typeof reply === 'number') {
      if (Number.isSafeInteger(reply)) this.writeHeader(58 /* ':' */, reply);
      else this.writeAscii(`:${reply}\r\n`);
    } else if (typeof reply === 'bigint') {
      this.writeAscii(`:${reply}\r\n`);
    } else if (Buffer.isBuffer(reply)) {
      this.writeBulk(reply);
    } else if (reply instanceof ReplyError) {
      // A newline inside an error would break framing; Redis replaces them with spaces too.
      this.writeAscii(`-${reply.message.replace(/[\r\n]+/g, ' ')}\r\n`);
    } else if (reply === NIL_ARRAY) {
      this.writeAscii(proto === 3 ? '_\r\n' : '*-1\r\n');
    } else if (reply instanceof ReplyMap) {
      this.writeHeader(proto === 3 ? 37 /* '%' */ : 42 /* '*' */, proto === 3 ? reply.entries.length : reply.entries.length * 2);
      for (const [k, v] of reply.entries) {
        this.write(k, proto);
        this.write(v, proto);
      }
    } else {
      const items = reply as readonly Reply[];
      this.writeHeader(42 /* '*' */, items.length);
      for (const item of items) this.write(item, proto);
    }
  }
}

/** Encodes one reply to a single buffer (tests, and replies built outside a connection). */
export function encodeReply(reply: Reply, proto: ProtocolVersion = 2): Buffer {
  const writer = new ReplyWriter();
  writer.write(reply, proto);
  const out = writer.take();
  if (out === undefined) return Buffer.alloc(0);
  return Buffer.isBuffer(out) ? Buffer.from(out) : Buffer.concat(out);
}

// The TCP transport between Raft peers: length-prefixed frames ([u32 bytes][u8 kind][payload]) carrying
// raft codec messages one way per connection (each node dials every peer), plus request/response frames for
// pulling snapshot files in chunks. Bounded: at most QUEUE_FRAMES_MAX frames / QUEUE_BYTES_MAX bytes wait per
// peer; past that messages are dropped (Raft retransmits) and the peer is reported unreachable — except that
// small frames (heartbeats, votes) still go while one large append drains, up to FRAME_BYTES_MAX more. Dials
// reconnect with exponential backoff (RECONNECT_MS_MIN … RECONNECT_MS_MAX).
import net from 'node:net';
import { decodeMessage, encodeMessage } from '../raft/codec.js';
import type { Message } from '../raft/types.js';
import { CaskError, ErrorCode } from '../util/errors.js';

export const FrameKind = { Hello: 1, Raft: 2, SnapRequest: 3, SnapChunk: 4, SnapError: 5 } as const;

const FRAME_BYTES_MAX = 256 * 1024 * 1024;
const QUEUE_FRAMES_MAX = 8192;
const QUEUE_BYTES_MAX = 64 * 1024 * 1024;
/**
 * A frame this small (heartbeats, votes, acknowledgements, small appends) is still written while a big frame
 * drains: the socket may then hold up to FRAME_BYTES_MAX + QUEUE_BYTES_MAX. Dropping the heartbeats behind
 * one large append would make followers start elections and the leader resend the append.
 */
const CONTROL_FRAME_BYTES_MAX = 64 * 1024;
const RECONNECT_MS_MIN = 20;
const RECONNECT_MS_MAX = 1000;

/** A Raft message as one frame, encoded in place after the frame header (no second copy of its entries). */
export function encodeRaftFrame(m: Message): Buffer {
  const encoded = encodeMessage(m, 5);
  const b = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  b.writeUInt32LE(b.length - 4, 0);
  b[4] = FrameKind.Raft;
  return b;
}

export function encodeFrame(kind: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(5 + payload.byteLength);
  b.writeUInt32LE(1 + payload.byteLength, 0);
  b[4] = kind;
  b.set(payload, 5);
  return b;
}

/**
 * Splits a byte stream into frames; a frame longer than FRAME_BYTES_MAX is a protocol error. The chunks of
 * a frame still arriving are kept in a list and joined once it is complete, so a large frame costs one copy,
 * not one per chunk (joining on every chunk made a 64 MiB frame cost gigabytes of copying).
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  /** Chunks received after `buf`, not yet joined to it, and their total length. */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  /** Bytes the frame at the start of `buf` needs in all (its header included); 0 while unknown. */
  private wanted = 0;

  feed(chunk: Buffer, onFrame: (kind: number, payload: Buffer) => void): void {
    if (this.wanted > 0 && this.buf.length + this.partsBytes + chunk.length < this.wanted) {
      this.parts.push(chunk);
      this.partsBytes += chunk.length;
      return;
    }
    if (this.parts.length > 0) {
      this.parts.unshift(this.buf);
      this.parts.push(chunk);
      this.buf = Buffer.concat(this.parts, this.buf.length + this.partsBytes + chunk.length);
      this.parts = [];
      this.partsBytes = 0;
    } else {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    }
    this.wanted = 0;
    let off = 0;
    while (this.buf.length - off >= 4) {
      const len = this.buf.readUInt32LE(off);
      if (len < 1 || len > FRAME_BYTES_MAX) throw new CaskError(ErrorCode.Corruption, `peer frame of ${len} bytes`);
      if (this.buf.length - off - 4 < len) {
        this.wanted = 4 + len;
        break;
      }
      const kind = this.buf[off + 4]!;
      const payload = this.buf.subarray(off + 5, off + 4 + len);
      off += 4 + len;
      onFrame(kind, payload);
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
  }
}

export function parseAddress(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const port = Number(addr.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new CaskError(ErrorCode.Config, `bad peer address '${addr}' (want host:port)`);
  }
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

/** Hello: sender id, receiver id, sender's peer listen address (so joiners learn who talks to them). */
function helloPayload(from: number, to: number, address: string): Buffer {
  const a = Buffer.from(address, 'utf8');
  const b = Buffer.allocUnsafe(8 + a.length);
  b.writeUInt32LE(from, 0);
  b.writeUInt32LE(to, 4);
  a.copy(b, 8);
  return b;
}

/** One outbound connection to a peer, with a bounded queue and reconnect backoff. */
class PeerLink {
  private socket: net.Socket | undefined;
  private connected = false;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private backoffMs = RECONNECT_MS_MIN;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly selfId: number,
    private readonly selfAddress: string,
    readonly peerId: number,
    public address: string,
    private readonly onUnreachable: (id: number) => void,
  ) {
    this.dial();
  }

  private dial(): void {
    if (this.closed) return;
    const { host, port } = parseAddress(this.address);
    const s = net.connect({ host, port, noDelay: true });
    this.socket = s;
    s.on('connect', () => {
      this.connected = true;
      this.backoffMs = RECONNECT_MS_MIN;
      s.write(encodeFrame(FrameKind.Hello, helloPayload(this.selfId, this.peerId, this.selfAddress)));
      this.flush();
    });
    s.on('data', () => undefined); // nothing flows back on a message stream
    s.on('error', () => undefined);
    s.on('close', () => {
      const wasConnected = this.connected;
      this.connected = false;
      this.socket = undefined;
      if (this.closed) return;
      if (wasConnected) this.onUnreachable(this.peerId);
      this.timer = setTimeout(() => this.dial(), this.backoffMs);
      this.backoffMs = Math.min(RECONNECT_MS_MAX, this.backoffMs * 2);
    });
  }

  send(frame: Buffer): boolean {
    if (this.connected && this.socket !== undefined && this.queue.length === 0) {
      const room = frame.length <= CONTROL_FRAME_BYTES_MAX ? FRAME_BYTES_MAX + QUEUE_BYTES_MAX : QUEUE_BYTES_MAX;
      if (this.socket.writableLength > room) return false;
      this.socket.write(frame);
      return true;
    }
    if (this.queue.length >= QUEUE_FRAMES_MAX || this.queuedBytes + frame.length > QUEUE_BYTES_MAX) return false;
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    return true;
  }

  private flush(): void {
    const s = this.socket;
    if (s === undefined || !this.connected) return;
    s.cork();
    for (const f of this.queue) s.write(f);
    s.uncork();
    this.queue = [];
    this.queuedBytes = 0;
  }

  cork(): void {
    if (this.connected) this.socket?.cork();
  }

  uncork(): void {
    if (this.socket !== undefined && this.socket.writableCorked > 0) this.socket.uncork();
  }

  /** Reconnects to a new address. */
  redirect(address: string): void {
    if (address === this.address) return;
    this.address = address;
    this.socket?.destroy();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.socket?.destroy();
  }
}

export interface TransportHandlers {
  onMessage(m: Message): void;
  onUnreachable(id: number): void;
  /** Serves a snapshot chunk request from a peer; resolves with the chunk header and bytes. */
  onSnapshotRequest(request: SnapshotChunkRequest): Promise<{ header: SnapshotChunkHeader; data: Buffer }>;
  /** A peer announced its id and listen address in its hello. */
  onPeerAddress(id: number, address: string): void;
}

export interface SnapshotChunkRequest {
  readonly index: number;
  readonly file: string;
  readonly offset: number;
  readonly length: number;
}

export interface SnapshotChunkHeader {
  readonly file: string;
  readonly offset: number;
  readonly size: number;
}

export class PeerTransport {
  private readonly links = new Map<number, PeerLink>();
  private readonly server: net.Server;
  private readonly inbound = new Set<net.Socket>();
  /** Messages dropped because a peer's queue was full or unknown. */
  droppedMessages = 0;

  constructor(
    readonly selfId: number,
    private readonly selfAddress: string,
    private readonly handlers: TransportHandlers,
  ) {
    this.server = net.createServer({ noDelay: true }, (s) => this.accept(s));
  }

  listen(address: string): Promise<void> {
    const { host, port } = parseAddress(address);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, backlog: 511 }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Sets the address book: links open to new peers, follow moved ones, close for removed ones. */
  setPeers(peers: ReadonlyMap<number, string>): void {
    for (const [id, addr] of peers) {
      if (id === this.selfId) continue;
      const link = this.links.get(id);
      if (link === undefined) this.links.set(id, new PeerLink(this.selfId, this.selfAddress, id, addr, (p) => this.handlers.onUnreachable(p)));
      else link.redirect(addr);
    }
    for (const [id, link] of this.links) {
      if (!peers.has(id)) {
        link.close();
        this.links.delete(id);
      }
    }
  }

  /** Sends a Ready's messages: the frames for one peer leave in one corked write. */
  send(messages: readonly Message[]): void {
    const corked: PeerLink[] = [];
    for (const m of messages) {
      const link = this.links.get(m.to);
      if (link !== undefined && !corked.includes(link)) {
        link.cork();
        corked.push(link);
      }
      if (link === undefined || !link.send(encodeRaftFrame(m))) {
        this.droppedMessages++;
        if (link !== undefined) this.handlers.onUnreachable(m.to);
      }
    }
    for (const link of corked) link.uncork();
  }

  private accept(s: net.Socket): void {
    this.inbound.add(s);
    const reader = new FrameReader();
    s.on('error', () => undefined);
    s.on('close', () => this.inbound.delete(s));
    s.on('data', (chunk: Buffer) => {
      try {
        reader.feed(chunk, (kind, payload) => this.onFrame(s, kind, payload));
      } catch {
        s.destroy();
      }
    });
  }

  private onFrame(s: net.Socket, kind: number, payload: Buffer): void {
    if (kind === FrameKind.Raft) {
      let m: Message;
      try {
        m = decodeMessage(payload);
      } catch {
        s.destroy();
        return;
      }
      if (m.to !== this.selfId) return;
      this.handlers.onMessage(m);
    } else if (kind === FrameKind.SnapRequest) {
      let req: SnapshotChunkRequest;
      try {
        req = JSON.parse(payload.toString('utf8')) as SnapshotChunkRequest;
      } catch {
        s.destroy();
        return;
      }
      this.handlers.onSnapshotRequest(req).then(
        ({ header, data }) => {
          const h = Buffer.from(JSON.stringify(header));
          const p = Buffer.allocUnsafe(4 + h.length + data.length);
          p.writeUInt32LE(h.length, 0);
          h.copy(p, 4);
          data.copy(p, 4 + h.length);
          s.write(encodeFrame(FrameKind.SnapChunk, p));
        },
        (e: unknown) => s.write(encodeFrame(FrameKind.SnapError, Buffer.from((e as Error).message))),
      );
    }
    else if (kind === FrameKind.Hello && payload.length > 8) {
      const from = payload.readUInt32LE(0);
      const address = payload.subarray(8).toString('utf8');
      if (from > 0 && /^[^\s]+:\d+$/.test(address)) this.handlers.onPeerAddress(from, address);
    }
  }

  async close(): Promise<void> {
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const s of this.inbound) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A client connection that pulls snapshot chunks from a peer (request → chunk, one at a time). */
export class SnapshotFetcher {
  private readonly socket: net.Socket;
  private readonly reader = new FrameReader();
  private waiter: { resolve: (v: { header: SnapshotChunkHeader; data: Buffer }) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private readonly ready: Promise<void>;

  constructor(address: string, selfId: number, peerId: number, timeoutMs: number) {
    const { host, port } = parseAddress(address);
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.setTimeout(timeoutMs, () => this.socket.destroy(new Error('snapshot transfer timed out')));
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => {
        this.socket.write(encodeFrame(FrameKind.Hello, helloPayload(selfId, peerId, '')));
        resolve();
      });
      this.socket.once('error', reject);
    });
    this.ready.catch(() => undefined); // a failed connect is reported by fetch()
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => this.fail(new Error('snapshot connection closed')));
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.feed(chunk, (kind, payload) => this.onFrame(kind, payload));
      } catch (e) {
        this.socket.destroy(e as Error);
      }
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(e);
  }

  private onFrame(kind: number, payload: Buffer): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (w === undefined) return;
    if (kind === FrameKind.SnapChunk) {
      const hl = payload.readUInt32LE(0);
      const header = JSON.parse(payload.subarray(4, 4 + hl).toString('utf8')) as SnapshotChunkHeader;
      w.resolve({ header, data: Buffer.from(payload.subarray(4 + hl)) });
    } else if (kind === FrameKind.SnapError) {
      w.reject(new Error(`peer refused snapshot chunk: ${payload.toString('utf8')}`));
    } else {
      w.reject(new Error(`unexpected frame kind ${kind}`));
    }
  }

  async fetch(req: SnapshotChunkRequest): Promise<{ header: SnapshotChunkHeader; data: Buffer }> {
    await this.ready;
    if (this.failure !== undefined) throw this.failure;
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.socket.write(encodeFrame(FrameKind.SnapRequest, Buffer.from(JSON.stringify(req))));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

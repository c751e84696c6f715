// What a normal Raft log entry carries in cluster mode: who proposed it (node id, process epoch, request
// number — so the proposer can answer its client when the entry is applied) and the encoded Mutation.
// Layout: u8 version=1 | u32 node | u32 epoch | f64 request | mutation bytes. An empty entry is a leader no-op.
import { decodeMutation, encodeMutation, type Mutation } from '../store/mutation.js';
import { CaskError, ErrorCode } from '../util/errors.js';

const VERSION = 1;
const HEADER_BYTES = 17;

export interface EntryOrigin {
  readonly node: number;
  readonly epoch: number;
  readonly request: number;
}

export function encodePayload(origin: EntryOrigin, m: Mutation): Buffer {
  const body = encodeMutation(m);
  const b = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  b[0] = VERSION;
  b.writeUInt32LE(origin.node, 1);
  b.writeUInt32LE(origin.epoch, 5);
  b.writeDoubleLE(origin.request, 9);
  body.copy(b, HEADER_BYTES);
  return b;
}

export function decodePayload(data: Uint8Array): { origin: EntryOrigin; mutation: Mutation } {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < HEADER_BYTES || b[0] !== VERSION) throw new CaskError(ErrorCode.Corruption, `bad raft entry payload (${b.length} bytes)`);
  const origin = { node: b.readUInt32LE(1), epoch: b.readUInt32LE(5), request: b.readDoubleLE(9) };
  return { origin, mutation: decodeMutation(b.subarray(HEADER_BYTES)) };
}

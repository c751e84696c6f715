// What a normal Raft log entry carries in cluster mode: who proposed it (node id, process epoch, request
// number — so the proposer can answer its client when the entry is applied), the limit APPEND/SETRANGE obey
// when it is applied, and the encoded Mutation.
// Layout v2: u8 version=2 | u32 node | u32 epoch | f64 request | u32 stringBytesMax | mutation bytes.
// Layout v1 (still read): u8 version=1 | u32 node | u32 epoch | f64 request | mutation bytes.
// An empty entry is a leader no-op.
// Invariant: everything that decides an entry's outcome is in the entry or in the replicated state, never in
// a node's own settings — so every node applies it alike. The proposer's `proto-max-bulk-len` travels here.
import { decodeMutation, encodeMutation, type Mutation } from '../store/mutation.js';
import { CaskError, ErrorCode } from '../util/errors.js';

const V1 = 1;
const V2 = 2;
const V1_HEADER_BYTES = 17;
const V2_HEADER_BYTES = 21;

const MiB = 1024 * 1024;
/**
 * Longest value a replicated write may store, the same on every node (the engine is opened with it): a SET
 * value fits in one entry (`raft.entry-bytes-max` is at most this), and APPEND/SETRANGE never build more.
 * An AppendEntries message carries one entry of any size or several within 1 MiB, so every message stays
 * well inside the peer transport's 256 MiB frame limit.
 */
export const CLUSTER_VALUE_BYTES_MAX = 128 * MiB;

export interface EntryOrigin {
  readonly node: number;
  readonly epoch: number;
  readonly request: number;
}

export interface EntryPayload {
  readonly origin: EntryOrigin;
  /** The longest string APPEND/SETRANGE may build when this entry is applied. */
  readonly stringBytesMax: number;
  readonly mutation: Mutation;
}

export function encodePayload(origin: EntryOrigin, stringBytesMax: number, m: Mutation): Buffer {
  const b = encodeMutation(m, V2_HEADER_BYTES);
  b[0] = V2;
  b.writeUInt32LE(origin.node, 1);
  b.writeUInt32LE(origin.epoch, 5);
  b.writeDoubleLE(origin.request, 9);
  b.writeUInt32LE(Math.min(stringBytesMax, CLUSTER_VALUE_BYTES_MAX), 17);
  return b;
}

export function decodePayload(data: Uint8Array): EntryPayload {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const version = b[0];
  const headerBytes = version === V2 ? V2_HEADER_BYTES : V1_HEADER_BYTES;
  if ((version !== V1 && version !== V2) || b.length < headerBytes) {
    throw new CaskError(ErrorCode.Corruption, `bad raft entry payload (${b.length} bytes, version ${String(version)})`);
  }
  const origin = { node: b.readUInt32LE(1), epoch: b.readUInt32LE(5), request: b.readDoubleLE(9) };
  // A v1 entry (written before the limit travelled with it) is applied with the cluster's value limit.
  const stringBytesMax = version === V2 ? Math.min(b.readUInt32LE(17), CLUSTER_VALUE_BYTES_MAX) : CLUSTER_VALUE_BYTES_MAX;
  return { origin, stringBytesMax, mutation: decodeMutation(b.subarray(headerBytes)) };
}

// The log record codec, byte-exact with the Go reference design (docs/format.md). Pure: no I/O.
//
//   +---------+--------+--------------+----------------+-----+-------+
//   | crc32   | type   | key size     | value size     | key | value |
//   | 4 bytes | 1 byte | varint (≤5)  | varint (≤5)    |     |       |
//   +---------+--------+--------------+----------------+-----+-------+
//
// crc32 is IEEE CRC-32 (crc32.ts) of every byte after the crc field, little-endian. Sizes are zigzag varints.
// The key stored on disk is uvarint(seq) ++ userKey; seq 0 means "not in a batch".
import { crc32Range } from './crc32.js';
import { getUvarint, getUvarintInto, getVarint, putUvarint, putVarint, unzigzag, uvarintLength, varintLength, type DecodedInt } from './varint.js';

export const RecordType = { Normal: 0, Deleted: 1, BatchFinished: 2 } as const;
export type RecordTypeValue = (typeof RecordType)[keyof typeof RecordType];

export const CRC_BYTES = 4;
/** crc + type + two 5-byte varints. */
export const HEADER_BYTES_MAX = 15;
export const HEADER_BYTES_MIN = 7;
/** The format's size fields are signed 32-bit in the reference design. */
export const FIELD_BYTES_MAX = 2 ** 31 - 1;
/** Key of the record that closes a batch (after the seq prefix). */
export const BATCH_FINISHED_KEY = Buffer.from('txn-fin');

export function headerLength(keyLength: number, valueLength: number): number {
  return CRC_BYTES + 1 + varintLength(keyLength) + varintLength(valueLength);
}

export function recordLength(keyLength: number, valueLength: number): number {
  return headerLength(keyLength, valueLength) + keyLength + valueLength;
}

/** Bytes of the on-disk key for `userKey` in batch `seq`. */
export function diskKeyLength(seq: number, userKeyLength: number): number {
  return uvarintLength(seq) + userKeyLength;
}

/**
 * Encodes one record at `offset` of `target` (which must have room: use `recordLength`). The key is
 * written as uvarint(seq) ++ userKey when `seq` is given, or as the raw key when it is `undefined`
 * (hint, merge-finished and seq-no records carry raw keys). Returns the offset after the record.
 */
export function encodeRecordInto(
  target: Buffer,
  offset: number,
  type: RecordTypeValue,
  seq: number | undefined,
  key: Uint8Array,
  value: Uint8Array,
): number {
  const keyLength = seq === undefined ? key.length : uvarintLength(seq) + key.length;
  let cursor = offset + CRC_BYTES;
  target[cursor++] = type;
  cursor = putVarint(target, cursor, keyLength);
  cursor = putVarint(target, cursor, value.length);
  if (seq !== undefined) cursor = putUvarint(target, cursor, seq);
  target.set(key, cursor);
  cursor += key.length;
  target.set(value, cursor);
  cursor += value.length;
  target.writeUInt32LE(crc32Range(target, offset + CRC_BYTES, cursor), offset);
  return cursor;
}

/** Copies `source[start, end)` to `target[at…]`: a loop for short ranges (no native call), `copy` above. */
function copyRange(source: Buffer, start: number, end: number, target: Buffer, at: number): number {
  if (end - start <= 64) {
    for (let i = start; i < end; i++) target[at++] = source[i]!;
    return at;
  }
  return at + source.copy(target, at, start, end);
}

/**
 * As `encodeRecordInto` with a raw key (no seq prefix), taking key and value as ranges of existing
 * buffers: the merge writes millions of records and makes no view object per record.
 */
export function encodeRawRecordFromRanges(
  target: Buffer,
  offset: number,
  type: RecordTypeValue,
  keySource: Buffer,
  keyStart: number,
  keyEnd: number,
  valueSource: Buffer,
  valueStart: number,
  valueEnd: number,
): number {
  let cursor = offset + CRC_BYTES;
  target[cursor++] = type;
  cursor = putVarint(target, cursor, keyEnd - keyStart);
  cursor = putVarint(target, cursor, valueEnd - valueStart);
  cursor = copyRange(keySource, keyStart, keyEnd, target, cursor);
  cursor = copyRange(valueSource, valueStart, valueEnd, target, cursor);
  target.writeUInt32LE(crc32Range(target, offset + CRC_BYTES, cursor), offset);
  return cursor;
}

/** Encodes one record into a new buffer. */
export function encodeRecord(type: RecordTypeValue, seq: number | undefined, key: Uint8Array, value: Uint8Array): Buffer {
  const keyLength = seq === undefined ? key.length : uvarintLength(seq) + key.length;
  const target = Buffer.allocUnsafe(recordLength(keyLength, value.length));
  encodeRecordInto(target, 0, type, seq, key, value);
  return target;
}

/** What `decodeHeader` found at an offset. */
export type HeaderResult =
  | { kind: 'header'; crc: number; type: number; keyLength: number; valueLength: number; headerLength: number }
  /** crc, key size and value size all zero: the end of valid data (zero padding). */
  | { kind: 'end' }
  /** The bytes stop inside the header. */
  | { kind: 'truncated' }
  /** Sizes are negative, oversized, or the type is unknown: not a record. */
  | { kind: 'invalid'; reason: string };

/** Outcome codes of `readHeaderInto`. */
export const HeaderStatus = { Ok: 0, End: 1, Truncated: 2, Invalid: 3 } as const;
export type HeaderStatusValue = (typeof HeaderStatus)[keyof typeof HeaderStatus];

/** The fields `readHeaderInto` fills; reused across calls so hot paths allocate nothing. */
export interface HeaderFields {
  crc: number;
  type: number;
  keyLength: number;
  valueLength: number;
  headerLength: number;
  /** Why the header is invalid (status Invalid only). */
  reason: string;
}

export function newHeaderFields(): HeaderFields {
  return { crc: 0, type: 0, keyLength: 0, valueLength: 0, headerLength: 0, reason: '' };
}

/**
 * Reads one signed varint at `offset` into `out.headerLength` (as its byte length) and returns the
 * value; a byte length of −1 means the input ended, −2 an overflow. Allocation-free.
 */
function readSizeVarint(source: Uint8Array, offset: number, end: number, out: HeaderFields): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (offset + i >= end) {
      out.headerLength = -1;
      return 0;
    }
    const byte = source[offset + i]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      out.headerLength = i + 1;
      if (!Number.isSafeInteger(value)) {
        out.headerLength = -2;
        return 0;
      }
      return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    }
    scale *= 128;
  }
  out.headerLength = -2;
  return 0;
}

/** Decodes the header at `offset` into `out` without allocating; returns a HeaderStatus. */
export function readHeaderInto(source: Uint8Array, offset: number, end: number, out: HeaderFields): HeaderStatusValue {
  if (end - offset < HEADER_BYTES_MIN) {
    // Too short for any header; all-zero leftovers still mean "end of data".
    for (let i = offset; i < end; i++) if (source[i] !== 0) return HeaderStatus.Truncated;
    return end > offset ? HeaderStatus.End : HeaderStatus.Truncated;
  }
  const crc = (source[offset]! | (source[offset + 1]! << 8) | (source[offset + 2]! << 16) | (source[offset + 3]! << 24)) >>> 0;
  const type = source[offset + 4]!;
  const keyLength = readSizeVarint(source, offset + 5, end, out);
  const keyBytes = out.headerLength;
  if (keyBytes === -1) return HeaderStatus.Truncated;
  if (keyBytes < 0) return invalid(out, 'key size varint overflows');
  const valueLength = readSizeVarint(source, offset + 5 + keyBytes, end, out);
  const valueBytes = out.headerLength;
  if (valueBytes === -1) return HeaderStatus.Truncated;
  if (valueBytes < 0) return invalid(out, 'value size varint overflows');
  if (crc === 0 && keyLength === 0 && valueLength === 0) return HeaderStatus.End;
  if (keyLength < 0 || keyLength > FIELD_BYTES_MAX) return invalid(out, `key size ${keyLength} out of range`);
  if (valueLength < 0 || valueLength > FIELD_BYTES_MAX) return invalid(out, `value size ${valueLength} out of range`);
  if (type > RecordType.BatchFinished) return invalid(out, `unknown record type ${type}`);
  out.crc = crc;
  out.type = type;
  out.keyLength = keyLength;
  out.valueLength = valueLength;
  out.headerLength = CRC_BYTES + 1 + keyBytes + valueBytes;
  return HeaderStatus.Ok;
}

function invalid(out: HeaderFields, reason: string): HeaderStatusValue {
  out.reason = reason;
  return HeaderStatus.Invalid;
}

/** Allocating convenience form of `readHeaderInto`. */
export function decodeHeader(source: Uint8Array, offset: number, end: number): HeaderResult {
  const out = newHeaderFields();
  switch (readHeaderInto(source, offset, end, out)) {
    case HeaderStatus.Ok:
      return { kind: 'header', crc: out.crc, type: out.type, keyLength: out.keyLength, valueLength: out.valueLength, headerLength: out.headerLength };
    case HeaderStatus.End:
      return { kind: 'end' };
    case HeaderStatus.Truncated:
      return { kind: 'truncated' };
    default:
      return { kind: 'invalid', reason: out.reason };
  }
}

/** True when the stored crc matches the record bytes `source[offset, offset + length)`. */
export function recordCrcMatches(source: Uint8Array, offset: number, length: number, storedCrc: number): boolean {
  return crc32Range(source, offset + CRC_BYTES, offset + length) === storedCrc;
}

/** Splits an on-disk key into its batch seq and the user key (a view, not a copy). */
export function splitDiskKey(diskKey: Buffer): { seq: number; userKey: Buffer } | undefined {
  const seq = getUvarint(diskKey, 0, diskKey.length);
  if (seq.length <= 0) return undefined;
  return { seq: seq.value, userKey: diskKey.subarray(seq.length) };
}

/** A position in the data files: what the index stores per key and what a hint record holds. */
export interface RecordPosition {
  fileId: number;
  offset: number;
  size: number;
}

/** Hint value: varint(fileId) ++ varint(offset) ++ varint(recordSize). */
export function encodePosition(position: RecordPosition): Buffer {
  const target = Buffer.allocUnsafe(varintLength(position.fileId) + varintLength(position.offset) + varintLength(position.size));
  let cursor = putVarint(target, 0, position.fileId);
  cursor = putVarint(target, cursor, position.offset);
  putVarint(target, cursor, position.size);
  return target;
}

/**
 * Decodes a hint value `source[start, end)` into `out` without allocating; false when it is not
 * exactly three valid varints.
 */
export function readPositionInto(source: Uint8Array, start: number, end: number, out: RecordPosition, scratch: DecodedInt): boolean {
  let cursor = start;
  getUvarintInto(source, cursor, end, scratch);
  if (scratch.length <= 0) return false;
  out.fileId = unzigzag(scratch.value);
  cursor += scratch.length;
  getUvarintInto(source, cursor, end, scratch);
  if (scratch.length <= 0) return false;
  out.offset = unzigzag(scratch.value);
  cursor += scratch.length;
  getUvarintInto(source, cursor, end, scratch);
  if (scratch.length <= 0) return false;
  out.size = unzigzag(scratch.value);
  cursor += scratch.length;
  return cursor === end && out.fileId >= 0 && out.offset >= 0 && out.size >= HEADER_BYTES_MIN;
}

export function decodePosition(source: Uint8Array): RecordPosition | undefined {
  const fileId = getVarint(source, 0);
  if (fileId.length <= 0) return undefined;
  const offset = getVarint(source, fileId.length);
  if (offset.length <= 0) return undefined;
  const size = getVarint(source, fileId.length + offset.length);
  if (size.length <= 0 || fileId.length + offset.length + size.length !== source.length) return undefined;
  if (fileId.value < 0 || offset.value < 0 || size.value < HEADER_BYTES_MIN) return undefined;
  return { fileId: fileId.value, offset: offset.value, size: size.value };
}

// An independent reader and writer of the on-disk format, written from DESIGN.md §1 alone (it imports
// nothing from src/), so tests can build directories as the Go reference design writes them and check
// what caskdb writes byte by byte. Varints use BigInt and the CRC-32 is a table of its own, on purpose.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// ------------------------------------------------------------------ CRC-32 (IEEE 802.3, reflected)

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function refCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ------------------------------------------------------------------ varints (Go encoding/binary)

/** binary.PutUvarint: 7 bits per byte, low group first, high bit = more. */
export function refUvarint(value: number | bigint): Buffer {
  let v = BigInt(value);
  if (v < 0n || v >= 1n << 64n) throw new RangeError(`uvarint out of range: ${v}`);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

/** binary.PutVarint: uvarint of uint64(x)<<1, complemented when x < 0. */
export function refVarint(value: number | bigint): Buffer {
  const x = BigInt(value);
  const mask64 = (1n << 64n) - 1n;
  let ux = (x << 1n) & mask64;
  if (x < 0n) ux = ~ux & mask64;
  return refUvarint(ux);
}

/** binary.Uvarint: { value, length } with length 0 when the bytes end inside the varint. */
export function refReadUvarint(bytes: Uint8Array, offset: number): { value: bigint; length: number } {
  let value = 0n;
  let shift = 0n;
  for (let i = 0; offset + i < bytes.length; i++) {
    const byte = bytes[offset + i]!;
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return { value, length: i + 1 };
    shift += 7n;
    if (i >= 9) return { value: 0n, length: -(i + 1) };
  }
  return { value: 0n, length: 0 };
}

export function refReadVarint(bytes: Uint8Array, offset: number): { value: bigint; length: number } {
  const { value: ux, length } = refReadUvarint(bytes, offset);
  let x = ux >> 1n;
  if (ux & 1n) x = -x - 1n;
  return { value: x, length };
}

// ------------------------------------------------------------------ records

export const REF_NORMAL = 0;
export const REF_DELETED = 1;
export const REF_BATCH_FINISHED = 2;
export const TXN_FIN = Buffer.from('txn-fin');

/** The on-disk key of a user key in batch `seq` (0: not in a batch). */
export function refDiskKey(seq: number, userKey: Uint8Array): Buffer {
  return Buffer.concat([refUvarint(seq), userKey]);
}

/** crc32 LE ++ type ++ varint(len key) ++ varint(len value) ++ key ++ value; `key` is the raw disk key. */
export function refEncodeRecord(type: number, key: Uint8Array, value: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from([type]), refVarint(key.length), refVarint(value.length), key, value]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(refCrc32(body));
  return Buffer.concat([crc, body]);
}

export interface RefRecord {
  offset: number;
  size: number;
  type: number;
  /** The raw key as stored (seq prefix included for data files). */
  key: Buffer;
  value: Buffer;
}

export interface RefDecoded {
  records: RefRecord[];
  /** Offset just after the last intact record. */
  validEnd: number;
  /** eof: clean end; zero: an all-zero header; torn: a record cut short by the end; bad: crc or sizes wrong. */
  stop: 'eof' | 'zero' | 'torn' | 'bad';
}

/** Decodes a whole file's bytes into records, stopping at the first thing that is not one. */
export function refDecodeFile(bytes: Buffer): RefDecoded {
  const records: RefRecord[] = [];
  let offset = 0;
  for (;;) {
    if (offset === bytes.length) return { records, validEnd: offset, stop: 'eof' };
    if (offset + 5 > bytes.length) return { records, validEnd: offset, stop: bytes.subarray(offset).every((b) => b === 0) ? 'zero' : 'torn' };
    const crc = bytes.readUInt32LE(offset);
    const type = bytes[offset + 4]!;
    const keySize = refReadVarint(bytes, offset + 5);
    if (keySize.length === 0) return { records, validEnd: offset, stop: 'torn' };
    const valueSize = refReadVarint(bytes, offset + 5 + keySize.length);
    if (valueSize.length === 0) return { records, validEnd: offset, stop: 'torn' };
    if (keySize.length < 0 || valueSize.length < 0) return { records, validEnd: offset, stop: 'bad' };
    if (crc === 0 && keySize.value === 0n && valueSize.value === 0n) return { records, validEnd: offset, stop: 'zero' };
    if (keySize.value < 0n || valueSize.value < 0n) return { records, validEnd: offset, stop: 'bad' };
    const headerSize = 5 + keySize.length + valueSize.length;
    const size = headerSize + Number(keySize.value) + Number(valueSize.value);
    if (offset + size > bytes.length) return { records, validEnd: offset, stop: 'torn' };
    if (refCrc32(bytes.subarray(offset + 4, offset + size)) !== crc) return { records, validEnd: offset, stop: 'bad' };
    const keyStart = offset + headerSize;
    const valueStart = keyStart + Number(keySize.value);
    records.push({
      offset,
      size,
      type,
      key: Buffer.from(bytes.subarray(keyStart, valueStart)),
      value: Buffer.from(bytes.subarray(valueStart, offset + size)),
    });
    offset += size;
  }
}

/** Splits a data-file key into its seq and user key. */
export function refSplitDiskKey(key: Buffer): { seq: number; userKey: Buffer } {
  const seq = refReadUvarint(key, 0);
  if (seq.length <= 0) throw new Error('disk key without a seq prefix');
  return { seq: Number(seq.value), userKey: key.subarray(seq.length) };
}

export interface RefPosition {
  fileId: number;
  offset: number;
  size: number;
}

export function refEncodePosition(position: RefPosition): Buffer {
  return Buffer.concat([refVarint(position.fileId), refVarint(position.offset), refVarint(position.size)]);
}

export function refDecodePosition(value: Buffer): RefPosition {
  const fileId = refReadVarint(value, 0);
  const offset = refReadVarint(value, fileId.length);
  const size = refReadVarint(value, fileId.length + offset.length);
  return { fileId: Number(fileId.value), offset: Number(offset.value), size: Number(size.value) };
}

export function refDataFileName(fileId: number): string {
  return `${String(fileId).padStart(9, '0')}.data`;
}

// ------------------------------------------------------------------ writing a directory

export type RefOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'delete'; key: Uint8Array };

/**
 * Builds a data directory the way the reference design writes one: appends records to numbered files,
 * rotating when a record would pass `fileBytesMax`, and remembers every record's position.
 */
export class RefDirWriter {
  readonly files = new Map<number, Buffer[]>();
  private fileSizes = new Map<number, number>();
  activeFileId: number;
  private nextSeq = 1;

  constructor(
    readonly dir: string,
    options: { firstFileId?: number; fileBytesMax?: number; firstSeq?: number } = {},
  ) {
    this.activeFileId = options.firstFileId ?? 1;
    this.fileBytesMax = options.fileBytesMax ?? 256 * 1024 * 1024;
    this.nextSeq = options.firstSeq ?? 1;
    this.files.set(this.activeFileId, []);
    this.fileSizes.set(this.activeFileId, 0);
  }

  readonly fileBytesMax: number;

  /** Appends one raw record; returns its position. */
  append(type: number, diskKey: Uint8Array, value: Uint8Array): RefPosition {
    const record = refEncodeRecord(type, diskKey, value);
    let size = this.fileSizes.get(this.activeFileId)!;
    if (size > 0 && size + record.length > this.fileBytesMax) {
      this.rotate();
      size = 0;
    }
    this.files.get(this.activeFileId)!.push(record);
    this.fileSizes.set(this.activeFileId, size + record.length);
    return { fileId: this.activeFileId, offset: size, size: record.length };
  }

  rotate(): void {
    this.activeFileId++;
    this.files.set(this.activeFileId, []);
    this.fileSizes.set(this.activeFileId, 0);
  }

  put(key: Uint8Array | string, value: Uint8Array | string): RefPosition {
    return this.append(REF_NORMAL, refDiskKey(0, bytes(key)), bytes(value));
  }

  del(key: Uint8Array | string): RefPosition {
    return this.append(REF_DELETED, refDiskKey(0, bytes(key)), Buffer.alloc(0));
  }

  /** A batch with a fresh seq; `finish: false` leaves out the txn-fin record (a crash before it). */
  batch(ops: RefOp[], options: { finish?: boolean; seq?: number } = {}): number {
    const seq = options.seq ?? this.nextSeq;
    this.nextSeq = Math.max(this.nextSeq, seq + 1);
    for (const op of ops) {
      if (op.type === 'put') this.append(REF_NORMAL, refDiskKey(seq, op.key), op.value);
      else this.append(REF_DELETED, refDiskKey(seq, op.key), Buffer.alloc(0));
    }
    if (options.finish !== false) this.append(REF_BATCH_FINISHED, refDiskKey(seq, TXN_FIN), Buffer.alloc(0));
    return seq;
  }

  /** The bytes of one data file. */
  fileBytes(fileId: number): Buffer {
    return Buffer.concat(this.files.get(fileId) ?? []);
  }

  /** Writes every data file into `dir` (or another directory). */
  flush(dir = this.dir): void {
    mkdirSync(dir, { recursive: true });
    for (const fileId of this.files.keys()) writeFileSync(join(dir, refDataFileName(fileId)), this.fileBytes(fileId));
  }
}

function bytes(input: Uint8Array | string): Buffer {
  return typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
}

/** `hint-index`: one record per key, raw user key, value = encoded position. */
export function refWriteHintFile(path: string, entries: Array<[Uint8Array, RefPosition]>): void {
  writeFileSync(path, Buffer.concat(entries.map(([key, position]) => refEncodeRecord(REF_NORMAL, key, refEncodePosition(position)))));
}

export function refWriteMergeFinished(dir: string, firstUnmergedFileId: number): void {
  writeFileSync(join(dir, 'merge-finished'), refEncodeRecord(REF_NORMAL, Buffer.from('merge.finished'), Buffer.from(String(firstUnmergedFileId))));
}

export function refWriteSeqNo(dir: string, seq: number): void {
  writeFileSync(join(dir, 'seq-no'), refEncodeRecord(REF_NORMAL, Buffer.from('seq.no'), Buffer.from(String(seq))));
}

// ------------------------------------------------------------------ reading a directory

/** Data file ids of a directory, ascending. */
export function refDataFileIds(dir: string): number[] {
  return readdirSync(dir)
    .filter((name) => /^[0-9]{9}\.data$/.test(name))
    .map((name) => Number(name.slice(0, 9)))
    .sort((a, b) => a - b);
}

export function refReadDataFile(dir: string, fileId: number): RefDecoded {
  return refDecodeFile(readFileSync(join(dir, refDataFileName(fileId))));
}

/** Reads the single record of `merge-finished` or `seq-no`. */
export function refReadMarker(path: string): { key: string; value: string } {
  const decoded = refDecodeFile(readFileSync(path));
  const record = decoded.records[0];
  if (record === undefined || decoded.records.length !== 1) throw new Error(`${path} holds ${decoded.records.length} records`);
  return { key: record.key.toString('latin1'), value: record.value.toString('latin1') };
}

/**
 * The live contents of a directory by the reference rules (no merge install here: callers give a
 * directory without `<dir>-merge`). Keys are latin1 strings of the user key bytes.
 */
export function refReplay(dir: string): Map<string, Buffer> {
  const live = new Map<string, Buffer>();
  const names = readdirSync(dir);
  let boundary = 0;
  const fileCache = new Map<number, Buffer>();
  const fileOf = (id: number): Buffer => {
    let data = fileCache.get(id);
    if (data === undefined) fileCache.set(id, (data = readFileSync(join(dir, refDataFileName(id)))));
    return data;
  };
  if (names.includes('merge-finished')) {
    boundary = Number(refReadMarker(join(dir, 'merge-finished')).value);
    if (names.includes('hint-index')) {
      for (const record of refDecodeFile(readFileSync(join(dir, 'hint-index'))).records) {
        const position = refDecodePosition(record.value);
        const target = refDecodeFile(fileOf(position.fileId).subarray(position.offset, position.offset + position.size)).records[0];
        if (target === undefined) throw new Error('hint points at no record');
        live.set(record.key.toString('latin1'), target.value);
      }
    }
  }
  const pending = new Map<number, RefRecord[]>();
  const apply = (record: RefRecord, userKey: Buffer): void => {
    if (record.type === REF_NORMAL) live.set(userKey.toString('latin1'), record.value);
    else live.delete(userKey.toString('latin1'));
  };
  for (const id of refDataFileIds(dir)) {
    if (id < boundary) continue;
    for (const record of refDecodeFile(fileOf(id)).records) {
      const { seq, userKey } = refSplitDiskKey(record.key);
      if (record.type === REF_BATCH_FINISHED) {
        for (const held of pending.get(seq) ?? []) apply(held, refSplitDiskKey(held.key).userKey);
        pending.delete(seq);
      } else if (seq === 0) {
        apply(record, userKey);
      } else {
        const list = pending.get(seq) ?? [];
        list.push(record);
        pending.set(seq, list);
      }
    }
  }
  return live;
}

// Sequential reading of a data (or hint) file with large buffered reads on the thread pool: the fast
// path of open, of `caskdb check` and of merge (which must not block the event loop). It stops at the
// first damage and says what it was; the caller decides whether that is a torn tail or corruption.
// Big buffers live only for the scan.
import { decodeHeader, HEADER_BYTES_MAX, HeaderStatus, newHeaderFields, readHeaderInto, recordCrcMatches, RecordType } from '../codec/record.js';
import type { RandomAccessFile } from '../io/file-system.js';

export const SCAN_CHUNK_BYTES = 1024 * 1024;

/** One record as the scanner hands it out; `buffer` is only valid during the callback. */
export interface ScannedRecord {
  type: number;
  /** Offset of the record in the file, and its total size. */
  offset: number;
  size: number;
  buffer: Buffer;
  /** Index of the record's first byte in `buffer`. */
  start: number;
  keyStart: number;
  keyEnd: number;
  valueEnd: number;
}

export type DamageKind = 'crc' | 'invalid' | 'truncated';

export interface ScanDamage {
  kind: DamageKind;
  offset: number;
  reason: string;
}

export interface ScanResult {
  /** Offset just past the last good record. */
  validEnd: number;
  fileSize: number;
  /** How the scan stopped: end of file, a zero header (padding), or damage. */
  stop: 'eof' | 'zero' | 'damage';
  damage?: ScanDamage;
}

export async function scanRecords(file: RandomAccessFile, onRecord: (record: ScannedRecord) => void, startOffset = 0): Promise<ScanResult> {
  const fileSize = file.size();
  let buffer = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(fileSize - startOffset, HEADER_BYTES_MAX)));
  let bufferFileOffset = startOffset; // file offset of buffer[0]
  let filled = 0;
  let cursor = 0;
  const header = newHeaderFields();
  const record: ScannedRecord = { type: 0, offset: 0, size: 0, buffer, start: 0, keyStart: 0, keyEnd: 0, valueEnd: 0 };

  /** Makes at least `needed` bytes available from `cursor`, as far as the file allows. */
  /** True when fewer than `needed` bytes are buffered but the file has more (then `refill`). */
  const short = (needed: number): boolean => filled - cursor < needed && bufferFileOffset + filled < fileSize;
  const refill = async (needed: number): Promise<void> => {
    if (needed > buffer.length) {
      const bigger = Buffer.allocUnsafe(needed);
      buffer.copy(bigger, 0, cursor, filled);
      buffer = bigger;
    } else {
      buffer.copy(buffer, 0, cursor, filled);
    }
    filled -= cursor;
    bufferFileOffset += cursor;
    cursor = 0;
    while (filled < needed && bufferFileOffset + filled < fileSize) {
      const read = await file.readAsync(buffer, filled, Math.min(buffer.length - filled, fileSize - bufferFileOffset - filled), bufferFileOffset + filled);
      if (read <= 0) break;
      filled += read;
    }
    record.buffer = buffer;
  };

  for (;;) {
    const fileOffset = bufferFileOffset + cursor;
    if (fileOffset >= fileSize) return { validEnd: fileOffset, fileSize, stop: 'eof' };
    if (short(HEADER_BYTES_MAX)) await refill(HEADER_BYTES_MAX);
    const status = readHeaderInto(buffer, cursor, filled, header);
    if (status === HeaderStatus.End) return { validEnd: fileOffset, fileSize, stop: 'zero' };
    if (status === HeaderStatus.Truncated) {
      return { validEnd: fileOffset, fileSize, stop: 'damage', damage: { kind: 'truncated', offset: fileOffset, reason: 'header cut short by the end of the file' } };
    }
    if (status === HeaderStatus.Invalid) {
      return { validEnd: fileOffset, fileSize, stop: 'damage', damage: { kind: 'invalid', offset: fileOffset, reason: header.reason } };
    }
    const size = header.headerLength + header.keyLength + header.valueLength;
    if (fileOffset + size > fileSize) {
      return {
        validEnd: fileOffset,
        fileSize,
        stop: 'damage',
        damage: { kind: 'truncated', offset: fileOffset, reason: `record of ${size} bytes cut short by the end of the file` },
      };
    }
    if (short(size)) await refill(size);
    if (!recordCrcMatches(buffer, cursor, size, header.crc)) {
      return { validEnd: fileOffset, fileSize, stop: 'damage', damage: { kind: 'crc', offset: fileOffset, reason: 'crc mismatch' } };
    }
    record.type = header.type;
    record.offset = fileOffset;
    record.size = size;
    record.start = cursor;
    record.keyStart = cursor + header.headerLength;
    record.keyEnd = record.keyStart + header.keyLength;
    record.valueEnd = record.keyEnd + header.valueLength;
    onRecord(record);
    cursor += size;
  }
}

/**
 * Looks for any intact record starting after `fromOffset` (at any byte). Used to tell a torn tail
 * (nothing valid follows the damage) from corruption in the middle of a file (valid records follow).
 * Cost is kept linear in the bytes after the damage, because a torn tail may be a large value cut short
 * (random bytes in which many positions look like the header of a long record): a byte that cannot be
 * a record type is skipped without decoding, and a candidate's CRC (over its whole length, possibly
 * megabytes) is computed only if the bytes at its end could follow a record — the end of the file, zero
 * padding, or a (possibly torn) header. So an intact record followed directly by more garbage does not
 * count; the records after that garbage still do.
 */
export function findIntactRecordAfter(file: RandomAccessFile, fromOffset: number, fileSize: number): number | undefined {
  const window = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(fileSize - fromOffset, 1)));
  const probe = Buffer.allocUnsafe(HEADER_BYTES_MAX);
  let whole: Buffer | undefined;
  for (let base = fromOffset + 1; base < fileSize; base += window.length - HEADER_BYTES_MAX) {
    const length = file.read(window, 0, Math.min(window.length, fileSize - base), base);
    const limit = base + window.length - HEADER_BYTES_MAX >= fileSize ? length : length - HEADER_BYTES_MAX;
    for (let i = 0; i < limit; i++) {
      if (i + 4 < length && window[i + 4]! > RecordType.BatchFinished) continue;
      const header = decodeHeader(window, i, length);
      // Disk keys always carry at least the one-byte seq prefix.
      if (header.kind !== 'header' || header.keyLength < 1) continue;
      const size = header.headerLength + header.keyLength + header.valueLength;
      const end = base + i + size;
      if (end > fileSize) continue;
      if (end < fileSize) {
        const at = i + size;
        const continuation =
          at + HEADER_BYTES_MAX <= length || base + length === fileSize
            ? decodeHeader(window, at, length)
            : decodeHeader(probe, 0, file.read(probe, 0, Math.min(HEADER_BYTES_MAX, fileSize - end), end));
        if (continuation.kind === 'invalid') continue;
      }
      if (i + size <= length) {
        if (recordCrcMatches(window, i, size, header.crc)) return base + i;
        continue;
      }
      if (whole === undefined || whole.length < size) whole = Buffer.allocUnsafe(size);
      if (file.read(whole, 0, size, base + i) === size && recordCrcMatches(whole, 0, size, header.crc)) return base + i;
    }
    if (base + window.length >= fileSize) break;
  }
  return undefined;
}

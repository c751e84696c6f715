// Sequential reading of a data (or hint) file with large buffered reads on the thread pool: the fast
// path of open, of `caskdb check` and of merge (which must not block the event loop). It stops at the
// first damage and says what it was; the caller decides whether that is a torn tail or corruption.
// Big buffers live only for the scan.
import { decodeHeader, HEADER_BYTES_MAX, HeaderStatus, newHeaderFields, readHeaderInto, recordCrcMatches } from '../codec/record.js';
import type { RandomAccessFile } from '../io/file-system.js';

export const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;

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
 */
export function findIntactRecordAfter(file: RandomAccessFile, fromOffset: number, fileSize: number): number | undefined {
  const window = Buffer.allocUnsafe(Math.min(SCAN_CHUNK_BYTES, Math.max(fileSize - fromOffset, 1)));
  for (let base = fromOffset + 1; base < fileSize; base += window.length - HEADER_BYTES_MAX) {
    const length = file.read(window, 0, Math.min(window.length, fileSize - base), base);
    const limit = base + window.length - HEADER_BYTES_MAX >= fileSize ? length : length - HEADER_BYTES_MAX;
    for (let i = 0; i < limit; i++) {
      const header = decodeHeader(window, i, length);
      // Disk keys always carry at least the one-byte seq prefix.
      if (header.kind !== 'header' || header.keyLength < 1) continue;
      const size = header.headerLength + header.keyLength + header.valueLength;
      if (base + i + size > fileSize) continue;
      if (i + size <= length) {
        if (recordCrcMatches(window, i, size, header.crc)) return base + i;
      } else {
        const whole = Buffer.allocUnsafe(size);
        if (file.read(whole, 0, size, base + i) === size && recordCrcMatches(whole, 0, size, header.crc)) return base + i;
      }
    }
    if (base + window.length >= fileSize) break;
  }
  return undefined;
}

// IEEE CRC-32 of a byte range, as Go's crc32.ChecksumIEEE and zlib.crc32 compute it. Records are
// mostly small, where a call into zlib (plus the Buffer view it needs) costs more than the checksum:
// ranges below NATIVE_BYTES_MIN use a slice-by-8 table walk in JS, longer ones zlib's native crc32.
// Pure: no I/O.
import { crc32 as nativeCrc32 } from 'node:zlib';

const NATIVE_BYTES_MIN = 512;

function makeTables(): Int32Array[] {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  const first = tables[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    first[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = first[n]!;
    for (let t = 1; t < 8; t++) {
      c = first[c & 0xff]! ^ (c >>> 8);
      tables[t]![n] = c;
    }
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = makeTables() as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];

/** CRC-32 (IEEE) of `bytes[start, end)`, as an unsigned 32-bit number. */
export function crc32Range(bytes: Uint8Array, start: number, end: number): number {
  if (end - start >= NATIVE_BYTES_MIN) return nativeCrc32(bytes.subarray(start, end));
  let c = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const low = c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    c =
      T7[low & 0xff]! ^
      T6[(low >>> 8) & 0xff]! ^
      T5[(low >>> 16) & 0xff]! ^
      T4[low >>> 24]! ^
      T3[bytes[i + 4]!]! ^
      T2[bytes[i + 5]!]! ^
      T1[bytes[i + 6]!]! ^
      T0[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = T0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

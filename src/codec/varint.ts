// Go-compatible varints: unsigned LEB128 (`binary.PutUvarint`) and signed zigzag (`binary.PutVarint`).
// Pure: no I/O. Values are JS numbers and must be safe integers; arithmetic avoids 32-bit bitwise ops
// so values above 2^31 encode exactly. Decoders return -1 as `length` when the bytes end too early.

/** Longest uvarint of a 64-bit value, as Go's binary.MaxVarintLen64. */
export const VARINT_BYTES_MAX = 10;

export function uvarintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

/** Writes `value` (a non-negative safe integer) at `offset`; returns the offset after it. */
export function putUvarint(target: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    target[offset++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  target[offset++] = value;
  return offset;
}

/** Zigzag: n ≥ 0 → 2n, n < 0 → −2n − 1 (Go's `uint64(x)<<1` complemented for negatives). */
export function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

export function unzigzag(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

export function varintLength(value: number): number {
  return uvarintLength(zigzag(value));
}

export function putVarint(target: Uint8Array, offset: number, value: number): number {
  return putUvarint(target, offset, zigzag(value));
}

/** Result of a decode: the value and the number of bytes it took (−1: input ended; −2: overflow). */
export interface DecodedInt {
  value: number;
  length: number;
}

/**
 * Reads a uvarint from `source[offset, end)`. Returns length −1 if the input ends inside the varint and
 * −2 if it is longer than 10 bytes or exceeds 2^53 (never produced by a valid writer).
 */
export function getUvarint(source: Uint8Array, offset: number, end: number = source.length): DecodedInt {
  const out: DecodedInt = { value: 0, length: 0 };
  getUvarintInto(source, offset, end, out);
  return out;
}

/** `getUvarint` writing into a reused result, for hot loops. */
export function getUvarintInto(source: Uint8Array, offset: number, end: number, out: DecodedInt): void {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < VARINT_BYTES_MAX; i++) {
    if (offset + i >= end) {
      out.value = 0;
      out.length = -1;
      return;
    }
    const byte = source[offset + i] as number;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      const safe = Number.isSafeInteger(value);
      out.value = safe ? value : 0;
      out.length = safe ? i + 1 : -2;
      return;
    }
    scale *= 128;
  }
  out.value = 0;
  out.length = -2;
}

export function getVarint(source: Uint8Array, offset: number, end: number = source.length): DecodedInt {
  const decoded = getUvarint(source, offset, end);
  if (decoded.length > 0) decoded.value = unzigzag(decoded.value);
  return decoded;
}

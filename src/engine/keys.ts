// Conversions between user keys (string | Uint8Array), their bytes, and the index's latin1 strings
// (one char per byte, so string order equals unsigned byte order).
import { CaskError, ErrorCode } from '../util/errors.js';
import type { Bytes } from './types.js';

export function toBuffer(input: Bytes): Buffer {
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (Buffer.isBuffer(input)) return input;
  if (input instanceof Uint8Array) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  throw new CaskError(ErrorCode.InvalidArgument, `expected a string or Uint8Array, got ${typeof input}`);
}

/** The index string of a key given as string or bytes. */
export function toIndexKey(input: Bytes): string {
  if (typeof input === 'string') {
    // ASCII strings are their own latin1 form; anything else goes through UTF-8 bytes.
    return Buffer.byteLength(input, 'utf8') === input.length ? input : Buffer.from(input, 'utf8').toString('latin1');
  }
  return toBuffer(input).toString('latin1');
}

export function indexKeyToBuffer(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

/** The smallest string greater than every string with prefix `prefix`, or undefined if none. */
export function prefixSuccessor(prefix: string): string | undefined {
  let end = prefix.length;
  while (end > 0 && prefix.charCodeAt(end - 1) === 0xff) end--;
  if (end === 0) return undefined;
  return prefix.slice(0, end - 1) + String.fromCharCode(prefix.charCodeAt(end - 1) + 1);
}

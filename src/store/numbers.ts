// Integer parsing with Redis's exact rules: strict 64-bit integers (string2ll: no '+', no leading zeros, no
// spaces). INCRBYFLOAT's long-double arithmetic is in long-double.ts. Deterministic on every platform, which
// Raft replicas need.

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** Parses a strict int64 (string2ll rules); undefined when not one. */
export function parseInt64(buf: Buffer): bigint | undefined {
  const n = buf.length;
  if (n === 0 || n > 20) return undefined;
  let i = 0;
  if (buf[0] === 45) {
    i = 1;
    if (n === 1) return undefined;
  }
  if (buf[i] === 48) return n === 1 ? 0n : undefined; // "0" only; "-0", "01" rejected
  let small = 0;
  for (let j = i; j < n; j++) {
    const c = buf[j]! - 48;
    if (c < 0 || c > 9) return undefined;
    if (n < 16) small = small * 10 + c;
  }
  if (n < 16) return BigInt(i === 1 ? -small : small);
  const v = BigInt(buf.toString('latin1'));
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

/** Parses a non-negative or negative safe integer argument (COUNT, offsets); undefined when invalid. */
export function parseSafeInt(buf: Buffer): number | undefined {
  const v = parseInt64(buf);
  if (v === undefined || v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) return undefined;
  return Number(v);
}

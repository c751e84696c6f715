// Number parsing and arithmetic with Redis's exact rules: strict 64-bit integers (string2ll: no '+', no
// leading zeros, no spaces) and INCRBYFLOAT done in exact decimal arithmetic, printed with at most 17
// fractional digits and trailing zeros removed (what Redis prints with its long doubles for decimal input).
// Deterministic on every platform, which Raft replicas need.

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

/** An exact decimal: value = mantissa × 10^-scale. */
interface Decimal {
  mantissa: bigint;
  scale: number;
}

const EXPONENT_MAX = 4932; // the range of the long double Redis parses into

/** Parses a decimal float as Redis accepts it (no spaces, optional exponent); undefined when invalid. */
export function parseDecimal(buf: Buffer): Decimal | undefined {
  const text = buf.toString('latin1');
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (m === null) return undefined;
  const intPart = m[2] ?? '';
  const fracPart = m[3] ?? '';
  if (intPart.length === 0 && fracPart.length === 0) return undefined;
  const exponent = m[4] === undefined ? 0 : Number(m[4]);
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > EXPONENT_MAX) return undefined;
  let mantissa = BigInt((intPart + fracPart).replace(/^0+(?=\d)/, '') || '0');
  if (m[1] === '-') mantissa = -mantissa;
  let scale = fracPart.length - exponent;
  if (scale < 0) {
    mantissa *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { mantissa, scale };
}

function align(a: Decimal, b: Decimal): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [a.mantissa * 10n ** BigInt(scale - a.scale), b.mantissa * 10n ** BigInt(scale - b.scale), scale];
}

/** a + b, rounded half away from zero to 17 fractional digits, printed without trailing zeros. */
export function addDecimals(a: Decimal, b: Decimal): string {
  let [x, y, scale] = align(a, b);
  let sum = x + y;
  if (scale > 17) {
    const div = 10n ** BigInt(scale - 17);
    const negative = sum < 0n;
    let abs = negative ? -sum : sum;
    const rem = abs % div;
    abs = abs / div + (rem * 2n >= div ? 1n : 0n);
    sum = negative ? -abs : abs;
    scale = 17;
  }
  const negative = sum < 0n;
  let digits = (negative ? -sum : sum).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    const int = digits.slice(0, digits.length - scale);
    const frac = digits.slice(digits.length - scale).replace(/0+$/, '');
    digits = frac.length > 0 ? `${int}.${frac}` : int;
  }
  if (digits === '0') return '0';
  return negative ? `-${digits}` : digits;
}

// INCRBYFLOAT's arithmetic, bit for bit as Redis does it on x86-64 Linux: Redis parses both operands with
// strtold into an x87 80-bit long double (64-bit significand), adds them in that format (round to nearest,
// ties to even) and prints the sum with printf("%.17Lf") minus trailing zeros. This module emulates those
// three steps exactly with BigInt, so every replica (and every platform) computes the same string Redis does.
// Invariants: a finite value is (-1)^negative × significand × 2^exponent with significand < 2^64, already
// rounded to the format (subnormals included); parsing refuses what Redis's string2ld refuses.

/** A value of the x87 extended format: finite, or an infinity. */
export type LongDouble =
  | { readonly kind: 'finite'; readonly negative: boolean; readonly significand: bigint; readonly exponent: number }
  | { readonly kind: 'infinite'; readonly negative: boolean };

const SIGNIFICAND_BITS = 64;
const SIGNIFICAND_LIMIT = 1n << 64n;
const SIGNIFICAND_MIN_NORMAL = 1n << 63n;
/** Exponent of the least subnormal: 2^-16382 (the least normal) times 2^-63. */
const EXPONENT_MIN = -16382 - 63;
/** Every finite value is below 2^16384. */
const BINARY_EXPONENT_LIMIT = 16384;
/** Redis's MAX_LONG_DOUBLE_CHARS: string2ld refuses an input of this length or longer. */
const TEXT_BYTES_LIMIT = 5 * 1024;
/** Decimal exponents past which a non-zero input surely overflows or underflows to zero. */
const DECIMAL_EXPONENT_MAX = 4940;
const DECIMAL_EXPONENT_MIN = -4970;
const PRINTED_FRACTION_DIGITS = 17;

export const LONG_DOUBLE_ZERO: LongDouble = { kind: 'finite', negative: false, significand: 0n, exponent: 0 };

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/**
 * Rounds |value| = num / den × 2^exp2 (num ≥ 0, den > 0) to the format, ties to even. Overflow gives an
 * infinity; a value below half the least subnormal gives zero.
 */
function round(negative: boolean, num: bigint, den: bigint, exp2: number): LongDouble {
  if (num === 0n) return { kind: 'finite', negative, significand: 0n, exponent: 0 };
  let exponent = Math.max(EXPONENT_MIN, exp2 + bitLength(num) - bitLength(den) - SIGNIFICAND_BITS);
  for (;;) {
    const shift = exp2 - exponent;
    const n = shift >= 0 ? num << BigInt(shift) : num;
    const d = shift >= 0 ? den : den << BigInt(-shift);
    let q = n / d;
    if (q >= SIGNIFICAND_LIMIT) {
      exponent++;
      continue;
    }
    if (q < SIGNIFICAND_MIN_NORMAL && exponent > EXPONENT_MIN) {
      exponent--;
      continue;
    }
    const twiceRemainder = 2n * (n - q * d);
    if (twiceRemainder > d || (twiceRemainder === d && (q & 1n) === 1n)) q++;
    if (q === SIGNIFICAND_LIMIT) {
      q = SIGNIFICAND_MIN_NORMAL;
      exponent++;
    }
    if (q !== 0n && exponent + bitLength(q) > BINARY_EXPONENT_LIMIT) return { kind: 'infinite', negative };
    return { kind: 'finite', negative, significand: q, exponent };
  }
}

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);
const DECIMAL = /^(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const HEX = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
const INFINITY = /^(?:inf|infinity)$/i;

/** An exponent written with many digits, clamped (it only matters whether it is far out of range). */
function exponentOf(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number(text);
  return Math.max(-1e9, Math.min(1e9, n));
}

/**
 * Parses `buf` as Redis's string2ld does: strtold must take the whole input; a leading space, NaN, an
 * overflow and a non-zero value that underflows to zero are refused. Accepts decimal and hex (0x1.8p3)
 * forms and inf/infinity. Undefined when refused ("ERR value is not a valid float").
 */
export function parseLongDouble(buf: Buffer): LongDouble | undefined {
  if (buf.length === 0 || buf.length >= TEXT_BYTES_LIMIT || SPACE.has(buf[0]!)) return undefined;
  let text = buf.toString('latin1');
  let negative = false;
  if (text[0] === '+' || text[0] === '-') {
    negative = text[0] === '-';
    text = text.slice(1);
  }
  if (INFINITY.test(text)) return { kind: 'infinite', negative };
  const hex = HEX.exec(text);
  if (hex !== null) {
    const digits = (hex[1] ?? '') + (hex[2] ?? '');
    if (digits.length === 0) return undefined;
    const mantissa = BigInt('0x' + digits);
    if (mantissa === 0n) return { kind: 'finite', negative, significand: 0n, exponent: 0 };
    const exp2 = exponentOf(hex[3]) - 4 * (hex[2] ?? '').length;
    if (exp2 + bitLength(mantissa) > BINARY_EXPONENT_LIMIT + 1) return undefined;
    if (exp2 + bitLength(mantissa) < EXPONENT_MIN - 1) return undefined;
    return checked(round(negative, mantissa, 1n, exp2));
  }
  const dec = DECIMAL.exec(text);
  if (dec === null) return undefined;
  const intPart = dec[1] ?? '';
  const fracPart = dec[2] ?? '';
  if (intPart.length === 0 && fracPart.length === 0) return undefined;
  const all = intPart + fracPart;
  const significant = all.replace(/^0+/, '');
  if (significant.length === 0) return { kind: 'finite', negative, significand: 0n, exponent: 0 };
  // value = 0.<significant> × 10^magnitude
  const magnitude = exponentOf(dec[3]) + intPart.length - (all.length - significant.length);
  if (magnitude > DECIMAL_EXPONENT_MAX || magnitude < DECIMAL_EXPONENT_MIN) return undefined;
  const scale = magnitude - significant.length;
  const digits = BigInt(significant);
  const value = scale >= 0 ? round(negative, digits * 10n ** BigInt(scale), 1n, 0) : round(negative, digits, 10n ** BigInt(-scale), 0);
  return checked(value);
}

/** strtold's ERANGE cases that string2ld refuses: an overflow, or a non-zero input that became zero. */
function checked(v: LongDouble): LongDouble | undefined {
  if (v.kind === 'infinite') return undefined;
  return v.significand === 0n ? undefined : v;
}

/** a + b in the format (one correctly rounded x87 addition); an infinity when it overflows or either is one. */
export function addLongDoubles(a: LongDouble, b: LongDouble): LongDouble {
  if (a.kind === 'infinite' || b.kind === 'infinite') {
    // inf + -inf is NaN in the hardware; both end in Redis's "would produce NaN or Infinity".
    return { kind: 'infinite', negative: a.kind === 'infinite' ? a.negative : b.negative };
  }
  if (a.significand === 0n) return b.significand === 0n ? { ...a, negative: a.negative && b.negative } : b;
  if (b.significand === 0n) return a;
  const exponent = Math.min(a.exponent, b.exponent);
  const x = (a.negative ? -a.significand : a.significand) << BigInt(a.exponent - exponent);
  const y = (b.negative ? -b.significand : b.significand) << BigInt(b.exponent - exponent);
  const sum = x + y;
  // An exact zero sum is +0 when rounding to nearest.
  return round(sum < 0n, sum < 0n ? -sum : sum, 1n, exponent);
}

/** printf("%.17Lf") of a finite value, then Redis's trimming: trailing zeros, a bare '.', and "-0" → "0". */
export function formatLongDouble(v: Extract<LongDouble, { kind: 'finite' }>): string {
  const scaled = v.significand * 10n ** BigInt(PRINTED_FRACTION_DIGITS);
  let units: bigint;
  if (v.exponent >= 0) {
    units = scaled << BigInt(v.exponent);
  } else {
    const shift = BigInt(-v.exponent);
    units = scaled >> shift;
    const twiceRemainder = 2n * (scaled - (units << shift));
    const denominator = 1n << shift;
    if (twiceRemainder > denominator || (twiceRemainder === denominator && (units & 1n) === 1n)) units++;
  }
  const digits = units.toString().padStart(PRINTED_FRACTION_DIGITS + 1, '0');
  const whole = digits.slice(0, digits.length - PRINTED_FRACTION_DIGITS);
  const fraction = digits.slice(digits.length - PRINTED_FRACTION_DIGITS).replace(/0+$/, '');
  const text = (v.negative ? '-' : '') + whole + (fraction.length > 0 ? '.' + fraction : '');
  return text === '-0' ? '0' : text;
}

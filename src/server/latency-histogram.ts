// A latency histogram in log-linear buckets, for INFO latencystats and LATENCY HISTOGRAM. Values are
// recorded in nanoseconds: each power of two is split into SUB_BUCKETS linear buckets, so a percentile
// is reported within 1/SUB_BUCKETS (≈3%) of the true value, from 1 ns up to 2^MAX_EXPONENT ns (≈73
// minutes; longer values count in the top bucket). Recording is a few integer operations and one array
// increment, cheap enough for every command. Invariant: `total` equals the sum of all bucket counts.

const SUB_BUCKET_BITS = 5;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
const MAX_EXPONENT = 42;
const BUCKETS = (MAX_EXPONENT - SUB_BUCKET_BITS + 2) * SUB_BUCKETS;
const MAX_NANOS = 2 ** MAX_EXPONENT - 1;

/** The bucket of a value in nanoseconds (fractions dropped; negative counts as 0, past MAX_NANOS as MAX_NANOS). */
function bucketOf(nanos: number): number {
  if (nanos < 2 ** 31) {
    // The common case in integer operations only: this runs once per command.
    const n = nanos > 0 ? nanos | 0 : 0;
    if (n < SUB_BUCKETS) return n; // the first powers of two are exact
    const shift = 26 - Math.clz32(n); // exponent − SUB_BUCKET_BITS, exponent = 31 − clz32(n)
    return ((shift + 1) << SUB_BUCKET_BITS) + ((n >>> shift) - SUB_BUCKETS);
  }
  const n = Math.floor(Math.min(nanos, MAX_NANOS));
  const shift = 62 - Math.clz32(Math.floor(n / 2 ** 31)) - SUB_BUCKET_BITS;
  return (shift + 1) * SUB_BUCKETS + (Math.floor(n / 2 ** shift) - SUB_BUCKETS);
}

/** The largest value (ns) that falls in `bucket`. */
function bucketHighNanos(bucket: number): number {
  if (bucket < SUB_BUCKETS) return bucket;
  const shift = Math.floor(bucket / SUB_BUCKETS) - 1;
  const sub = bucket % SUB_BUCKETS;
  return (SUB_BUCKETS + sub + 1) * 2 ** shift - 1;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  total = 0;

  record(micros: number): void {
    this.counts[bucketOf(micros * 1000)]!++;
    this.total++;
  }

  /** The value (µs) at or below which `percent` of the recorded values lie; 0 when empty. */
  percentileMicros(percent: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((percent / 100) * this.total));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) return bucketHighNanos(bucket) / 1000;
    }
    return MAX_NANOS / 1000;
  }

  /**
   * Cumulative counts at power-of-two bounds in µs, as LATENCY HISTOGRAM reports them: [bound, count of
   * values certainly ≤ bound (their bucket lies wholly at or below it)] from 1 µs up to the first bound
   * that covers every value.
   */
  cumulativePowersOfTwoMicros(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    if (this.total === 0) return out;
    let seen = 0;
    let bucket = 0;
    for (let boundMicros = 1; ; boundMicros *= 2) {
      const boundNanos = boundMicros * 1000;
      while (bucket < BUCKETS && bucketHighNanos(bucket) <= boundNanos) seen += this.counts[bucket++]!;
      out.push([boundMicros, seen]);
      if (seen >= this.total || bucket >= BUCKETS) return out;
    }
  }
}

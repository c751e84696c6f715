// A small seeded PRNG (xoshiro128**, seeded through splitmix32) so the Raft core and the simulator are
// deterministic: the same seed yields the same sequence on every platform. Not for cryptography.

export interface Prng {
  /** A uniformly distributed 32-bit unsigned integer. */
  nextU32(): number;
  /** An integer in [0, bound). `bound` must be a positive integer ≤ 2^32. */
  nextInt(bound: number): number;
  /** A float in [0, 1). */
  nextFloat(): number;
}

export class Xoshiro128 implements Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const splitmix32 = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = splitmix32();
    this.s1 = splitmix32();
    this.s2 = splitmix32();
    this.s3 = splitmix32();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3 >>> 0, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    return result;
  }

  nextInt(bound: number): number {
    if (!(Number.isInteger(bound) && bound > 0 && bound <= 0x1_0000_0000)) {
      throw new RangeError(`nextInt bound must be an integer in (0, 2^32], got ${bound}`);
    }
    return Math.floor(this.nextFloat() * bound);
  }

  nextFloat(): number {
    return this.nextU32() / 0x1_0000_0000;
  }

  /** A new independent generator derived from this one (for per-node streams). */
  fork(): Xoshiro128 {
    return new Xoshiro128(this.nextU32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

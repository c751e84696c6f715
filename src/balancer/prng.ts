// A small seeded PRNG (sfc32, 128-bit state, period ≥ 2^32) so that balancer decisions are reproducible
// from a seed in tests and the simulator; nothing in src/balancer may call Math.random. `randomInt` is
// unbiased (rejection sampling, like Java's Random.nextInt(bound)).

export interface RandomSource {
  /** A uniformly distributed integer in [0, 2^32). */
  nextUint32(): number;
}

export function createPrng(seed: number): RandomSource {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return t >>> 0;
  };
  // Mix the seed into all of the state before the first output.
  for (let i = 0; i < 15; i++) next();
  return { nextUint32: next };
}

/** A uniformly distributed integer in [0, bound); bound is an integer in [1, 2^32]. */
export function randomInt(source: RandomSource, bound: number): number {
  if (!Number.isInteger(bound) || bound < 1 || bound > 2 ** 32) throw new RangeError(`bad bound ${bound}`);
  const limit = 2 ** 32 - (2 ** 32 % bound);
  for (;;) {
    const r = source.nextUint32();
    if (r < limit) return r % bound;
  }
}

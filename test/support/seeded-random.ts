// Deterministic pseudo-random numbers and bytes for tests, so a failure names a reproducible sequence.

/** A linear congruential generator of numbers in [0, 1) from a seed. */
export function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** `length` bytes drawn from `random`. */
export function randomBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (random() * 256) | 0;
  return bytes;
}

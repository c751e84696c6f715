// The original notes' FNV1_32 variant ("getHash"), reproducing Java int arithmetic exactly: 32-bit
// wrap-around multiply (Math.imul), `<<` and arithmetic `>>` on int32, UTF-16 code units as Java's charAt,
// and Java's Math.abs, which leaves Integer.MIN_VALUE negative. Vectors from the Java original: test/balancer/fixtures.

const FNV_PRIME = 16777619;
/** `(int) 2166136261L` in Java. */
const FNV_OFFSET_BASIS_INT = 2166136261 | 0;

/** Java's Math.abs(int): −2^31 has no positive int32 counterpart and stays −2^31. */
export function javaAbsInt(value: number): number {
  const v = value | 0;
  return v < 0 ? (-v | 0) : v;
}

/** Returns the same int as the Java getHash(str): in [0, 2^31 − 1], or −2^31 in one corner case. */
export function fnv1Hash32(str: string): number {
  let hash = FNV_OFFSET_BASIS_INT;
  for (let i = 0; i < str.length; i++) hash = Math.imul(hash ^ str.charCodeAt(i), FNV_PRIME);
  hash = (hash + (hash << 13)) | 0;
  hash ^= hash >> 7;
  hash = (hash + (hash << 3)) | 0;
  hash ^= hash >> 17;
  hash = (hash + (hash << 5)) | 0;
  return hash < 0 ? javaAbsInt(hash) : hash;
}

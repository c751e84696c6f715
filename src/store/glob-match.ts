// Redis glob matching (stringmatchlen): `*`, `?`, `[abc]`, `[^a-z]`, and `\` escapes, over bytes.
// Iterative with backtracking on the last `*` only, so a hostile pattern cannot blow up exponentially.

export function globMatch(pattern: Buffer, subject: Buffer, nocase = false): boolean {
  let p = 0;
  let s = 0;
  let starP = -1;
  let starS = -1;
  const fold = (c: number): number => (nocase && c >= 65 && c <= 90 ? c + 32 : c);
  while (s < subject.length) {
    if (p < pattern.length) {
      const pc = pattern[p]!;
      if (pc === 42 /* * */) {
        while (pattern[p + 1] === 42) p++;
        starP = p++;
        starS = s;
        continue;
      }
      if (pc === 63 /* ? */) {
        p++;
        s++;
        continue;
      }
      if (pc === 91 /* [ */) {
        const r = matchClass(pattern, p, subject[s]!, fold);
        if (r.matched) {
          p = r.next;
          s++;
          continue;
        }
      } else {
        let lit = pc;
        let next = p + 1;
        if (pc === 92 /* \ */ && p + 1 < pattern.length) {
          lit = pattern[p + 1]!;
          next = p + 2;
        }
        if (fold(lit) === fold(subject[s]!)) {
          p = next;
          s++;
          continue;
        }
      }
    }
    if (starP < 0) return false;
    p = starP + 1;
    s = ++starS;
  }
  while (pattern[p] === 42) p++;
  return p === pattern.length;
}

function matchClass(pattern: Buffer, start: number, c: number, fold: (c: number) => number): { matched: boolean; next: number } {
  let p = start + 1;
  let not = false;
  if (pattern[p] === 94 /* ^ */) {
    not = true;
    p++;
  }
  let match = false;
  for (;;) {
    const pc = pattern[p];
    if (pc === undefined) {
      p--; // unterminated class: Redis treats the end as closing it
      break;
    }
    if (pc === 93 /* ] */) break;
    if (pc === 92 && p + 1 < pattern.length) {
      p++;
      if (pattern[p] === c) match = true;
    } else if (pattern[p + 1] === 45 /* - */ && p + 2 < pattern.length && pattern[p + 2] !== 93) {
      let lo = fold(pc);
      let hi = fold(pattern[p + 2]!);
      if (lo > hi) [lo, hi] = [hi, lo];
      const fc = fold(c);
      if (fc >= lo && fc <= hi) match = true;
      p += 2;
    } else if (fold(pc) === fold(c)) {
      match = true;
    }
    p++;
  }
  return { matched: not ? !match : match, next: p + 1 };
}

/** The literal bytes a pattern's matches must start with (up to the first special character). */
export function globLiteralPrefix(pattern: Buffer): Buffer {
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === 42 || c === 63 || c === 91 || c === 92) break;
    i++;
  }
  return pattern.subarray(0, i);
}

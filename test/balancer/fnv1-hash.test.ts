// The FNV1_32 variant must equal the Java original bit for bit: vectors produced by running the notes'
// getHash under javac/java (fixtures/Fnv1Hash.java → fixtures/fnv1-hash-vectors.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fnv1Hash32, javaAbsInt } from '../../src/balancer/index.js';
import { repoRoot } from '../support/cli.js';

const vectors = JSON.parse(readFileSync(`${repoRoot}test/balancer/fixtures/fnv1-hash-vectors.json`, 'utf8')) as Array<[string, number]>;

test('fnv1Hash32 matches the Java getHash on every fixture vector', () => {
  assert.ok(vectors.length > 200);
  for (const [input, expected] of vectors) assert.equal(fnv1Hash32(input), expected, `hash of ${JSON.stringify(input)}`);
});

test('fnv1Hash32 works on UTF-16 code units like Java charAt (surrogate pairs hash as two units)', () => {
  const emoji = vectors.find(([s]) => s === '\u{1F600}');
  assert.ok(emoji !== undefined);
  assert.equal(fnv1Hash32('\ud83d\ude00'), emoji[1]);
});

test('Java Math.abs leaves Integer.MIN_VALUE negative; everything else becomes non-negative', () => {
  assert.equal(javaAbsInt(-2147483648), -2147483648);
  assert.equal(javaAbsInt(-2147483647), 2147483647);
  assert.equal(javaAbsInt(-5), 5);
  assert.equal(javaAbsInt(7), 7);
});

test('fnv1Hash32 always returns an int32', () => {
  for (let i = 0; i < 10_000; i++) {
    const h = fnv1Hash32(`probe-${i}`);
    assert.equal(h | 0, h);
  }
});

// The varint codec: Go's binary.PutUvarint / PutVarint byte for byte, at every width, checked against
// hand-computed vectors and against the independent reference encoder in test/support.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getUvarint, getVarint, putUvarint, putVarint, uvarintLength, varintLength, zigzag, unzigzag, VARINT_BYTES_MAX } from '../../src/codec/varint.js';
import { refUvarint, refVarint } from '../support/reference-format.js';

function encodeUvarint(value: number): Buffer {
  const target = Buffer.alloc(VARINT_BYTES_MAX);
  return target.subarray(0, putUvarint(target, 0, value));
}

function encodeVarint(value: number): Buffer {
  const target = Buffer.alloc(VARINT_BYTES_MAX);
  return target.subarray(0, putVarint(target, 0, value));
}

test('PutVarint writes the zigzag vectors Go writes', () => {
  const vectors: Array<[number, number[]]> = [
    [0, [0x00]],
    [1, [0x02]],
    [-1, [0x01]],
    [3, [0x06]],
    [-3, [0x05]],
    [63, [0x7e]],
    [-64, [0x7f]],
    [64, [0x80, 0x01]],
    [-65, [0x81, 0x01]],
    [300, [0xd8, 0x04]],
    [2 ** 31 - 1, [0xfe, 0xff, 0xff, 0xff, 0x0f]],
    [-(2 ** 31), [0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];
  for (const [value, expected] of vectors) {
    assert.deepEqual([...encodeVarint(value)], expected, `PutVarint(${value})`);
    assert.equal(varintLength(value), expected.length, `varintLength(${value})`);
    assert.deepEqual(getVarint(Buffer.from(expected), 0), { value, length: expected.length }, `Varint of ${expected}`);
  }
});

test('PutUvarint writes the LEB128 vectors Go writes', () => {
  const vectors: Array<[number, number[]]> = [
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [300, [0xac, 0x02]],
    [16383, [0xff, 0x7f]],
    [16384, [0x80, 0x80, 0x01]],
    [2 ** 32, [0x80, 0x80, 0x80, 0x80, 0x10]],
    [Number.MAX_SAFE_INTEGER, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];
  for (const [value, expected] of vectors) {
    assert.deepEqual([...encodeUvarint(value)], expected, `PutUvarint(${value})`);
    assert.deepEqual(getUvarint(Buffer.from(expected), 0), { value, length: expected.length });
  }
});

test('every encodable width: 2^(7k) − 1 takes k bytes and 2^(7k) takes k + 1', () => {
  for (let k = 1; k * 7 <= 53; k++) {
    const below = 2 ** (7 * k) - 1;
    const at = 2 ** (7 * k);
    assert.equal(uvarintLength(below), k);
    assert.equal(encodeUvarint(below).length, k);
    assert.equal(uvarintLength(at), k + 1);
    assert.deepEqual(encodeUvarint(at), refUvarint(at));
    assert.deepEqual(getUvarint(encodeUvarint(at), 0), { value: at, length: k + 1 });
    assert.deepEqual(getUvarint(encodeUvarint(below), 0), { value: below, length: k });
  }
});

test('9- and 10-byte varints decode when their value is a safe integer, and overflow otherwise', () => {
  // Go accepts non-minimal encodings: 1 padded with continuation groups, up to 10 bytes.
  for (let width = 2; width <= 10; width++) {
    const padded = Buffer.alloc(width, 0x80);
    padded[0] = 0x81;
    padded[width - 1] = 0x00;
    assert.deepEqual(getUvarint(padded, 0), { value: 1, length: width }, `width ${width}`);
  }
  // 2^56 (9 bytes) and 2^63 (10 bytes) are beyond JS safe integers: reported, never rounded.
  assert.equal(getUvarint(refUvarint(2n ** 56n), 0).length, -2);
  assert.equal(getUvarint(refUvarint(2n ** 63n), 0).length, -2);
  assert.equal(getUvarint(refUvarint(2n ** 64n - 1n), 0).length, -2);
  // 11 bytes is never a varint.
  assert.equal(getUvarint(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), 0).length, -2);
});

test('a varint cut short by the end of input reports length −1', () => {
  assert.equal(getUvarint(Buffer.from([0x80]), 0).length, -1);
  assert.equal(getUvarint(Buffer.from([0xff, 0xff]), 0).length, -1);
  assert.equal(getUvarint(Buffer.alloc(0), 0).length, -1);
  // The end bound is respected even when the buffer goes on.
  assert.equal(getVarint(Buffer.from([0x80, 0x01]), 0, 1).length, -1);
});

test('zigzag maps n ≥ 0 to 2n and n < 0 to −2n − 1, and unzigzag inverts it', () => {
  assert.equal(zigzag(0), 0);
  assert.equal(zigzag(-1), 1);
  assert.equal(zigzag(1), 2);
  assert.equal(zigzag(-(2 ** 52)), 2 ** 53 - 1);
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 52), max: 2 ** 52 - 1 }), (n) => {
      assert.equal(unzigzag(zigzag(n)), n);
    }),
  );
});

test('varints equal the independent reference encoder and round-trip, across the safe range', () => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 52), max: 2 ** 52 - 1 }), fc.integer({ min: 0, max: 3 }), (n, pad) => {
      const encoded = encodeVarint(n);
      assert.deepEqual(encoded, refVarint(n));
      const padded = Buffer.concat([Buffer.alloc(pad, 0xee), encoded, Buffer.from([0xaa])]);
      assert.deepEqual(getVarint(padded, pad), { value: n, length: encoded.length });
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.maxSafeNat(), (n) => {
      assert.deepEqual(encodeUvarint(n), refUvarint(n));
      assert.deepEqual(getUvarint(encodeUvarint(n), 0), { value: n, length: uvarintLength(n) });
    }),
    { numRuns: 2000 },
  );
});

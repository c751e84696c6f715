// The record codec: byte layout and CRC as DESIGN.md §1 fixes them, header decoding of every kind of
// bad input, seq-prefixed disk keys and hint positions — checked against hand-computed bytes and the
// independent reference codec in test/support.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeHeader,
  decodePosition,
  diskKeyLength,
  encodePosition,
  encodeRecord,
  headerLength,
  recordCrcMatches,
  recordLength,
  RecordType,
  splitDiskKey,
  BATCH_FINISHED_KEY,
  HEADER_BYTES_MAX,
  HEADER_BYTES_MIN,
  HeaderStatus,
  newHeaderFields,
  readHeaderInto,
  readPositionInto,
} from '../../src/codec/record.js';
import { crc32Range } from '../../src/codec/crc32.js';
import { refCrc32, refDecodeFile, refDecodePosition, refDiskKey, refEncodePosition, refEncodeRecord } from '../support/reference-format.js';

test('a put of "a" → "b" encodes to the exact bytes of the reference design', () => {
  // body: type 0, varint(2) = 0x04 (seq byte + "a"), varint(1) = 0x02, uvarint(seq 0), 'a', 'b';
  // crc32(00 04 02 00 61 62) = 0x3111957a, stored little-endian.
  const expected = Buffer.from([0x7a, 0x95, 0x11, 0x31, 0x00, 0x04, 0x02, 0x00, 0x61, 0x62]);
  assert.deepEqual(encodeRecord(RecordType.Normal, 0, Buffer.from('a'), Buffer.from('b')), expected);
});

test('a tombstone and a batch finish record encode to their exact bytes', () => {
  // tombstone of "k" (seq 0): crc32(01 04 00 00 6b) = 0xae40f12a
  assert.deepEqual(
    encodeRecord(RecordType.Deleted, 0, Buffer.from('k'), Buffer.alloc(0)),
    Buffer.from([0x2a, 0xf1, 0x40, 0xae, 0x01, 0x04, 0x00, 0x00, 0x6b]),
  );
  // finish record of batch 1: key 01 "txn-fin" (8 bytes → 0x10); crc32 = 0x018c6723
  assert.deepEqual(
    encodeRecord(RecordType.BatchFinished, 1, BATCH_FINISHED_KEY, Buffer.alloc(0)),
    Buffer.concat([Buffer.from([0x23, 0x67, 0x8c, 0x01, 0x02, 0x10, 0x00, 0x01]), Buffer.from('txn-fin')]),
  );
});

test('a raw-key record (merge-finished) carries no seq prefix', () => {
  // crc32(00 1c 02 "merge.finished" "5") = 0x6fb884d4
  const record = encodeRecord(RecordType.Normal, undefined, Buffer.from('merge.finished'), Buffer.from('5'));
  assert.deepEqual(record, Buffer.concat([Buffer.from([0xd4, 0x84, 0xb8, 0x6f, 0x00, 0x1c, 0x02]), Buffer.from('merge.finished5')]));
});

const keyArb = fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u));
const valueArb = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 8000, maxLength: 9000 })).map((u) => Buffer.from(u));
const seqArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 200 }), fc.maxSafeNat());

test('records equal the reference encoder byte for byte and decode back to their fields', () => {
  fc.assert(
    fc.property(fc.constantFrom(0, 1, 2), seqArb, keyArb, valueArb, (type, seq, key, value) => {
      const encoded = encodeRecord(type as 0 | 1 | 2, seq, key, value);
      assert.deepEqual(encoded, refEncodeRecord(type, refDiskKey(seq, key), value));
      assert.equal(encoded.length, recordLength(diskKeyLength(seq, key.length), value.length));
      const header = decodeHeader(encoded, 0, encoded.length);
      assert.equal(header.kind, 'header');
      if (header.kind !== 'header') return;
      assert.equal(header.type, type);
      assert.equal(header.keyLength, diskKeyLength(seq, key.length));
      assert.equal(header.valueLength, value.length);
      assert.equal(header.headerLength, headerLength(header.keyLength, value.length));
      assert.ok(recordCrcMatches(encoded, 0, encoded.length, header.crc));
      const diskKey = encoded.subarray(header.headerLength, header.headerLength + header.keyLength);
      const split = splitDiskKey(diskKey);
      assert.deepEqual(split, { seq, userKey: key });
      const decoded = refDecodeFile(encoded);
      assert.equal(decoded.stop, 'eof');
      assert.deepEqual(decoded.records[0]?.value, value);
    }),
    { numRuns: 300 },
  );
});

test('the header is 7 to 15 bytes', () => {
  assert.equal(headerLength(0, 0), HEADER_BYTES_MIN);
  assert.equal(headerLength(2 ** 31 - 1, 2 ** 31 - 1), HEADER_BYTES_MAX);
  assert.equal(headerLength(63, 63), 7);
  assert.equal(headerLength(64, 0), 8);
});

test('a crc over every byte after the crc field catches any flipped byte', () => {
  const record = encodeRecord(RecordType.Normal, 7, Buffer.from('key'), Buffer.from('value'));
  const crc = record.readUInt32LE(0);
  for (let i = 4; i < record.length; i++) {
    const damaged = Buffer.from(record);
    damaged[i]! ^= 0x01;
    assert.equal(recordCrcMatches(damaged, 0, damaged.length, crc), false, `flip at ${i}`);
  }
});

test('decodeHeader: all-zero bytes mark the end of data, also when fewer than a header remain', () => {
  assert.deepEqual(decodeHeader(Buffer.alloc(20), 0, 20), { kind: 'end' });
  assert.deepEqual(decodeHeader(Buffer.alloc(3), 0, 3), { kind: 'end' });
  // A zero crc with non-zero sizes is an ordinary header (the crc happens to be 0 — or is damage).
  const header = decodeHeader(Buffer.from([0, 0, 0, 0, 0, 0x02, 0x00, 0x00]), 0, 8);
  assert.equal(header.kind, 'header');
});

test('decodeHeader: input that ends inside the header is truncated, never a record', () => {
  const record = encodeRecord(RecordType.Normal, 0, Buffer.alloc(100, 1), Buffer.alloc(100_000, 2));
  const full = headerLength(101, 100_000);
  for (let end = 0; end < full; end++) {
    const result = decodeHeader(record, 0, end);
    assert.equal(result.kind, 'truncated', `end ${end}`);
  }
  assert.equal(decodeHeader(record, 0, full).kind, 'header');
  assert.deepEqual(decodeHeader(Buffer.alloc(0), 0, 0), { kind: 'truncated' });
});

test('decodeHeader: negative sizes, an unknown type and overflowing varints are invalid', () => {
  const withSizes = (type: number, keySize: Buffer, valueSize: Buffer): Buffer =>
    Buffer.concat([Buffer.from([1, 2, 3, 4, type]), keySize, valueSize, Buffer.alloc(16)]);
  assert.equal(decodeHeader(withSizes(0, Buffer.from([0x01]), Buffer.from([0x00])), 0, 23).kind, 'invalid'); // key size −1
  assert.equal(decodeHeader(withSizes(0, Buffer.from([0x02]), Buffer.from([0x03])), 0, 23).kind, 'invalid'); // value size −2
  assert.equal(decodeHeader(withSizes(3, Buffer.from([0x02]), Buffer.from([0x02])), 0, 23).kind, 'invalid'); // type 3
  assert.equal(decodeHeader(withSizes(0xff, Buffer.from([0x02]), Buffer.from([0x02])), 0, 23).kind, 'invalid');
  // 2^31 does not fit the format's signed 32-bit size.
  assert.equal(decodeHeader(withSizes(0, Buffer.from([0x80, 0x80, 0x80, 0x80, 0x10]), Buffer.from([0x00])), 0, 27).kind, 'invalid');
  const overflow = Buffer.concat([Buffer.from([1, 2, 3, 4, 0]), Buffer.alloc(11, 0xff), Buffer.from([0x00, 0x00])]);
  assert.equal(decodeHeader(overflow, 0, overflow.length).kind, 'invalid');
});

test('splitDiskKey rejects a key without a complete seq prefix', () => {
  assert.equal(splitDiskKey(Buffer.alloc(0)), undefined);
  assert.equal(splitDiskKey(Buffer.from([0x80])), undefined);
  assert.deepEqual(splitDiskKey(Buffer.from([0x80, 0x01, 0x41])), { seq: 128, userKey: Buffer.from('A') });
  assert.deepEqual(splitDiskKey(Buffer.from([0x00])), { seq: 0, userKey: Buffer.alloc(0) });
});

test('positions encode as three zigzag varints, the same bytes the reference writes', () => {
  assert.deepEqual(encodePosition({ fileId: 1, offset: 0, size: 10 }), Buffer.from([0x02, 0x00, 0x14]));
  assert.deepEqual(encodePosition({ fileId: 3, offset: 64, size: 70_000 }), Buffer.from([0x06, 0x80, 0x01, 0xe0, 0xc5, 0x08]));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 7, max: 2 ** 31 - 1 }), (fileId, offset, size) => {
      const position = { fileId, offset, size };
      const encoded = encodePosition(position);
      assert.deepEqual(encoded, refEncodePosition(position));
      assert.deepEqual(decodePosition(encoded), position);
      assert.deepEqual(refDecodePosition(encoded), position);
    }),
    { numRuns: 500 },
  );
});

test('decodePosition rejects truncated, trailing, negative and impossible positions', () => {
  assert.equal(decodePosition(Buffer.alloc(0)), undefined);
  assert.equal(decodePosition(Buffer.from([0x02, 0x00])), undefined);
  assert.equal(decodePosition(Buffer.from([0x02, 0x00, 0x14, 0x00])), undefined);
  assert.equal(decodePosition(Buffer.from([0x01, 0x00, 0x14])), undefined); // fileId −1
  assert.equal(decodePosition(Buffer.from([0x02, 0x01, 0x14])), undefined); // offset −1
  assert.equal(decodePosition(Buffer.from([0x02, 0x00, 0x0c])), undefined); // size 6 < smallest record
  assert.equal(decodePosition(Buffer.from([0x02, 0x00, 0x80])), undefined); // size varint cut short
});

test('crc32Range equals the independent CRC-32 at every length around the table/native switch and any offset', () => {
  const bytes = Buffer.from(Array.from({ length: 1200 }, (_, i) => (i * 131 + 7) & 0xff));
  for (let length = 0; length <= 1100; length++) {
    const start = length % 9;
    assert.equal(crc32Range(bytes, start, start + length), refCrc32(bytes.subarray(start, start + length)), `length ${length}`);
  }
  assert.equal(crc32Range(Buffer.from('123456789'), 0, 9), 0xcbf43926); // the standard check value
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(16), (data, pad) => {
      const padded = Buffer.concat([Buffer.alloc(pad, 0xa5), data, Buffer.alloc(3, 0x5a)]);
      assert.equal(crc32Range(padded, pad, pad + data.length), refCrc32(data));
    }),
    { numRuns: 300 },
  );
});

test('readHeaderInto reuses its output object correctly across valid, invalid and truncated headers', () => {
  const out = newHeaderFields();
  const a = encodeRecord(RecordType.Normal, 0, Buffer.alloc(200, 1), Buffer.alloc(70_000, 2));
  const b = encodeRecord(RecordType.Deleted, 3, Buffer.from('k'), Buffer.alloc(0));
  const bad = Buffer.from([1, 2, 3, 4, 9, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(readHeaderInto(a, 0, a.length, out), HeaderStatus.Ok);
  assert.deepEqual([out.type, out.keyLength, out.valueLength, out.headerLength], [0, 201, 70_000, 4 + 1 + 2 + 3]);
  assert.equal(readHeaderInto(bad, 0, bad.length, out), HeaderStatus.Invalid);
  assert.match(out.reason, /unknown record type 9/);
  assert.equal(readHeaderInto(a, 0, 8, out), HeaderStatus.Truncated);
  assert.equal(readHeaderInto(b, 0, b.length, out), HeaderStatus.Ok);
  assert.deepEqual([out.type, out.keyLength, out.valueLength, out.headerLength, out.crc], [1, 2, 0, 7, b.readUInt32LE(0)]);
  assert.equal(readHeaderInto(Buffer.alloc(15), 0, 15, out), HeaderStatus.End);
});

test('readPositionInto agrees with decodePosition, reusing its output and scratch', () => {
  const out = { fileId: -1, offset: -1, size: -1 };
  const scratch = { value: 0, length: 0 };
  fc.assert(
    fc.property(
      fc.oneof(
        fc.record({ fileId: fc.nat(2 ** 32 - 1), offset: fc.nat(2 ** 32 - 1), size: fc.integer({ min: 7, max: 2 ** 31 - 1 }) }).map((p) => encodePosition(p)),
        fc.uint8Array({ maxLength: 12 }).map((u) => Buffer.from(u)),
      ),
      fc.nat(4),
      (value, pad) => {
        const framed = Buffer.concat([Buffer.alloc(pad, 0x80), value, Buffer.alloc(2, 0x01)]);
        const expected = decodePosition(value);
        const ok = readPositionInto(framed, pad, pad + value.length, out, scratch);
        assert.equal(ok, expected !== undefined);
        if (expected !== undefined) assert.deepEqual({ ...out }, expected);
      },
    ),
    { numRuns: 1000 },
  );
});

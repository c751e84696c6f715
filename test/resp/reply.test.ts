// Reply encoding in RESP2 and RESP3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeReply, ReplyError, ReplyMap, NIL_ARRAY, ReplyWriter } from '../../src/resp/index.js';

const enc = (r: Parameters<typeof encodeReply>[0], p: 2 | 3 = 2) => encodeReply(r, p).toString('latin1');

test('scalar replies encode as Redis sends them', () => {
  assert.equal(enc('OK'), '+OK\r\n');
  assert.equal(enc(null), '$-1\r\n');
  assert.equal(enc(null, 3), '_\r\n');
  assert.equal(enc(42), ':42\r\n');
  assert.equal(enc(-9223372036854775808n), ':-9223372036854775808\r\n');
  assert.equal(enc(Buffer.from('a\r\nb')), '$4\r\na\r\nb\r\n');
  assert.equal(enc(new ReplyError('ERR bad\r\nthing')), '-ERR bad thing\r\n');
  assert.equal(enc(NIL_ARRAY), '*-1\r\n');
  assert.equal(enc(NIL_ARRAY, 3), '_\r\n');
});

test('maps are flat arrays in RESP2 and % maps in RESP3', () => {
  const m = new ReplyMap([[Buffer.from('a'), 1]]);
  assert.equal(enc(m), '*2\r\n$1\r\na\r\n:1\r\n');
  assert.equal(enc(m, 3), '%1\r\n$1\r\na\r\n:1\r\n');
  assert.equal(enc([1, [null, 'OK']]), '*2\r\n:1\r\n*2\r\n$-1\r\n+OK\r\n');
});

test('the writer hands out everything written, in order, across slab boundaries', () => {
  const w = new ReplyWriter();
  const expected: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    const v = Buffer.alloc(i * 13 % 40_000, i % 251);
    w.write(v, 2);
    expected.push(encodeReply(v));
  }
  const out = w.take();
  const got = out === undefined ? Buffer.alloc(0) : Buffer.isBuffer(out) ? out : Buffer.concat(out);
  assert.ok(got.equals(Buffer.concat(expected)));
  assert.equal(w.pendingBytes, 0);
});

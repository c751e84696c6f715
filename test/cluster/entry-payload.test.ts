// The Raft entry payload: origin, the proposer's APPEND/SETRANGE limit and the mutation round-trip; the
// limit is capped at the cluster value limit; v1 entries (no limit in them) still decode; bad bytes are a
// typed corruption error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLUSTER_VALUE_BYTES_MAX, decodePayload, encodePayload } from '../../src/cluster/entry-payload.js';
import { encodeMutation, type Mutation } from '../../src/store/index.js';
import { ErrorCode, isCaskError } from '../../src/util/errors.js';

const append: Mutation = { op: 'append', key: Buffer.from('k'), value: Buffer.from('tail') };
const origin = { node: 3, epoch: 77, request: 12345 };

test('an entry carries its origin, the limit its proposer had and the mutation', () => {
  const decoded = decodePayload(encodePayload(origin, 2048, append));
  assert.deepEqual(decoded.origin, origin);
  assert.equal(decoded.stringBytesMax, 2048);
  assert.deepEqual(decoded.mutation, append);
  // A proposer allowing more than the cluster can store proposes the cluster's limit.
  assert.equal(decodePayload(encodePayload(origin, 2 ** 31, append)).stringBytesMax, CLUSTER_VALUE_BYTES_MAX);
});

test('a v1 entry decodes, with the cluster value limit', () => {
  const body = encodeMutation(append);
  const v1 = Buffer.alloc(17 + body.length);
  v1[0] = 1;
  v1.writeUInt32LE(origin.node, 1);
  v1.writeUInt32LE(origin.epoch, 5);
  v1.writeDoubleLE(origin.request, 9);
  body.copy(v1, 17);
  const decoded = decodePayload(v1);
  assert.deepEqual(decoded.origin, origin);
  assert.equal(decoded.stringBytesMax, CLUSTER_VALUE_BYTES_MAX);
  assert.deepEqual(decoded.mutation, append);
});

test('a bad version or a short header is a corruption error', () => {
  const good = encodePayload(origin, 2048, append);
  const badVersion = Buffer.from(good);
  badVersion[0] = 9;
  for (const bad of [badVersion, good.subarray(0, 20), Buffer.from([2]), Buffer.from([1, 0, 0])]) {
    assert.throws(() => decodePayload(bad), (e: unknown) => isCaskError(e, ErrorCode.Corruption));
  }
});

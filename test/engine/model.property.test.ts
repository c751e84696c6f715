// The engine against a Map model (fast-check): random puts, deletes, write batches and merges of random binary
// keys and values, with random close/reopen and small data files, always read back exactly like the
// model; ordered iteration with every combination of prefix/bounds/reverse/limit equals the model's
// sorted view (keys compared as unsigned bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Db } from '../../src/engine/db.js';
import { SCAN_CHUNK_ENTRIES } from '../../src/index/key-index.js';
import type { IterateOptions, WriteOp } from '../../src/engine/types.js';
import { contentsOf, latin1, openDb, sortedModel, tempDir } from './helpers.js';
import { ensureMmapAddon } from '../support/native.js';

ensureMmapAddon();

// A small alphabet makes keys collide (overwrites, deletes of live keys) and exercises 0x00/0xff order.
const keyArb = fc.array(fc.constantFrom(0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xff), { minLength: 1, maxLength: 3 }).map((b) => Buffer.from(b));
const valueArb = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 500, maxLength: 2000 }) },
).map((u) => Buffer.from(u));

type Step =
  | { kind: 'put'; key: Buffer; value: Buffer }
  | { kind: 'delete'; key: Buffer }
  | { kind: 'batch'; ops: WriteOp[] }
  | { kind: 'reopen' }
  | { kind: 'merge' };

const opArb: fc.Arbitrary<WriteOp> = fc.oneof(
  fc.record({ type: fc.constant('put' as const), key: keyArb, value: valueArb }),
  fc.record({ type: fc.constant('delete' as const), key: keyArb }),
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('batch' as const), ops: fc.array(opArb, { minLength: 0, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'merge' as const }) },
);

function applyToModel(model: Map<string, Buffer>, op: WriteOp): void {
  if (op.type === 'put') model.set(latin1(op.key as Uint8Array), Buffer.from(op.value as Uint8Array));
  else model.delete(latin1(op.key as Uint8Array));
}

function assertMatches(db: Db, model: Map<string, Buffer>): void {
  assert.deepEqual(contentsOf(db), sortedModel(model));
  assert.equal(db.size, model.size);
  for (const [key, value] of model) assert.deepEqual(db.get(Buffer.from(key, 'latin1')), value);
}

test('random puts, deletes, batches and merges with close/reopen read back like a Map, with and without a value cache, memory-mapped reads, memory-mapped writes and zero-filled appends', async (t) => {
  const root = tempDir(t, 'runs');
  let run = 0;
  await fc.assert(
    // A 4 KiB value cache wraps every few writes and keeps only values up to 256 bytes; merges reuse
    // the file ids it has cached positions of.
    fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 60 }), fc.constantFrom(512, 4096, 1 << 20), fc.constantFrom(0, 4096, 1 << 20), fc.boolean(), fc.boolean(), fc.boolean(), async (steps, dataFileBytesMax, valueCacheBytes, mmapReads, mmapWrites, zeroFillAppends) => {
      const dir = join(root, String(run++));
      const model = new Map<string, Buffer>();
      let { db } = await openDb(dir, { dataFileBytesMax, valueCacheBytes, mmapReads, mmapWrites, zeroFillAppends });
      assert.equal(db.stat().mmapReads, mmapReads);
      assert.equal(db.stat().mmapWrites, mmapWrites);
      assert.equal(db.stat().zeroFillAppends, zeroFillAppends);
      try {
        for (const step of steps) {
          if (step.kind === 'reopen') {
            const before = db.stat();
            await db.close();
            ({ db } = await openDb(dir, { dataFileBytesMax, valueCacheBytes, mmapReads, mmapWrites, zeroFillAppends }));
            assertMatches(db, model);
            // Recovery recomputes the same accounting the write path kept.
            const after = db.stat();
            assert.deepEqual(
              [after.keys, after.diskBytes, after.reclaimableBytes, after.lastSeq, after.activeFileId],
              [before.keys, before.diskBytes, before.reclaimableBytes, before.lastSeq, before.activeFileId],
            );
            continue;
          }
          if (step.kind === 'merge') {
            await db.merge();
            assertMatches(db, model);
            continue;
          }
          if (step.kind === 'put') {
            await db.put(step.key, step.value);
            applyToModel(model, { type: 'put', key: step.key, value: step.value });
          } else if (step.kind === 'delete') {
            await db.delete(step.key);
            applyToModel(model, { type: 'delete', key: step.key });
          } else {
            await db.write(step.ops);
            for (const op of step.ops) applyToModel(model, op);
          }
          const probe = step.kind === 'batch' ? step.ops[0]?.key : step.key;
          if (probe !== undefined) assert.deepEqual(db.get(probe), model.get(latin1(probe as Uint8Array)));
        }
        assertMatches(db, model);
        await db.close();
        ({ db } = await openDb(dir, { dataFileBytesMax, mmapReads: !mmapReads, mmapWrites: !mmapWrites, zeroFillAppends: !zeroFillAppends }));
        assertMatches(db, model);
      } finally {
        await db.close();
      }
    }),
    { numRuns: 90 },
  );
});

/** The model's answer to an iterate query, from entries already sorted by unsigned bytes. */
function expectedRange(sorted: ReadonlyArray<[string, Buffer, Buffer]>, options: IterateOptions): Array<[string, Buffer]> {
  const b = (x: unknown): Buffer => Buffer.from(x as Uint8Array);
  const prefix = options.prefix === undefined ? undefined : b(options.prefix);
  let entries = sorted.filter(([, key]) => {
    if (prefix !== undefined && !(key.length >= prefix.length && key.subarray(0, prefix.length).equals(prefix))) return false;
    if (options.gt !== undefined && Buffer.compare(key, b(options.gt)) <= 0) return false;
    if (options.gte !== undefined && Buffer.compare(key, b(options.gte)) < 0) return false;
    if (options.lt !== undefined && Buffer.compare(key, b(options.lt)) >= 0) return false;
    if (options.lte !== undefined && Buffer.compare(key, b(options.lte)) > 0) return false;
    return true;
  });
  if (options.reverse === true) entries = entries.reverse();
  if (options.limit !== undefined) entries = entries.slice(0, options.limit);
  return entries.map(([key, , value]) => [key, value]);
}

const boundArb = fc.option(fc.array(fc.constantFrom(0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xff), { minLength: 0, maxLength: 3 }).map((b) => Buffer.from(b)), { nil: undefined });
const queryArb: fc.Arbitrary<IterateOptions> = fc
  .record({
    prefix: boundArb,
    gt: boundArb,
    gte: boundArb,
    lt: boundArb,
    lte: boundArb,
    reverse: fc.boolean(),
    limit: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
  })
  .map((q) => Object.fromEntries(Object.entries(q).filter(([, v]) => v !== undefined)) as IterateOptions);

test('ordered iteration with prefix, gt/gte/lt/lte, reverse and limit equals the sorted model', async (t) => {
  const dir = tempDir(t);
  const model = new Map<string, Buffer>();
  const { db } = await openDb(dir);
  try {
    // Every key of up to 3 bytes over the alphabet exists, plus a few with a 4th byte, so ranges are dense.
    const alphabet = [0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xff];
    const keys: Buffer[] = [];
    for (const a of alphabet) {
      keys.push(Buffer.from([a]));
      for (const b of alphabet) {
        keys.push(Buffer.from([a, b]));
        for (const c of alphabet) if ((a + b + c) % 3 !== 0) keys.push(Buffer.from([a, b, c]));
      }
    }
    keys.push(Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x00, 0x00, 0x00, 0x00]));
    for (const [i, key] of keys.entries()) {
      await db.put(key, `v${i}`);
      model.set(latin1(key), Buffer.from(`v${i}`));
    }
    // Also chunked iteration (more than one index scan chunk) must be seamless.
    assert.ok(model.size > 256, `${model.size} keys`);
    const sorted = sortedModel(model).map(([key, value]) => [key, Buffer.from(key, 'latin1'), value] as [string, Buffer, Buffer]);
    fc.assert(
      fc.property(queryArb, (query) => {
        const expected = expectedRange(sorted, query);
        const got = [...db.iterate(query)].map(([k, v]) => [latin1(k), v] as [string, Buffer]);
        assert.deepEqual(got, expected);
        assert.deepEqual([...db.keys(query)].map(latin1), expected.map(([k]) => k));
      }),
      { numRuns: 1000 },
    );
    // An empty prefix is no restriction; a prefix of 0xff bytes has no successor and runs to the end.
    assert.equal([...db.keys({ prefix: Buffer.alloc(0) })].length, model.size);
    const allFf = [...db.keys({ prefix: Buffer.from([0xff, 0xff]) })].map((k) => k.toString('hex'));
    assert.deepEqual(allFf, expectedRange(sorted, { prefix: Buffer.from([0xff, 0xff]) }).map(([k]) => Buffer.from(k, 'latin1').toString('hex')));
    assert.equal(allFf[allFf.length - 1], 'ffffffff');
    assert.deepEqual([...db.keys({ prefix: Buffer.from([0xff, 0xff]), reverse: true, limit: 1 })].map((k) => k.toString('hex')), ['ffffffff']);
  } finally {
    await db.close();
  }
});

test('iteration tolerates writes between steps: ordered, no duplicates, never goes back', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir);
  try {
    for (let i = 0; i < 1000; i++) await db.put(`k${String(i).padStart(4, '0')}`, 'v');
    const seen: string[] = [];
    for (const key of db.keys()) {
      seen.push(key.toString());
      if (seen.length % 100 === 0) {
        await db.delete(`k${String(seen.length + 500).padStart(4, '0')}`);
        await db.put(`k${String(seen.length + 600).padStart(4, '0')}a`, 'inserted ahead');
        await db.put('k0001a', 'inserted behind');
      }
    }
    assert.equal(new Set(seen).size, seen.length, 'no key twice');
    assert.deepEqual(seen, [...seen].sort(), 'strictly ascending');
    assert.ok(!seen.includes('k0001a'), 'never goes back before the last key returned');
    // Keys that stayed live throughout are all seen.
    for (let i = 0; i < 500; i++) assert.ok(seen.includes(`k${String(i).padStart(4, '0')}`));
    // A delete and an insert made more than one scan chunk ahead of the cursor are reflected.
    assert.ok(SCAN_CHUNK_ENTRIES <= 400);
    assert.ok(!seen.includes('k0600'), 'a key deleted far ahead is not seen');
    assert.ok(seen.includes('k0700a'), 'a key inserted far ahead is seen');
  } finally {
    await db.close();
  }
});

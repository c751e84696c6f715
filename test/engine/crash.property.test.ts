// Crash simulation (fast-check): random puts, deletes and batches run with sync 'always'; the bytes of
// the data files are then cut at every offset of the tail (and at op boundaries and random offsets
// elsewhere), as a crash at that moment would leave them. Open must never throw for such a torn tail,
// and must yield exactly the model after the last acknowledged operation whose bytes all survived —
// a prefix of the acknowledged operations, never a partial batch. Runs append with pwrite, with mmapWrites, or
// with zeroFillAppends (the default under 'always'): the latter two leave a zero-filled reservation past the
// active file's data, and the crash image keeps it (the bytes past the cut are zeros up to the file's length
// on disk, as fallocate or the zero fill left them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { DirLock } from '../../src/io/file-system.js';
import type { WriteOp } from '../../src/engine/types.js';
import { FaultyFileSystem } from '../support/faulty-file-system.js';
import { contentsOf, latin1, openDb, sortedModel, tempDir } from './helpers.js';

/** The real file system without the flock child: crash copies are private, and opens are many. */
class UnlockedFileSystem extends FaultyFileSystem {
  override lockDir(): Promise<DirLock> {
    return Promise.resolve({ release: () => Promise.resolve() });
  }
}

const keyArb = fc.array(fc.constantFrom(0x00, 0x61, 0x62, 0xff), { minLength: 1, maxLength: 2 }).map((b) => Buffer.from(b));
const valueArb = fc.oneof(
  { weight: 5, arbitrary: fc.uint8Array({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 200, maxLength: 600 }) },
).map((u) => Buffer.from(u));
const opArb: fc.Arbitrary<WriteOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ type: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('delete' as const), key: keyArb }) },
);
/** One acknowledged step: a single op, or a batch of several (written atomically); [] = close and reopen. */
const stepArb = fc.oneof(
  { weight: 6, arbitrary: opArb.map((op) => [op]) },
  { weight: 4, arbitrary: fc.array(opArb, { minLength: 2, maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constant([] as WriteOp[]) },
);

function dataFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.data')).sort();
}

function streamLength(dir: string): number {
  return dataFiles(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

test('a crash at any byte of the tail recovers the model after a prefix of the acknowledged operations', async (t) => {
  const root = tempDir(t, 'runs');
  const fileSystem = new UnlockedFileSystem(undefined, { skipSync: true });
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 14 }), fc.constantFrom(256, 1024, 1 << 20), fc.integer(), fc.constantFrom('pwrite', 'mapped', 'zero-filled'), async (steps, dataFileBytesMax, seed, appendMode) => {
      const mmapWrites = appendMode === 'mapped';
      const zeroFillAppends = appendMode === 'zero-filled';
      const reserving = mmapWrites || zeroFillAppends;
      const dir = join(root, `w${run}`);
      const crashDir = join(root, `c${run++}`);
      // Acknowledged states: models[j] after step j, lengths[j] the bytes on disk then. State −1 is empty.
      const models: Array<Map<string, Buffer>> = [new Map()];
      const lengths: number[] = [0];
      let { db } = await openDb(dir, { sync: 'always', dataFileBytesMax, mmapWrites, zeroFillAppends });
      assert.equal(db.stat().mmapWrites, mmapWrites);
      assert.equal(db.stat().zeroFillAppends, zeroFillAppends);
      let files: Array<{ name: string; bytes: Buffer; diskLength: number }> = [];
      let seqNo: Buffer | undefined;
      try {
        for (const ops of steps) {
          if (ops.length === 0) {
            await db.close();
            ({ db } = await openDb(dir, { sync: 'always', dataFileBytesMax, mmapWrites, zeroFillAppends }));
            continue;
          }
          await db.write(ops);
          const model = new Map(models[models.length - 1]);
          for (const op of ops) {
            if (op.type === 'put') model.set(latin1(op.key as Uint8Array), Buffer.from(op.value as Uint8Array));
            else model.delete(latin1(op.key as Uint8Array));
          }
          models.push(model);
          // The data bytes written so far; with a reservation the files on disk are longer.
          const dataLength = db.stat().diskBytes;
          if (!reserving) assert.equal(dataLength, streamLength(dir));
          lengths.push(dataLength);
        }
      } finally {
        // Copy the bytes as they are at the "crash", before close adds seq-no.
        files = dataFiles(dir).map((name) => {
          const bytes = readFileSync(join(dir, name));
          return { name, bytes, diskLength: bytes.length };
        });
        // Only the active (last) file has a reservation: its data is what the engine counts past the others.
        const last = files[files.length - 1];
        if (last !== undefined && lengths.length > 1) {
          const before = files.slice(0, -1).reduce((sum, f) => sum + f.bytes.length, 0);
          last.bytes = last.bytes.subarray(0, Math.max(0, lengths[lengths.length - 1]! - before));
        }
        seqNo = existsSync(join(dir, 'seq-no')) ? readFileSync(join(dir, 'seq-no')) : undefined;
        await db.close();
      }
      const stream = Buffer.concat(files.map((f) => f.bytes));
      const total = stream.length;
      assert.equal(total, lengths[lengths.length - 1]);

      const cuts = new Set<number>();
      for (let p = Math.max(0, total - 300); p <= total; p++) cuts.add(p);
      for (const length of lengths) for (const d of [-1, 0, 1]) if (length + d >= 0 && length + d <= total) cuts.add(length + d);
      let random = seed >>> 0;
      for (let i = 0; i < 15; i++) {
        random = (Math.imul(random, 1103515245) + 12345) >>> 0;
        cuts.add(random % (total + 1));
      }

      for (const cut of [...cuts].sort((a, b) => a - b)) {
        rmSync(crashDir, { recursive: true, force: true });
        mkdirSync(crashDir, { recursive: true });
        // seq-no (from an earlier close) only ever names a seq already used: it is safe at any cut.
        if (seqNo !== undefined) writeFileSync(join(crashDir, 'seq-no'), seqNo);
        let start = 0;
        for (const file of files) {
          // A file exists once the writer created it (rotation creates the next file before writing).
          if (start > cut) break;
          const kept = file.bytes.subarray(0, Math.min(file.bytes.length, cut - start));
          writeFileSync(join(crashDir, file.name), kept.length < file.diskLength && reserving ? Buffer.concat([kept, Buffer.alloc(file.diskLength - kept.length)]) : kept);
          start += file.bytes.length;
        }
        // With the zero-filled reservation, lost bytes that were zeros anyway are not lost: the image is the same
        // as one cut after them, so that is the cut the acknowledged state follows from.
        let effectiveCut = cut;
        if (reserving) while (effectiveCut < total && stream[effectiveCut] === 0) effectiveCut++;
        let acknowledged = 0;
        for (let j = 0; j < lengths.length; j++) if (lengths[j]! <= effectiveCut) acknowledged = j;
        const opened = await openDb(crashDir, { fileSystem, dataFileBytesMax });
        try {
          assert.deepEqual(contentsOf(opened.db), sortedModel(models[acknowledged]!), `cut at ${cut} of ${total}: expected the state after step ${acknowledged}`);
        } finally {
          await opened.db.close();
        }
      }
      rmSync(dir, { recursive: true, force: true });
      rmSync(crashDir, { recursive: true, force: true });
    }),
    { numRuns: 20 },
  );
});

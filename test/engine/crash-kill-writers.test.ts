// Crash safety with real processes (issue 3): a child writes with sync 'always' — plain puts, deletes
// and batches from several concurrent writers, now and then with a merge running — and is killed
// with SIGKILL at a random moment, many rounds on one directory. After every kill: every acknowledged
// write is present (or overwritten by that writer's one write in flight), no batch is partly visible.
// Rounds alternate between checking the directory itself and checking a copy of the crash image, so
// the child also recovers straight from a crash left by the previous child. Even rounds run the child with
// mmapWrites and mmapReads under sync 'none' (acknowledged once copied into the shared map, no fsync), so a
// crash image with a zero-filled reservation past its data is recovered both by a mapped and a plain child.
// CASKDB_CRASH_ROUNDS=n sets the rounds (CASKDB_STRESS=1: 150); CASKDB_CRASH_SEED=s replays a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Db } from '../../src/engine/db.js';
import { mergeDirOf } from '../../src/engine/file-names.js';
import { applyAcknowledged, contentsMap, inFlightOps, killAllChildren, recoveryProblems, runCrashChild } from '../support/crash-harness.js';
import { Prng, scratchDir } from '../support/crash-records.js';
import type { CrashChildConfig } from './fixtures/crash-workload.js';
import { ensureMmapAddon } from '../support/native.js';

ensureMmapAddon();

const ROUNDS = Number(process.env.CASKDB_CRASH_ROUNDS ?? (process.env.CASKDB_STRESS === '1' ? 150 : 24));
const SEED = Number(process.env.CASKDB_CRASH_SEED ?? Date.now() % 1_000_000_007);
const WRITERS = 4;
const DATA_FILE_BYTES_MAX = 4096;

async function openQuiet(dir: string, mmap: boolean): Promise<Db> {
  return Db.open({ dir, sync: 'none', dataFileBytesMax: DATA_FILE_BYTES_MAX, mergeRatio: 0, mmapReads: mmap, mmapWrites: mmap, logger: () => {} });
}

test(`every acknowledged write survives SIGKILL at random moments, ${ROUNDS} rounds on one directory`, { timeout: 30_000 + ROUNDS * 15_000 }, async (t) => {
  t.diagnostic(`seed ${SEED} (replay with CASKDB_CRASH_SEED=${SEED})`);
  const { dir, parent, defer } = scratchDir(t);
  defer(killAllChildren);
  const rng = new Prng(SEED);
  const model = new Map<string, string>();
  let totalAcks = 0;
  let mergesFinished = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const config: CrashChildConfig = {
      dir,
      seed: SEED,
      round,
      writers: WRITERS,
      dataFileBytesMax: DATA_FILE_BYTES_MAX,
      lifetimeMs: 20_000,
      mmap: round % 2 === 0,
      ...(round % 3 === 0 ? { mergeAfterMs: rng.below(120) } : {}),
    };
    const killAfterReadyMs = 10 + rng.below(400);
    const run = await runCrashChild(config, { killAfterReadyMs });
    const context = `seed ${SEED}, round ${round}, killed ${killAfterReadyMs} ms after ready`;
    assert.equal(run.signal, 'SIGKILL', `${context}: the child must die by the kill, not exit ${String(run.code)}: ${run.stderr}`);
    assert.ok(run.lines.includes('ready'), `${context}: the child opened the directory: ${run.stderr}`);
    const failedMerge = run.lines.find((line) => line.startsWith('merge-failed'));
    assert.equal(failedMerge, undefined, `${context}: ${failedMerge}`);
    if (run.lines.includes('merge-done')) mergesFinished++;
    totalAcks += run.lastAcks.reduce((sum, last) => sum + last + 1, 0);
    applyAcknowledged(model, config, run.lastAcks);

    // Odd rounds check a copy, so the next child recovers the crash image itself.
    const checkDir = round % 2 === 1 ? join(parent, `image-${round}`) : dir;
    if (checkDir !== dir) {
      cpSync(dir, checkDir, { recursive: true, filter: (src) => !src.endsWith('/flock') });
      if (existsSync(mergeDirOf(dir))) cpSync(mergeDirOf(dir), mergeDirOf(checkDir), { recursive: true });
    }
    const db = await openQuiet(checkDir, round % 4 === 1);
    let actual: Map<string, string>;
    try {
      actual = contentsMap(db);
    } finally {
      await db.close();
    }
    if (checkDir !== dir) {
      rmSync(checkDir, { recursive: true, force: true });
      rmSync(mergeDirOf(checkDir), { recursive: true, force: true });
    }
    const problems = recoveryProblems(model, actual, inFlightOps(config, run.lastAcks), WRITERS);
    assert.deepEqual(problems, [], `${context}: ${problems.length} problems after recovery`);
    // What the in-flight writes left is now the state every later round builds on.
    model.clear();
    for (const [key, value] of actual) model.set(key, value);
  }
  t.diagnostic(`${totalAcks} acknowledged writes over ${ROUNDS} rounds, ${mergesFinished} merges finished before a kill`);
  assert.ok(totalAcks > ROUNDS, `only ${totalAcks} writes were acknowledged`);

  // The survivor is an ordinary database: it merges and reopens to the same contents.
  let db = await openQuiet(dir, true);
  assert.deepEqual(recoveryProblems(model, contentsMap(db), [], WRITERS), []);
  await db.merge();
  assert.deepEqual(recoveryProblems(model, contentsMap(db), [], WRITERS), []);
  await db.close();
  db = await openQuiet(dir, false);
  try {
    assert.deepEqual(recoveryProblems(model, contentsMap(db), [], WRITERS), []);
  } finally {
    await db.close();
  }
});

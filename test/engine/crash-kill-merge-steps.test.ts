// Crash safety of merge (issue 3), with real processes: for every step in MERGE_STEPS a child opens a
// prepared directory, starts a merge while its writers keep writing (sync 'always', acknowledged on
// stdout) and SIGKILLs itself when the merge reaches that step. The next open must return exactly
// the pre-merge contents plus the acknowledged writes (and at most each writer's one write in
// flight); a second open and a later merge must agree. For the install steps a second child is also
// killed at that step while the install runs inside open, after a merge that finished but was not
// installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Db } from '../../src/engine/db.js';
import { HINT_FILE_NAME, MERGE_FINISHED_FILE_NAME, mergeDirOf } from '../../src/engine/file-names.js';
import { MERGE_STEPS, type MergeStep } from '../../src/engine/options.js';
import { applyAcknowledged, contentsMap, inFlightOps, killAllChildren, recoveryProblems, runCrashChild } from '../support/crash-harness.js';
import { runWorkload, scratchDir } from '../support/crash-records.js';
import { crashOp, effectOf, type CrashChildConfig } from './fixtures/crash-workload.js';

const WRITERS = 3;
const DATA_FILE_BYTES_MAX = 8 * 1024;
const SEED = 20261122;
/** CASKDB_STRESS=1 repeats every step with other seeds and merge start times. */
const REPEATS = process.env.CASKDB_STRESS === '1' ? 6 : 1;
const INSTALL_STEPS: readonly MergeStep[] = ['old-removed', 'marker-written', 'some-moved', 'files-moved', 'installed'];

async function openQuiet(dir: string): Promise<Db> {
  return Db.open({ dir, sync: 'none', dataFileBytesMax: DATA_FILE_BYTES_MAX, mergeRatio: 0, logger: () => {} });
}

/** A directory of many files with garbage to merge, holding the writers' keys too; returns its contents. */
async function prepare(dir: string, seed: number): Promise<Map<string, string>> {
  const db = await openQuiet(dir);
  try {
    const model = new Map<string, string>();
    await runWorkload(db, model, { keys: 400, steps: 2500, valueBytesMax: 150, seed });
    for (let w = 0; w < WRITERS; w++) {
      for (let n = 0; n < 200; n++) {
        const op = crashOp(seed, 0, w, n);
        if (op.kind === 'put') await db.put(op.key, op.value);
        else if (op.kind === 'delete') await db.delete(op.key);
        else await db.write(op.keys.map((key) => (op.value === undefined ? { type: 'delete' as const, key } : { type: 'put' as const, key, value: op.value })));
        for (const [key, value] of effectOf(op)) {
          if (value === undefined) model.delete(key);
          else model.set(key, value);
        }
      }
    }
    assert.deepEqual(contentsMap(db), model);
    return model;
  } finally {
    await db.close();
  }
}

let acknowledged = 0;

/** Kills a child at `step` of its merge; returns the model of what must survive and the run's writes in flight. */
async function killDuringMerge(dir: string, step: MergeStep, seed: number, model: Map<string, string>): Promise<ReturnType<typeof inFlightOps>> {
  const mergeAfterMs = 20 + (seed % 4) * 40;
  const config: CrashChildConfig = { dir, seed, round: 1, writers: WRITERS, dataFileBytesMax: DATA_FILE_BYTES_MAX, mergeAfterMs, killStep: step, lifetimeMs: 20_000 };
  // A merge that ends without reaching the step is a test failure; stop that child at once.
  const run = await runCrashChild(config, { killOnLine: (line) => line === 'merge-done' || line.startsWith('merge-failed') });
  const ended = run.lines.find((line) => line === 'merge-done' || line.startsWith('merge-failed'));
  assert.equal(ended, undefined, `the merge must be killed at '${step}', but it ended: ${String(ended)}`);
  assert.equal(run.signal, 'SIGKILL', `the child must kill itself at '${step}', not exit ${String(run.code)}: ${run.stderr}`);
  applyAcknowledged(model, config, run.lastAcks);
  acknowledged = run.lastAcks.reduce((sum, last) => sum + last + 1, 0);
  return inFlightOps(config, run.lastAcks);
}

async function checkReopens(dir: string, model: Map<string, string>, inFlight: ReturnType<typeof inFlightOps>, context: string): Promise<void> {
  let db = await openQuiet(dir);
  let actual: Map<string, string>;
  try {
    actual = contentsMap(db);
    assert.deepEqual(recoveryProblems(model, actual, inFlight, WRITERS), [], `${context}: first open`);
  } finally {
    await db.close();
  }
  assert.equal(existsSync(mergeDirOf(dir)), false, `${context}: the merge directory is installed or discarded at open`);
  // The in-flight writes that landed are part of the state from now on.
  model.clear();
  for (const [key, value] of actual) model.set(key, value);
  db = await openQuiet(dir);
  try {
    assert.deepEqual(contentsMap(db), model, `${context}: second open`);
    await db.merge();
    assert.deepEqual(contentsMap(db), model, `${context}: after a later merge`);
  } finally {
    await db.close();
  }
  db = await openQuiet(dir);
  try {
    assert.deepEqual(contentsMap(db), model, `${context}: open after the later merge`);
  } finally {
    await db.close();
  }
}

for (let repeat = 0; repeat < REPEATS; repeat++) {
  const seed = SEED + repeat;
  const suffix = REPEATS > 1 ? ` (seed ${seed})` : '';

  for (const step of MERGE_STEPS) {
    test(`a kill at merge step '${step}' loses nothing: pre-merge contents plus the acknowledged writes${suffix}`, { timeout: 60_000 }, async (t) => {
      const { dir, defer } = scratchDir(t);
      defer(killAllChildren);
      const model = await prepare(dir, seed);
      const inFlight = await killDuringMerge(dir, step, seed, model);
      t.diagnostic(`${acknowledged} writes acknowledged before the kill`);
      const complete = MERGE_STEPS.indexOf(step) >= MERGE_STEPS.indexOf('finished-written');
      assert.equal(existsSync(join(mergeDirOf(dir), MERGE_FINISHED_FILE_NAME)) || (complete && !existsSync(mergeDirOf(dir))), complete, 'merge-finished marks a complete merge');
      await checkReopens(dir, model, inFlight, `killed at '${step}'`);
      if (complete) {
        assert.ok(readdirSync(dir).includes(HINT_FILE_NAME), 'a complete merge is installed with its hint file');
        assert.ok(readdirSync(dir).includes(MERGE_FINISHED_FILE_NAME));
      }
    });
  }

  for (const step of INSTALL_STEPS) {
    test(`a kill at install step '${step}' while open installs a finished merge loses nothing${suffix}`, { timeout: 60_000 }, async (t) => {
      const { dir, defer } = scratchDir(t);
      defer(killAllChildren);
      const model = await prepare(dir, seed);
      const inFlight = await killDuringMerge(dir, 'finished-written', seed, model);
      assert.ok(existsSync(join(mergeDirOf(dir), MERGE_FINISHED_FILE_NAME)));
      const config: CrashChildConfig = { dir, seed, round: 2, writers: WRITERS, dataFileBytesMax: DATA_FILE_BYTES_MAX, killStep: step, killDuringOpen: true, lifetimeMs: 20_000 };
      const run = await runCrashChild(config, { killOnLine: (line) => line === 'ready' });
      assert.equal(run.signal, 'SIGKILL');
      assert.equal(run.lines.includes('ready'), false, `the child must die inside open at '${step}': ${run.stderr}`);
      await checkReopens(dir, model, inFlight, `killed at '${step}' during open`);
    });
  }
}

// The seeded cluster simulator as a test: CI runs the regression seeds and a few hundred fresh seeds over
// 3-, 5- and 7-node clusters (RAFT_SIM_SEEDS scales the count), checks that a run replays exactly from its
// seed, and that planted bugs are caught — so a green run means the checks have teeth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultSimOptions, runSimulation, simOptionsFor, type SimProfile, type SimResult } from '../../src/raft/sim/simulator.js';
import { repoRoot } from '../support/cli.js';

const scale = Number(process.env['RAFT_SIM_SEEDS'] ?? '1');

function explain(r: SimResult, nodes: number, profile: SimProfile = 'default'): string {
  const flag = profile === 'default' ? '' : ` --profile ${profile}`;
  return `${r.trace.slice(-60).join('\n')}\nseed ${r.seed} failed: ${r.failure}\nreplay: npm run sim -- --seed ${r.seed} --count 1 --nodes ${nodes}${flag}`;
}

test('regression seeds', () => {
  const file = JSON.parse(readFileSync(join(repoRoot, 'test/raft/regression-seeds.json'), 'utf8')) as {
    seeds: { seed: number; nodes: number; profile?: SimProfile }[];
  };
  assert.ok(file.seeds.length > 0);
  for (const { seed, nodes, profile } of file.seeds) {
    const r = runSimulation(simOptionsFor(profile ?? 'default', seed, nodes));
    assert.ok(r.ok, explain(r, nodes, profile));
  }
});

for (const [nodes, count] of [
  [3, 300],
  [5, 150],
  [7, 75],
] as const) {
  test(`${Math.round(count * scale)} seeds, ${nodes} nodes: safety, linearizability and liveness`, () => {
    const base = 10_000 * nodes;
    let ops = 0;
    for (let seed = base; seed < base + Math.round(count * scale); seed++) {
      const r = runSimulation(defaultSimOptions(seed, nodes));
      assert.ok(r.ok, explain(r, nodes));
      ops += r.stats.opsCompleted;
    }
    assert.ok(ops > count * 50, `the clients did real work (${ops} operations)`);
  });
}

for (const [profile, nodes, count] of [
  ['storm', 3, 40],
  ['storm', 5, 20],
  ['lease', 3, 40],
] as const) {
  test(`${Math.round(count * scale)} seeds, ${nodes} nodes, ${profile} profile`, () => {
    const base = 100_000 * nodes + (profile === 'storm' ? 0 : 50_000);
    for (let seed = base; seed < base + Math.round(count * scale); seed++) {
      const r = runSimulation(simOptionsFor(profile, seed, nodes));
      assert.ok(r.ok, explain(r, nodes, profile));
    }
  });
}

test('a run replays exactly from its seed', () => {
  const a = runSimulation(defaultSimOptions(4242, 5));
  const b = runSimulation(defaultSimOptions(4242, 5));
  assert.deepEqual(a.stats, b.stats);
  assert.deepEqual(a.trace, b.trace);
});

test('planted bugs are caught: a forgotten vote (two leaders in a term), lost acknowledged entries', () => {
  const found = (bug: 'forget-vote' | 'lose-unsynced-entries'): string | undefined => {
    // Contentious elections (no pre-vote) and frequent crash-right-after-voting make the bug surface fast.
    for (let seed = 1; seed <= 150; seed++) {
      const r = runSimulation({ ...defaultSimOptions(seed, 5), plantedBug: bug, crashAfterVoteRate: 0.5, preVote: false });
      if (!r.ok) return r.failure;
    }
    return undefined;
  };
  assert.match(found('forget-vote') ?? 'not caught', /two leaders in term/);
  assert.match(found('lose-unsynced-entries') ?? 'not caught', /beyond last index|committed entry|lacks committed|log matching/);
});

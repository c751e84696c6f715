// Replays every scripted scenario in test/raft/testdata and compares the full trace with the recorded one.
// Regenerate after an intended behaviour change with UPDATE_TRACES=1 (and review the diff).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/cli.js';
import { runScenario } from './scenario-runner.js';

const dir = join(repoRoot, 'test/raft/testdata');
const update = process.env['UPDATE_TRACES'] === '1';

for (const name of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
  test(`scenario ${name}`, () => {
    const path = join(dir, name);
    const recorded = readFileSync(path, 'utf8');
    const fresh = runScenario(recorded);
    if (update) {
      writeFileSync(path, fresh.endsWith('\n') ? fresh : `${fresh}\n`);
      return;
    }
    assert.equal(`${fresh.trimEnd()}\n`, recorded.endsWith('\n') ? recorded.replace(/\n+$/, '\n') : `${recorded}\n`, `trace of ${name} changed; rerun with UPDATE_TRACES=1 if intended`);
  });
}

// Runs the Raft cluster simulator over a range of seeds:
//   npm run sim -- --seed S --count N [--nodes 3|5|7] [--ticks T] [--profile default|storm|lease] [--quiet]
//   [--planted-bug forget-vote|lose-unsynced-entries]   (to see what a caught bug looks like)
// Exits non-zero at the first failing seed and prints it; `--seed S --count 1` replays it exactly.
import { type SimProfile, defaultSimOptions, runSimulation, simOptionsFor, simProfiles } from '../src/raft/sim/simulator.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v)) {
    console.error(`--${name} needs an integer`);
    process.exit(2);
  }
  return v;
}

const seed = arg('seed', 1);
const count = arg('count', 1);
const nodes = arg('nodes', 3);
const ticks = arg('ticks', defaultSimOptions(0).faultTicks);
const quiet = process.argv.includes('--quiet');
const profileAt = process.argv.indexOf('--profile');
const profile = (profileAt < 0 ? 'default' : process.argv[profileAt + 1]) as SimProfile;
if (!simProfiles.includes(profile)) {
  console.error(`--profile must be one of ${simProfiles.join(', ')}`);
  process.exit(2);
}
const bugAt = process.argv.indexOf('--planted-bug');
const plantedBug = bugAt < 0 ? undefined : process.argv[bugAt + 1];
if (plantedBug !== undefined && plantedBug !== 'forget-vote' && plantedBug !== 'lose-unsynced-entries') {
  console.error('--planted-bug must be forget-vote or lose-unsynced-entries');
  process.exit(2);
}
const started = performance.now();
let totalTicks = 0;
for (let s = seed; s < seed + count; s++) {
  const r = runSimulation({
    ...simOptionsFor(profile, s, nodes),
    faultTicks: ticks,
    ...(plantedBug === undefined ? {} : { plantedBug, crashAfterVoteRate: 0.5, preVote: false }),
  });
  totalTicks += r.stats.ticks;
  if (!r.ok) {
    console.error(r.trace.join('\n'));
    const extra =
      `${ticks !== defaultSimOptions(0).faultTicks ? ` --ticks ${ticks}` : ''}${profile !== 'default' ? ` --profile ${profile}` : ''}` +
      `${plantedBug === undefined ? '' : ` --planted-bug ${plantedBug}`}`;
    console.error(`\nFAILED seed ${s} (--nodes ${nodes}${profile !== 'default' ? `, profile ${profile}` : ''}): ${r.failure}`);
    console.error(`replay: npm run sim -- --seed ${s} --count 1 --nodes ${nodes}${extra}`);
    process.exit(1);
  }
  if (!quiet) {
    const st = r.stats;
    console.log(
      `seed ${s} ok: ${st.ticks} ticks, ${st.opsCompleted} ops, commit ${st.committedIndex}, ${st.elections} elections, ` +
        `${st.crashes} crashes, ${st.confChanges} conf changes, ${st.snapshotsSent} snapshots, ${st.messagesSent} msgs`,
    );
  }
}
const secs = (performance.now() - started) / 1000;
console.log(`${count} seed(s) passed with ${nodes} nodes (${profile}) in ${secs.toFixed(1)}s (${Math.round(totalTicks / secs)} ticks/s)`);

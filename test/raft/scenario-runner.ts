// Scripted Raft scenarios (in the manner of etcd's datadriven tests): a file in test/raft/testdata holds
// commands ("> cmd args") each followed by the full trace it produced — every message delivered or dropped,
// every persisted hard state, state change and applied entry. The test replays the commands and compares the
// whole text; UPDATE_TRACES=1 rewrites the files from the current behaviour (review the diff!).
import { ConfChangeType } from '../../src/raft/types.js';
import { isCaskError } from '../../src/util/errors.js';
import { Cluster, describeEntry, enc } from './harness.js';

function parseArgs(words: string[]): { pos: string[]; kv: Map<string, string> } {
  const pos: string[] = [];
  const kv = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq > 0) kv.set(w.slice(0, eq), w.slice(eq + 1));
    else pos.push(w);
  }
  return { pos, kv };
}

const idList = (s: string | undefined): number[] => (s === undefined || s === '' ? [] : s.split(',').map(Number));

/** Runs one script; returns the regenerated text (commands, comments and fresh output). */
export function runScenario(text: string): string {
  let c: Cluster | undefined;
  const out: string[] = [];
  const cluster = (): Cluster => {
    if (c === undefined) throw new Error('no cluster: start with "> cluster voters=…"');
    return c;
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') {
      out.push(line);
      continue;
    }
    if (!line.startsWith('> ')) continue; // previous output: regenerated below
    out.push(line);
    const [cmd, ...rest] = line.slice(2).trim().split(/\s+/);
    const { pos, kv } = parseArgs(rest);
    const n = Number(pos[0]);
    try {
      switch (cmd) {
        case 'cluster':
          c = new Cluster(
            idList(kv.get('voters')),
            {
              preVote: kv.get('prevote') !== 'false',
              checkQuorum: kv.get('checkquorum') !== 'false',
              electionTimeoutTicks: Number(kv.get('election') ?? 10),
              heartbeatIntervalTicks: Number(kv.get('heartbeat') ?? 1),
              readOnlyOption: kv.get('reads') === 'lease' ? 'lease-based' : 'safe',
              ...(kv.has('append-bytes') ? { appendBytesMax: Number(kv.get('append-bytes')) } : {}),
              ...(kv.has('inflight') ? { inflightMsgsMax: Number(kv.get('inflight')) } : {}),
            },
            kv.get('bootstrap') === 'true',
          );
          break;
        case 'add':
          cluster().add(n);
          break;
        case 'campaign':
          cluster().node(n).campaign();
          cluster().handleReady(n);
          break;
        case 'propose':
          cluster().node(n).propose(enc.encode(pos[1] ?? ''));
          cluster().handleReady(n);
          break;
        case 'propose-conf': {
          const type = { 'add-voter': ConfChangeType.AddVoter, 'add-learner': ConfChangeType.AddLearner, remove: ConfChangeType.RemoveNode }[pos[1] ?? ''];
          if (type === undefined) throw new Error(`unknown conf change ${pos[1]}`);
          cluster().node(n).proposeConfChange({ type, nodeId: Number(pos[2]), context: new Uint8Array(0) });
          cluster().handleReady(n);
          break;
        }
        case 'read-index':
          cluster().node(n).readIndex(enc.encode(pos[1] ?? ''));
          cluster().handleReady(n);
          break;
        case 'transfer':
          cluster().node(n).transferLeadership(Number(pos[1]));
          cluster().handleReady(n);
          break;
        case 'tick':
          cluster().tick(n, Number(pos[1] ?? 1));
          break;
        case 'tick-all':
          cluster().tickAll(Number(pos[0] ?? 1));
          break;
        case 'stabilize':
          cluster().stabilize();
          break;
        case 'isolate':
          cluster().isolate(n);
          break;
        case 'cut':
          cluster().cutLink(n, Number(pos[1]));
          break;
        case 'heal':
          cluster().heal();
          break;
        case 'crash':
          cluster().crash(n);
          break;
        case 'restart':
          cluster().restart(n);
          cluster().handleReady(n);
          break;
        case 'snapshot': {
          const raw = cluster().node(n);
          const applied = raw.raft.log.applied;
          const s = cluster().storage(n);
          s.createSnapshot(applied, raw.confStateAt(applied), enc.encode(`state@${applied}`));
          s.compact(applied);
          out.push(`n${n}: snapshot at ${applied}, log now [${s.firstIndex()}, ${s.lastIndex()}]`);
          break;
        }
        case 'status':
          out.push(...cluster().status());
          break;
        case 'log': {
          const l = cluster().raft(n).log;
          const ents = l.allEntriesFrom(l.firstIndex());
          out.push(`n${n}: ${ents.map(describeEntry).join(', ') || '(empty)'} committed=${l.committed}`);
          break;
        }
        default:
          throw new Error(`unknown command ${cmd}`);
      }
    } catch (e) {
      if (isCaskError(e)) out.push(`error: ${e.code} ${e.message}`);
      else throw e;
    }
    if (c !== undefined) out.push(...c.takeOutput());
  }
  return out.join('\n');
}

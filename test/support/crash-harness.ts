// The parent side of the crash tests: start the crash child (compiled from dist/ when the tests run
// compiled, through tsx from source otherwise), SIGKILL it, collect its acknowledgements, and check a
// recovered database against the model: every acknowledged write present (or overwritten by the
// writer's one write in flight), no batch partly visible. Every child is killed when the test ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Db } from '../../src/engine/db.js';
import { crashOp, effectOf, groupKeys, GROUPS_PER_WRITER, type CrashChildConfig, type CrashOp } from '../engine/fixtures/crash-workload.js';

const here = fileURLToPath(import.meta.url);
const compiled = here.includes('/dist/test/');
const repoRoot = fileURLToPath(new URL(compiled ? '../../../' : '../../', import.meta.url));
const childArgv = compiled ? [`${repoRoot}dist/test/engine/fixtures/crash-child.js`] : ['--import', 'tsx', `${repoRoot}test/engine/fixtures/crash-child.ts`];

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Kills every crash child still running (for a test's cleanup). */
export function killAllChildren(): void {
  for (const child of live) child.kill('SIGKILL');
}

export interface ChildRun {
  /** Highest acknowledged operation number per writer (−1: none). */
  lastAcks: number[];
  lines: string[];
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

export interface ChildRunOptions {
  /** SIGKILL the child this many ms after it reports `ready`. */
  killAfterReadyMs?: number;
  /** SIGKILL the child as soon as it prints a line for which this returns true. */
  killOnLine?: (line: string) => boolean;
}

export function runCrashChild(config: CrashChildConfig, options: ChildRunOptions = {}): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...childArgv, JSON.stringify(config)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const lastAcks = new Array<number>(config.writers).fill(-1);
    const lines: string[] = [];
    let stderr = '';
    let partial = '';
    let protocolError: Error | undefined;
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    const onLine = (line: string): void => {
      lines.push(line);
      const ack = /^A (\d+) (\d+)$/.exec(line);
      if (ack !== null) {
        const w = Number(ack[1]);
        const n = Number(ack[2]);
        if (lastAcks[w] !== n - 1) protocolError ??= new Error(`writer ${w} acknowledged ${n} after ${String(lastAcks[w])}`);
        lastAcks[w] = n;
      } else if (line === 'ready' && options.killAfterReadyMs !== undefined) {
        setTimeout(kill, options.killAfterReadyMs);
      }
      if (options.killOnLine?.(line) === true) kill();
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) onLine(line);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      live.delete(child);
      // A line cut by the kill was never acknowledged as a whole; it is ignored.
      if (protocolError !== undefined) reject(protocolError);
      else resolve({ lastAcks, lines, signal, code, stderr });
    });
  });
}

/** The writes a child may have had in flight when killed: per writer, the one after its last ack. */
export function inFlightOps(config: CrashChildConfig, lastAcks: readonly number[]): CrashOp[] {
  return lastAcks.map((last, w) => crashOp(config.seed, config.round, w, last + 1));
}

/** Applies every acknowledged operation of a child run to `model`. */
export function applyAcknowledged(model: Map<string, string>, config: CrashChildConfig, lastAcks: readonly number[]): void {
  for (const [w, last] of lastAcks.entries()) {
    for (let n = 0; n <= last; n++) {
      for (const [key, value] of effectOf(crashOp(config.seed, config.round, w, n))) {
        if (value === undefined) model.delete(key);
        else model.set(key, value);
      }
    }
  }
}

export function contentsMap(db: Db): Map<string, string> {
  const map = new Map<string, string>();
  for (const [key, value] of db.iterate()) map.set(key.toString('latin1'), value.toString('latin1'));
  return map;
}

/**
 * Problems of `actual` against `expected`: a key differing from the model unless the writer's write
 * in flight explains it, an in-flight batch applied in part, a group whose keys disagree.
 */
export function recoveryProblems(expected: ReadonlyMap<string, string>, actual: ReadonlyMap<string, string>, inFlight: readonly CrashOp[], writers: number): string[] {
  const problems: string[] = [];
  const flight = new Map<string, string | undefined>();
  for (const op of inFlight) for (const [key, value] of effectOf(op)) flight.set(key, value);
  for (const key of new Set([...expected.keys(), ...actual.keys()])) {
    const found = actual.get(key);
    const wanted = expected.get(key);
    if (found === wanted) continue;
    if (flight.has(key) && flight.get(key) === found) continue;
    problems.push(`${key}: expected ${short(wanted)}${flight.has(key) ? ` or in flight ${short(flight.get(key))}` : ''}, found ${short(found)}`);
  }
  for (const op of inFlight) {
    if (op.kind !== 'batch') continue;
    const applied = op.keys.filter((key) => actual.get(key) === op.value && expected.get(key) !== op.value);
    const notApplied = op.keys.filter((key) => actual.get(key) === expected.get(key) && expected.get(key) !== op.value);
    if (applied.length > 0 && notApplied.length > 0) problems.push(`batch in flight partly visible: applied to ${applied.join(',')}, not to ${notApplied.join(',')}`);
  }
  for (let w = 0; w < writers; w++) {
    for (let g = 0; g < GROUPS_PER_WRITER; g++) {
      const values = new Set(groupKeys(w, g).map((key) => actual.get(key)));
      if (values.size > 1) problems.push(`group w${w}-g${g} holds different values: ${[...values].map(short).join(' | ')}`);
    }
  }
  return problems;
}

function short(value: string | undefined): string {
  if (value === undefined) return '(absent)';
  return value.length > 24 ? `${value.slice(0, 24)}…(${value.length})` : value;
}

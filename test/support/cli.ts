// How tests start the caskdb CLI as a real child process: from dist/ when the tests run compiled
// (npm test), through tsx when a single test file runs from source (`npx tsx --test test/...`).
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const here = fileURLToPath(import.meta.url);
const compiled = here.includes('/dist/test/');
export const repoRoot = fileURLToPath(new URL(compiled ? '../../../' : '../../', import.meta.url));

/** The argv (without node itself) that runs `caskdb <args>`. */
export function caskdbArgv(args: readonly string[]): string[] {
  return compiled
    ? [`${repoRoot}dist/src/cli/main.js`, ...args]
    : ['--import', 'tsx', `${repoRoot}src/cli/main.ts`, ...args];
}

export function spawnCaskdb(args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, caskdbArgv(args), { cwd: repoRoot, ...options });
}

/** Runs `caskdb <args>` to completion and returns its exit code and output. */
export function runCaskdb(args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Without input, stdin is /dev/null: a command that exits before reading cannot make our write fail.
    const child = spawnCaskdb(args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (input !== undefined) {
      // EPIPE when the command exits without reading all of it: its exit code and output still tell.
      child.stdin?.on('error', () => {});
      child.stdin?.end(input);
    }
  });
}

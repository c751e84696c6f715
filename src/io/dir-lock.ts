// The directory lock: a real exclusive flock(2) on `<dir>/flock`, compatible with the Go reference
// (which flocks the same file). Node has no flock binding, so a tiny `flock(1)` child process takes
// the lock and holds it while its stdin stays open. If this process dies — even by SIGKILL — the
// pipe closes, the child exits and the kernel drops the lock: a crash never leaves the directory locked.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Socket } from 'node:net';
import { CaskError, ErrorCode } from '../util/errors.js';
import type { DirLock } from './file-system.js';

const LOCKED_MARKER = 'caskdb-locked';
/** How long to wait for the lock of a process that has died but whose flock child has not exited yet. */
const DEAD_HOLDER_WAIT_MS = 5000;

/**
 * Takes the lock. The holder's pid is written into the lock file (the reference design leaves it
 * empty and ignores it): when the lock is busy but that process is gone, its flock child is about to
 * exit — a restart right after a crash waits for it briefly instead of failing.
 */
export async function lockDirectory(lockPath: string): Promise<DirLock> {
  const deadline = Date.now() + DEAD_HOLDER_WAIT_MS;
  for (let delayMs = 5; ; delayMs = Math.min(delayMs * 2, 200)) {
    try {
      const lock = await tryLock(lockPath);
      try {
        writeFileSync(lockPath, `${process.pid}\n`);
      } catch {
        // The pid only shortens waits after a crash; the lock itself is held either way.
      }
      return lock;
    } catch (error) {
      if (!(error instanceof CaskError) || error.code !== ErrorCode.Locked || holderAlive(lockPath) || Date.now() > deadline) throw error;
      await sleep(delayMs);
    }
  }
}

/** False only when the lock file names a process that no longer exists. */
function holderAlive(lockPath: string): boolean {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
  } catch {
    return true;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function tryLock(lockPath: string): Promise<DirLock> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--exclusive', '--nonblock', lockPath, '-c', `echo ${LOCKED_MARKER} && exec cat >/dev/null`], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    let exited = false;
    let released = false;
    const exitWaiters: Array<() => void> = [];

    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      outcome();
    };

    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!stdout.includes(LOCKED_MARKER)) return;
      // Holding the lock must not keep the event loop alive on its own.
      (child.stdin as unknown as Socket).unref();
      (child.stdout as unknown as Socket).unref();
      (child.stderr as unknown as Socket).unref();
      child.unref();
      settle(() =>
        resolve({
          release: () =>
            new Promise<void>((done) => {
              if (exited) return done();
              exitWaiters.push(done);
              if (!released) {
                released = true;
                // Keep the loop alive until the child has exited and the kernel dropped the lock.
                child.ref();
                (child.stdout as unknown as Socket).ref();
                child.stdin.end();
              }
            }),
        }),
      );
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (error) => {
      settle(() => reject(new CaskError(ErrorCode.Io, `cannot run flock(1) to lock ${lockPath}: ${error.message}`, { file: lockPath, cause: error })));
    });
    child.on('exit', (code) => {
      exited = true;
      for (const done of exitWaiters.splice(0)) done();
      settle(() => {
        if (code === 1 && stderr.trim() === '') {
          reject(new CaskError(ErrorCode.Locked, `directory is locked: ${lockPath} is held by another process (or another open Db)`, { file: lockPath }));
        } else {
          reject(new CaskError(ErrorCode.Io, `cannot lock ${lockPath}: flock exited with ${code}: ${stderr.trim()}`, { file: lockPath }));
        }
      });
    });
  });
}

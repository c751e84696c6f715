// The directory lock: a real exclusive flock(2) on `<dir>/flock`, compatible with the Go reference
// (which flocks the same file). Node has no flock binding, so a tiny `flock(1)` child process takes
// the lock and holds it while its stdin stays open. If this process dies — even by SIGKILL — the
// pipe closes, the child exits and the kernel drops the lock: a crash never leaves the directory locked.
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { CaskError, ErrorCode } from '../util/errors.js';
import type { DirLock } from './file-system.js';

const LOCKED_MARKER = 'caskdb-locked';

export function lockDirectory(lockPath: string): Promise<DirLock> {
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

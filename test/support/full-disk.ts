// A real full disk for tests: a small tmpfs mounted (the tests run as root) and removed when the test ends,
// and the loop that writes until the engine reports CASKDB_NO_SPACE.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Db } from '../../src/engine/db.js';
import { CaskError, ErrorCode } from '../../src/util/errors.js';

/**
 * Mounts a tmpfs of `mib` MiB, on a new temporary directory or on `at` (made if missing); `grow` remounts it
 * bigger (room again on the same disk). It is unmounted when the test ends, or earlier by `unmount` (for a
 * caller that removes the directory around it itself).
 */
export function mountSmallDisk(t: TestContext, mib: number, at?: string): { mountPoint: string; grow: (toMib: number) => void; unmount: () => void } {
  const mountPoint = at ?? mkdtempSync(join(tmpdir(), 'caskdb-full-'));
  mkdirSync(mountPoint, { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', mountPoint]);
  assert.equal(mounted.status, 0, `mounting a ${mib} MiB tmpfs (the test runs as root): ${String(mounted.stderr)}`);
  let isMounted = true;
  const unmount = (): void => {
    if (!isMounted) return;
    isMounted = false;
    // A process that just exited can keep the mount busy for a moment under load (seen once in a full
    // run): retry for up to 2 s, then detach it lazily so the directory can still be removed, and say so.
    for (let attempt = 0; spawnSync('umount', [mountPoint]).status !== 0; attempt++) {
      if (attempt === 20) {
        const holders = spawnSync('fuser', ['-vm', mountPoint], { encoding: 'utf8' });
        process.stderr.write(`warning: ${mountPoint} stayed busy; detaching it lazily. ${holders.stdout ?? ''}${holders.stderr ?? ''}\n`);
        spawnSync('umount', ['-l', mountPoint]);
        break;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
    rmSync(mountPoint, { recursive: true, force: true });
  };
  t.after(unmount);
  return {
    mountPoint,
    grow: (toMib) => assert.equal(spawnSync('mount', ['-o', `remount,size=${toMib}m`, mountPoint]).status, 0),
    unmount,
  };
}

/**
 * Puts `value` under k0, k1, … until a put fails; asserts the failure is CASKDB_NO_SPACE, that more than
 * `atLeast` puts fit first, and that every acknowledged key still reads back. Returns the acknowledged keys.
 */
export async function fillUntilNoSpace(db: Db, value: Buffer, atLeast: number): Promise<string[]> {
  const acknowledged: string[] = [];
  let failure: unknown;
  for (let i = 0; i < 10_000 && failure === undefined; i++) {
    try {
      await db.put(`k${i}`, value);
      acknowledged.push(`k${i}`);
    } catch (error) {
      failure = error;
    }
  }
  assert.ok(failure instanceof CaskError && failure.code === ErrorCode.NoSpace, `expected CASKDB_NO_SPACE, got ${String(failure)}`);
  assert.ok(acknowledged.length > atLeast, `${acknowledged.length} puts fit before the disk was full`);
  for (const key of acknowledged) assert.deepEqual(db.get(key), value, key);
  return acknowledged;
}

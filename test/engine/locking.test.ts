// The directory lock across processes: while one process holds a database, another process gets
// CASKDB_LOCKED (and the reverse); a holder killed with SIGKILL never leaves the directory locked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCaskdb } from '../support/cli.js';
import { openDb, rejectsWithCode, tempDir } from './helpers.js';

const compiled = fileURLToPath(import.meta.url).includes('/dist/test/');
const dbModule = new URL(compiled ? '../../src/engine/db.js' : '../../src/engine/db.ts', import.meta.url).href;

/** A child process that opens `dir`, prints "ready" and holds the database until killed. */
function spawnHolder(dir: string): Promise<ChildProcess> {
  const script = `const { Db } = await import(${JSON.stringify(dbModule)});
const db = await Db.open({ dir: ${JSON.stringify(dir)} });
process.stdout.write('ready\\n');
setInterval(() => {}, 60_000);`;
  const args = [...(compiled ? [] : ['--import', 'tsx']), '--input-type=module', '-e', script];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('ready')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`holder exited with ${code}: ${stderr}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

test('a second process cannot open a database this process holds: CASKDB_LOCKED', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir);
  try {
    await db.put('k', 'v');
    const result = await runCaskdb(['put', '--dir', dir, 'k', 'other']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /CASKDB_LOCKED/);
    assert.match(result.stderr, /locked/);
    assert.equal(db.get('k')?.toString(), 'v');
  } finally {
    await db.close();
  }
  // Released on close: the other process now succeeds.
  const after = await runCaskdb(['put', '--dir', dir, 'k', 'other']);
  assert.equal(after.code, 0, after.stderr);
});

test('a second Db in the same process gets CASKDB_LOCKED too', async (t) => {
  const dir = tempDir(t);
  const { db } = await openDb(dir);
  try {
    const error = await rejectsWithCode(openDb(dir), 'CASKDB_LOCKED');
    assert.match(error.message, /flock/);
  } finally {
    await db.close();
  }
});

test('this process cannot open a database another process holds, until that process is SIGKILLed', async (t) => {
  const dir = tempDir(t);
  const holder = await spawnHolder(dir);
  t.after(() => {
    holder.kill('SIGKILL');
  });
  await rejectsWithCode(openDb(dir), 'CASKDB_LOCKED');
  holder.kill('SIGKILL');
  await exited(holder);
  // The kernel drops the lock once the holder's flock(1) helper sees its pipe close; allow it a moment.
  const started = Date.now();
  let opened: Awaited<ReturnType<typeof openDb>> | undefined;
  while (opened === undefined) {
    try {
      opened = await openDb(dir);
    } catch (error) {
      if ((error as { code?: string }).code !== 'CASKDB_LOCKED' || Date.now() - started > 2000) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const waitedMs = Date.now() - started;
  await opened.db.close();
  assert.ok(waitedMs < 2000, `lock released ${waitedMs} ms after the kill`);
});

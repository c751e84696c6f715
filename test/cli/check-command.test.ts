// `caskdb check` as a real process: a sound directory passes; damage anywhere is reported with file and
// offset and exits 1; a torn tail is reported as such (exit 0, or 1 with --strict); hint records must
// point at intact records of their key; check changes nothing on disk and respects the directory lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Db } from '../../src/engine/db.js';
import { runCaskdb } from '../support/cli.js';
import { RefDirWriter, refReadDataFile, refWriteHintFile, refWriteMergeFinished, type RefPosition } from '../support/reference-format.js';

function tempDir(t: TestContext): string {
  const parent = mkdtempSync(join(tmpdir(), 'caskdb-check-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  return join(parent, 'db');
}

function flipByte(path: string, offset: number): void {
  const bytes = readFileSync(path);
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.from([bytes[offset]! ^ 0x10]), 0, 1, offset);
  closeSync(fd);
}

/** Three data files of reference records, one batch spanning a rotation. */
function buildDirectory(dir: string): RefDirWriter {
  const writer = new RefDirWriter(dir, { fileBytesMax: 300 });
  for (let i = 0; i < 12; i++) writer.put(`key-${i}`, `value-${i}`.repeat(4));
  writer.batch([
    { type: 'put', key: Buffer.from('b1'), value: Buffer.alloc(40, 1) },
    { type: 'delete', key: Buffer.from('key-1') },
  ]);
  writer.del('key-2');
  writer.flush();
  return writer;
}

test('a sound directory checks ok with exit 0 and a line per file', async (t) => {
  const dir = tempDir(t);
  const writer = buildDirectory(dir);
  const result = await runCaskdb(['check', '--dir', dir]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /result: ok/);
  for (const id of writer.files.keys()) assert.match(result.stdout, new RegExp(`${String(id).padStart(9, '0')}\\.data\\s+\\d+ records`));
  assert.equal(result.stderr, '', 'no progress line when stderr is not a terminal');
});

test('a flipped byte in a sealed file is damage: exit 1, with file and offset; later damage is found too', async (t) => {
  const dir = tempDir(t);
  buildDirectory(dir);
  const records = refReadDataFile(dir, 1).records;
  const first = records[1]!;
  const second = records[3]!;
  const path = join(dir, '000000001.data');
  flipByte(path, first.offset + first.size - 1);
  flipByte(path, second.offset + second.size - 1);
  const sizeBefore = statSync(path).size;
  const result = await runCaskdb(['check', '--dir', dir]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, new RegExp(`damage: ${path} offset ${first.offset}: crc mismatch`));
  assert.match(result.stdout, new RegExp(`damage: ${path} offset ${second.offset}: crc mismatch`));
  assert.match(result.stdout, /result: damaged \(2 problems\)/);
  assert.equal(statSync(path).size, sizeBefore);
  const json = JSON.parse((await runCaskdb(['check', '--dir', dir, '--json'])).stdout) as { ok: boolean; problems: Array<{ kind: string; file: string; offset: number }> };
  assert.equal(json.ok, false);
  assert.deepEqual(json.problems.map((p) => [p.kind, p.file, p.offset]), [
    ['damage', path, first.offset],
    ['damage', path, second.offset],
  ]);
});

test('a torn tail of the last file is reported as torn (exit 0; exit 1 with --strict) and left in place', async (t) => {
  const dir = tempDir(t);
  const writer = buildDirectory(dir);
  const lastId = writer.activeFileId;
  const path = join(dir, `${String(lastId).padStart(9, '0')}.data`);
  const records = refReadDataFile(dir, lastId).records;
  const last = records[records.length - 1]!;
  truncateSync(path, last.offset + last.size - 2);
  const result = await runCaskdb(['check', '--dir', dir]);
  assert.equal(result.code, 0, result.stdout);
  assert.match(result.stdout, new RegExp(`torn: ${path} offset ${last.offset}: torn tail`));
  assert.match(result.stdout, /result: ok/);
  assert.equal(statSync(path).size, last.offset + last.size - 2, 'check cut nothing');
  const strict = await runCaskdb(['check', '--dir', dir, '--strict']);
  assert.equal(strict.code, 1);
  assert.match(strict.stdout, new RegExp(`damage: ${path} offset ${last.offset}`));
});

test('damage in the last file followed by intact records is damage, not a torn tail', async (t) => {
  const dir = tempDir(t);
  const writer = new RefDirWriter(dir);
  for (let i = 0; i < 5; i++) writer.put(`k${i}`, 'v'.repeat(20));
  writer.flush();
  const victim = refReadDataFile(dir, 1).records[2]!;
  flipByte(join(dir, '000000001.data'), victim.offset + 8);
  const result = await runCaskdb(['check', '--dir', dir]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, new RegExp(`damage: .*000000001\\.data offset ${victim.offset}: .*next intact record is at offset ${victim.offset + victim.size}`));
});

test('a batch without its finish record is a warning; a record without a seq prefix is damage', async (t) => {
  const dir = tempDir(t);
  const writer = new RefDirWriter(dir);
  writer.put('a', '1');
  writer.batch([{ type: 'put', key: Buffer.from('b'), value: Buffer.from('2') }], { finish: false });
  const bad = writer.append(0, Buffer.alloc(0), Buffer.from('keyless')); // a zero-length disk key
  writer.flush();
  const result = await runCaskdb(['check', '--dir', dir]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /warning: .*batch seq 1 \(1 records from here\) has no finish record/);
  assert.match(result.stdout, new RegExp(`damage: .*offset ${bad.offset}: the record key lacks its batch sequence prefix`));
});

test('hint records must point at intact records of the same key in merged files', async (t) => {
  const dir = tempDir(t);
  const merged = new RefDirWriter(dir);
  const a = merged.put('a', 'alpha');
  const b = merged.put('b', 'beta');
  merged.rotate();
  merged.put('c', 'after the merge');
  merged.flush();
  refWriteMergeFinished(dir, 2);
  const hint = (entries: Array<[string, RefPosition]>): void => refWriteHintFile(join(dir, 'hint-index'), entries.map(([k, p]) => [Buffer.from(k), p]));

  hint([['a', a], ['b', b]]);
  const sound = await runCaskdb(['check', '--dir', dir]);
  assert.equal(sound.code, 0, sound.stdout);
  assert.match(sound.stdout, /hint-index\s+2 records/);

  hint([['a', a], ['b', a]]);
  const wrongKey = await runCaskdb(['check', '--dir', dir]);
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stdout, /hint for key 62 points at file 1 offset 0, which holds a different key/);

  hint([['a', { ...a, offset: a.offset + 1 }]]);
  const misaligned = await runCaskdb(['check', '--dir', dir]);
  assert.equal(misaligned.code, 1);
  assert.match(misaligned.stdout, /no record of \d+ bytes starts/);

  hint([['a', { fileId: 2, offset: 0, size: a.size }]]);
  const unmerged = await runCaskdb(['check', '--dir', dir]);
  assert.equal(unmerged.code, 1);
  assert.match(unmerged.stdout, /which is not a merged data file/);

  // Without the hint file open scans the merged files instead: a warning, not damage.
  rmSync(join(dir, 'hint-index'));
  const missing = await runCaskdb(['check', '--dir', dir]);
  assert.equal(missing.code, 0, missing.stdout);
  assert.match(missing.stdout, /warning.*hint file that indexes them is missing; open scans the merged files instead/);
});

test('check takes the directory lock: a database open elsewhere fails with CASKDB_LOCKED', async (t) => {
  const dir = tempDir(t);
  const db = await Db.open({ dir, sync: 'none' });
  try {
    await db.put('k', 'v');
    const result = await runCaskdb(['check', '--dir', dir]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /CASKDB_LOCKED/);
  } finally {
    await db.close();
  }
  assert.equal((await runCaskdb(['check', '--dir', dir])).code, 0);
  const missing = await runCaskdb(['check', '--dir', join(dir, 'no-such-dir')]);
  assert.equal(missing.code, 1);
});

test('a directory caskdb wrote, merged and wrote again checks ok', async (t) => {
  const dir = tempDir(t);
  const db = await Db.open({ dir, sync: 'none', dataFileBytesMax: 512 });
  for (let i = 0; i < 60; i++) await db.put(`k${i % 13}`, Buffer.alloc(40, i));
  await db.write([{ type: 'put', key: 'x', value: '1' }, { type: 'delete', key: 'k3' }]);
  await db.merge();
  for (let i = 0; i < 10; i++) await db.put(`k${i}`, 'again');
  await db.close();
  const result = await runCaskdb(['check', '--dir', dir]);
  assert.equal(result.code, 0, result.stdout);
  assert.match(result.stdout, /hint-index/);
});

test('a finished merge waiting in <dir>-merge is checked as well', async (t) => {
  const dir = tempDir(t);
  const writer = new RefDirWriter(dir);
  writer.put('a', 'old');
  writer.rotate();
  writer.put('b', 'unmerged');
  writer.flush();
  const mergeDir = `${dir}-merge`;
  const merged = new RefDirWriter(mergeDir);
  const a = merged.put('a', 'old');
  merged.flush();
  refWriteHintFile(join(mergeDir, 'hint-index'), [[Buffer.from('a'), a]]);
  refWriteMergeFinished(mergeDir, 2);
  const sound = await runCaskdb(['check', '--dir', dir]);
  assert.equal(sound.code, 0, sound.stdout);
  assert.match(sound.stdout, /warning: .*-merge: a finished merge waits here/);
  assert.match(sound.stdout, /db-merge\/000000001\.data\s+1 records/);
  flipByte(join(mergeDir, '000000001.data'), a.size - 1);
  const damaged = await runCaskdb(['check', '--dir', dir]);
  assert.equal(damaged.code, 1);
  assert.match(damaged.stdout, /damage: .*db-merge\/000000001\.data offset 0: crc mismatch \(the last/);
  assert.match(damaged.stdout, /damage: .*db-merge\/000000001\.data offset 0: crc mismatch in the record of a hint/);
});

test('a directory on a read-only file system (a backup on read-only media) checks without the lock; put says EROFS', async (t) => {
  const dir = tempDir(t);
  buildDirectory(dir);
  const parent = join(dir, '..');
  // A read-only bind mount of the directory's parent: nothing can create the lock file there.
  const mountReadOnly = (): void => {
    assert.equal(spawnSync('mount', ['--bind', parent, parent]).status, 0, 'bind mount (the tests run as root)');
    assert.equal(spawnSync('mount', ['-o', 'remount,ro,bind', parent]).status, 0, 'remount read-only');
  };
  // Unmounted in the test itself: the temporary directory's own cleanup runs first among the hooks.
  try {
    mountReadOnly();
    const sound = await runCaskdb(['check', '--dir', dir]);
    assert.equal(sound.code, 0, sound.stdout + sound.stderr);
    assert.match(sound.stdout, /result: ok/);
    assert.match(sound.stderr, /read-only file system; checking it without the directory lock/);
    // A new database cannot be made there, and the error says why (Node's recursive mkdir says ENOENT).
    const put = await runCaskdb(['put', '--dir', join(parent, 'new', 'db'), 'k', 'v']);
    assert.equal(put.code, 1);
    assert.match(put.stderr, /EROFS: read-only file system.*\[CASKDB_IO\]/);
    // Damage is still found there.
    spawnSync('umount', [parent]);
    flipByte(join(dir, '000000001.data'), refReadDataFile(dir, 1).records[1]!.offset + 5);
    mountReadOnly();
    const damaged = await runCaskdb(['check', '--dir', dir]);
    assert.equal(damaged.code, 1, damaged.stdout + damaged.stderr);
    assert.match(damaged.stdout, /damage/);
  } finally {
    spawnSync('umount', [parent]);
  }
});

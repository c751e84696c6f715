// The data commands run as a real `caskdb` process: get/put/del with text, stdin and --hex, dump in
// hex and json, stat, merge and backup — with scriptable exit codes (0 ok, 1 failure or missing key,
// 2 usage) and help for every command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { runCaskdb } from '../support/cli.js';
import { RefDirWriter } from '../support/reference-format.js';

function tempDir(t: TestContext): string {
  const parent = mkdtempSync(join(tmpdir(), 'caskdb-cli-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  return join(parent, 'db');
}

test('put then get round-trips a text value; get of a missing key exits 1 and prints nothing', async (t) => {
  const dir = tempDir(t);
  const put = await runCaskdb(['put', '--dir', dir, 'greeting', 'hello world']);
  assert.equal(put.code, 0, put.stderr);
  const get = await runCaskdb(['get', '--dir', dir, 'greeting']);
  assert.deepEqual([get.code, get.stdout], [0, 'hello world']);
  const missing = await runCaskdb(['get', '--dir', dir, 'nope']);
  assert.deepEqual([missing.code, missing.stdout], [1, '']);
  assert.match(missing.stderr, /not found/);
});

test('put reads the value from stdin when VALUE is "-" or absent, keeping every byte', async (t) => {
  const dir = tempDir(t);
  assert.equal((await runCaskdb(['put', '--dir', dir, 'a'], 'line one\nline two\n')).code, 0);
  assert.equal((await runCaskdb(['put', '--dir', dir, 'b', '-'], 'dash')).code, 0);
  const dump = await runCaskdb(['dump', '--dir', dir, '--format', 'json']);
  assert.equal(dump.code, 0, dump.stderr);
  assert.deepEqual(dump.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown), [
    { key: 'a', value: 'line one\nline two\n' },
    { key: 'b', value: 'dash' },
  ]);
});

test('--hex takes binary keys and values (args or stdin) and get --hex prints hex', async (t) => {
  const dir = tempDir(t);
  assert.equal((await runCaskdb(['put', '--dir', dir, '--hex', '00ff', '80 00 ff'])).code, 0);
  assert.equal((await runCaskdb(['put', '--dir', dir, '--hex', 'ff'], '0102\n')).code, 0);
  const get = await runCaskdb(['get', '--dir', dir, '--hex', '00ff']);
  assert.deepEqual([get.code, get.stdout], [0, '8000ff\n']);
  const dump = await runCaskdb(['dump', '--dir', dir]);
  assert.equal(dump.stdout, '00ff\t8000ff\nff\t0102\n');
  const bad = await runCaskdb(['put', '--dir', dir, '--hex', 'zz', '00']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /not valid hex/);
});

test('del reports whether the key existed and exits 0 either way', async (t) => {
  const dir = tempDir(t);
  await runCaskdb(['put', '--dir', dir, 'k', 'v']);
  const first = await runCaskdb(['del', '--dir', dir, 'k']);
  assert.deepEqual([first.code, first.stdout], [0, 'deleted\n']);
  const second = await runCaskdb(['del', '--dir', dir, 'k']);
  assert.deepEqual([second.code, second.stdout], [0, 'not found\n']);
  assert.equal((await runCaskdb(['get', '--dir', dir, 'k'])).code, 1);
});

test('dump prints every live pair of a reference directory in unsigned key order, hex and json', async (t) => {
  const dir = tempDir(t);
  const writer = new RefDirWriter(dir);
  writer.put(Buffer.from([0xff]), Buffer.from('last'));
  writer.put(Buffer.from('b'), Buffer.from([0xc3, 0x28])); // invalid UTF-8 value
  writer.put(Buffer.from([0x00]), Buffer.from('first'));
  writer.put('gone', 'x');
  writer.del('gone');
  writer.batch([{ type: 'put', key: Buffer.from('c'), value: Buffer.from('batched') }]);
  writer.batch([{ type: 'put', key: Buffer.from('d'), value: Buffer.from('unfinished') }], { finish: false });
  writer.flush();
  const hex = await runCaskdb(['dump', '--dir', dir, '--format', 'hex']);
  assert.equal(hex.code, 0, hex.stderr);
  assert.equal(hex.stdout, ['00\t6669727374', '62\tc328', '63\t62617463686564', 'ff\t6c617374', ''].join('\n'));
  assert.equal(hex.stderr, '', 'no progress line when stderr is not a terminal');
  const json = await runCaskdb(['dump', '--dir', dir, '--format', 'json']);
  assert.deepEqual(json.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown), [
    { key: '\u0000', value: 'first' },
    { key: 'b', value: 'wyg=', valueEncoding: 'base64' },
    { key: 'c', value: 'batched' },
    { key: '/w==', keyEncoding: 'base64', value: 'last' },
  ]);
  const badFormat = await runCaskdb(['dump', '--dir', dir, '--format', 'xml']);
  assert.equal(badFormat.code, 2);
});

test('stat prints a table, or one JSON object with --json', async (t) => {
  const dir = tempDir(t);
  await runCaskdb(['put', '--dir', dir, 'a', '1']);
  await runCaskdb(['put', '--dir', dir, 'a', '2']);
  const table = await runCaskdb(['stat', '--dir', dir]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^keys\s+1$/m);
  assert.match(table.stdout, /^dataFiles\s+1$/m);
  const json = await runCaskdb(['stat', '--dir', dir, '--json']);
  const stat = JSON.parse(json.stdout) as { keys: number; reclaimableBytes: number; diskBytes: number };
  assert.equal(stat.keys, 1);
  assert.ok(stat.reclaimableBytes > 0);
});

test('merge compacts the directory and backup copies a snapshot that opens to the same pairs', async (t) => {
  const dir = tempDir(t);
  for (let i = 0; i < 4; i++) await runCaskdb(['put', '--dir', dir, 'same-key', `value ${i}`]);
  await runCaskdb(['put', '--dir', dir, 'other', 'o']);
  const before = JSON.parse((await runCaskdb(['stat', '--dir', dir, '--json'])).stdout) as { diskBytes: number };
  const merge = await runCaskdb(['merge', '--dir', dir]);
  assert.equal(merge.code, 0, merge.stderr);
  assert.match(merge.stdout, /merged 2 live keys/);
  const after = JSON.parse((await runCaskdb(['stat', '--dir', dir, '--json'])).stdout) as { diskBytes: number };
  assert.ok(after.diskBytes < before.diskBytes, `${after.diskBytes} < ${before.diskBytes}`);

  const backupDir = `${dir}-backup`;
  const backup = await runCaskdb(['backup', '--dir', dir, backupDir]);
  assert.equal(backup.code, 0, backup.stderr);
  const original = await runCaskdb(['dump', '--dir', dir]);
  const copy = await runCaskdb(['dump', '--dir', backupDir]);
  assert.equal(copy.stdout, original.stdout);
  assert.match(copy.stdout, /^6f74686572\t6f$/m);
  // A backup never overwrites a non-empty directory.
  const again = await runCaskdb(['backup', '--dir', dir, '--to', backupDir]);
  assert.equal(again.code, 1);
});

test('every data command has --help (exit 0) and usage errors exit 2', async () => {
  for (const name of ['get', 'put', 'del', 'dump', 'stat', 'merge', 'backup', 'check']) {
    const help = await runCaskdb([name, '--help']);
    assert.equal(help.code, 0, `${name} --help`);
    assert.match(help.stdout, new RegExp(`^usage: caskdb ${name} --dir DIR`), name);
  }
  const noDir = await runCaskdb(['get', 'key']);
  assert.equal(noDir.code, 2);
  assert.match(noDir.stderr, /--dir DIR is required/);
  assert.equal((await runCaskdb(['get', '--dir', '/tmp/x', '--bogus', 'k'])).code, 2);
  assert.equal((await runCaskdb(['get', '--dir', '/tmp/x'])).code, 2);
  assert.equal((await runCaskdb(['put', '--dir', '/tmp/x', 'a', 'b', 'c'])).code, 2);
});

test('an engine error exits 1 with its code: a key over keyBytesMax is CASKDB_KEY_TOO_LARGE', async (t) => {
  const dir = tempDir(t);
  const result = await runCaskdb(['put', '--dir', dir, 'k'.repeat(64 * 1024 + 1), 'v']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /CASKDB_KEY_TOO_LARGE/);
});

test('the empty key is an ordinary key: put, get, dump and del', async (t) => {
  const dir = tempDir(t);
  assert.equal((await runCaskdb(['put', '--dir', dir, '', 'nothing'])).code, 0);
  assert.equal((await runCaskdb(['put', '--dir', dir, 'a', 'x'])).code, 0);
  const got = await runCaskdb(['get', '--dir', dir, '']);
  assert.equal(got.code, 0);
  assert.equal(got.stdout, 'nothing');
  // hex(key) TAB hex(value): the empty key sorts first and prints as an empty field.
  const dump = await runCaskdb(['dump', '--dir', dir, '--format', 'hex']);
  assert.equal(dump.stdout, `\t${Buffer.from('nothing').toString('hex')}\n61\t78\n`);
  assert.equal((await runCaskdb(['del', '--dir', dir, ''])).code, 0);
  assert.equal((await runCaskdb(['get', '--dir', dir, ''])).code, 1);
});

test('damage found on open exits 1 naming file and offset, leaves the file as it is, and points at caskdb check', async (t) => {
  const dir = tempDir(t);
  const writer = new RefDirWriter(dir, { fileBytesMax: 200 });
  for (let i = 0; i < 10; i++) writer.put(`key-${i}`, `value-${i}`.repeat(4));
  writer.flush();
  const path = join(dir, '000000001.data');
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x40; // the last value byte of a sealed file
  writeFileSync(path, bytes);
  for (const args of [['get', '--dir', dir, 'key-1'], ['dump', '--dir', dir]]) {
    const result = await runCaskdb(args);
    assert.equal(result.code, 1, args.join(' '));
    assert.match(result.stderr, new RegExp(`corruption in ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at offset \\d+: crc mismatch \\[CASKDB_CORRUPTION\\]`));
    assert.ok(result.stderr.includes(`\`caskdb check --dir ${dir}\` lists every damaged spot`), result.stderr);
  }
  assert.deepEqual(readFileSync(path), bytes, 'the damaged file is unchanged');
  const check = await runCaskdb(['check', '--dir', dir]);
  assert.equal(check.code, 1);
  assert.match(check.stdout, /damage/);
});

test('reading commands on a missing directory exit 1 and create nothing; put creates it', async (t) => {
  const dir = tempDir(t);
  for (const args of [['get', 'k'], ['dump'], ['stat'], ['del', 'k']]) {
    const result = await runCaskdb([args[0]!, '--dir', dir, ...args.slice(1)]);
    assert.equal(result.code, 1, args.join(' '));
    assert.match(result.stderr, /no such data directory/);
  }
  assert.equal(existsSync(dir), false);
  assert.equal((await runCaskdb(['put', '--dir', dir, 'k', 'v'])).code, 0);
  assert.equal(existsSync(dir), true);
});

test('keys and values that look like options pass after --', async (t) => {
  const dir = tempDir(t);
  assert.equal((await runCaskdb(['put', '--dir', dir, '--', '-h', '--help'])).code, 0);
  const get = await runCaskdb(['get', '--dir', dir, '--', '-h']);
  assert.deepEqual([get.code, get.stdout], [0, '--help']);
});

test('a --dir that is a file, or lies under one, is named in a clear error and exits 1', async (t) => {
  const dir = tempDir(t);
  const parent = join(dir, '..');
  const file = join(parent, 'afile');
  writeFileSync(file, 'not a directory');
  for (const target of [file, join(file, 'sub', 'db')]) {
    const put = await runCaskdb(['put', '--dir', target, 'k', 'v']);
    assert.equal(put.code, 1, put.stderr);
    assert.ok(put.stderr.includes(`${file} exists and is not a directory`), put.stderr);
  }
  assert.equal(readFileSync(file, 'utf8'), 'not a directory');
});

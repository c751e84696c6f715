// The RESP request parser: every input gives the same commands however it is split, and malformed frames
// give Redis's protocol errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RespParser, ProtocolError, splitInlineArgs } from '../../src/resp/index.js';

const limits = { bulkBytesMax: 1024 * 1024, multibulkLengthMax: 1024 };

function encodeCommand(argv: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)];
  for (const a of argv) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

function parseChunks(chunks: Buffer[], l = limits): { commands: string[][]; error: ProtocolError | undefined } {
  const parser = new RespParser(l);
  const commands: string[][] = [];
  let error: ProtocolError | undefined;
  for (const chunk of chunks) {
    error = parser.feed(chunk, (argv) => commands.push(argv.map((a) => a.toString('latin1'))));
    if (error) break;
  }
  return { commands, error };
}

const argArb = fc.uint8Array({ maxLength: 12 }).map((u) => Buffer.from(u));
const commandArb = fc.array(argArb, { minLength: 1, maxLength: 5 });

test('a pipeline of multibulk commands parses the same when split at every byte', () => {
  fc.assert(
    fc.property(fc.array(commandArb, { minLength: 1, maxLength: 4 }), (commands) => {
      const input = Buffer.concat(commands.map(encodeCommand));
      const expected = commands.map((c) => c.map((a) => a.toString('latin1')));
      assert.deepEqual(parseChunks([input]).commands, expected);
      for (let i = 0; i <= input.length; i++) {
        const got = parseChunks([input.subarray(0, i), input.subarray(i)]);
        assert.equal(got.error, undefined);
        assert.deepEqual(got.commands, expected);
      }
      // And one byte at a time.
      const bytes = [...input].map((b) => Buffer.from([b]));
      assert.deepEqual(parseChunks(bytes).commands, expected);
    }),
    { numRuns: 200 },
  );
});

test('inline commands mixed with multibulk parse the same at every split', () => {
  const input = Buffer.from('PING\r\nset "a b" \'c\\\'d\'\n*2\r\n$3\r\nGET\r\n$3\r\na b\r\n  \r\necho "\\x41\\n"\r\n');
  const expected = [['PING'], ['set', 'a b', "c'd"], ['GET', 'a b'], ['echo', 'A\n']];
  for (let i = 0; i <= input.length; i++) {
    for (let j = i; j <= input.length; j += 7) {
      const got = parseChunks([input.subarray(0, i), input.subarray(i, j), input.subarray(j)]);
      assert.deepEqual(got.commands, expected, `split at ${i},${j}`);
    }
  }
});

test('a large bulk body arriving in many small chunks is assembled once and exactly', () => {
  const value = Buffer.alloc(200_000, 7);
  value[12345] = 1;
  const input = encodeCommand([Buffer.from('SET'), Buffer.from('k'), value]);
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += 1000) chunks.push(input.subarray(i, i + 1000));
  const parser = new RespParser(limits);
  const got: Buffer[][] = [];
  for (const c of chunks) assert.equal(parser.feed(c, (argv) => got.push(argv.map((a) => Buffer.from(a)))), undefined);
  assert.equal(got.length, 1);
  assert.ok(got[0]![2]!.equals(value));
  assert.equal(parser.bufferedBytes, 0);
});

test('*0 and *-1 are ignored as Redis does', () => {
  assert.deepEqual(parseChunks([Buffer.from('*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n')]).commands, [['PING']]);
});

const malformed: Array<[string, string]> = [
  ['*x\r\n', 'Protocol error: invalid multibulk length'],
  ['*1\r\n$x\r\n', 'Protocol error: invalid bulk length'],
  ['*1\r\n$-5\r\n', 'Protocol error: invalid bulk length'],
  ['*1\r\n+x\r\n', "Protocol error: expected '$', got '+'"],
  ['set a "b\r\n', 'Protocol error: unbalanced quotes in request'],
  ["set a 'b'c\r\n", 'Protocol error: unbalanced quotes in request'],
  ['*1\r\n$99999999999999999999\r\n', 'Protocol error: invalid bulk length'],
];

for (const [input, message] of malformed) {
  test(`malformed frame ${JSON.stringify(input)} gives "${message}"`, () => {
    const got = parseChunks([Buffer.from(input)]);
    assert.ok(got.error instanceof ProtocolError);
    assert.equal(got.error.message, message);
  });
}

test('limits name the configuration key that was exceeded', () => {
  const small = { bulkBytesMax: 10, multibulkLengthMax: 3 };
  const bulk = parseChunks([Buffer.from('*1\r\n$11\r\n')], small).error;
  assert.equal(bulk?.limit, 'proto-max-bulk-len');
  assert.match(bulk!.message, /proto-max-bulk-len 10/);
  const multi = parseChunks([Buffer.from('*4\r\n')], small).error;
  assert.equal(multi?.limit, 'proto-max-multibulk-len');
  const inline = parseChunks([Buffer.from('a b c d\r\n')], small).error;
  assert.equal(inline?.limit, 'proto-max-multibulk-len');
});

test('an endless line without a newline is rejected instead of buffered forever', () => {
  assert.equal(parseChunks([Buffer.alloc(70_000, 97)]).error?.message, 'Protocol error: too big inline request');
  assert.equal(parseChunks([Buffer.from('*'), Buffer.alloc(70_000, 49)]).error?.message, 'Protocol error: too big mbulk count string');
  assert.equal(
    parseChunks([Buffer.from('*1\r\n$'), Buffer.alloc(70_000, 49)]).error?.message,
    'Protocol error: too big bulk count string',
  );
});

test('after an error the parser refuses further input', () => {
  const parser = new RespParser(limits);
  const seen: string[] = [];
  const e1 = parser.feed(Buffer.from('PING\r\n*x\r\nPING\r\n'), (a) => seen.push(a[0]!.toString()));
  assert.ok(e1);
  assert.deepEqual(seen, ['PING']);
  assert.equal(parser.feed(Buffer.from('PING\r\n'), () => seen.push('again')), e1);
  assert.deepEqual(seen, ['PING']);
});

test('random bytes never throw: they parse or give a ProtocolError', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const parser = new RespParser({ bulkBytesMax: 100, multibulkLengthMax: 10 });
      for (const c of chunks) {
        const e = parser.feed(Buffer.from(c), (argv) => assert.ok(argv.length >= 1 && argv.length <= 10));
        if (e) assert.ok(e instanceof ProtocolError);
      }
    }),
    { numRuns: 2000 },
  );
});

test('inline splitting follows sdssplitargs', () => {
  const s = (x: string) => splitInlineArgs(Buffer.from(x))?.map((b) => b.toString('latin1'));
  assert.deepEqual(s('  a  b\t"c d"  '), ['a', 'b', 'c d']);
  assert.deepEqual(s('"\\x00\\xff"'), ['\x00\xff']);
  assert.deepEqual(s('""'), ['']);
  assert.equal(s('"abc'), undefined);
  assert.equal(s('"a"b'), undefined);
});

test('command names are delivered as sent, whatever their case (GET/SET names may be shared buffers)', () => {
  const names = ['GET', 'get', 'Get', 'gEt', 'SET', 'set', 'SeT', 'sex', 'GEX', 'gat', 'SE', 'SETX', 'xet', 'G\x00T'];
  const chunks = names.map((n) => encodeCommand([Buffer.from(n, 'latin1'), Buffer.from('k')]));
  const { commands, error } = parseChunks([Buffer.concat(chunks)]);
  assert.equal(error, undefined);
  assert.deepEqual(commands.map((c) => c[0]), names);
  // An argument that is not the command name is never replaced, even when it spells one.
  assert.deepEqual(parseChunks([encodeCommand([Buffer.from('ECHO'), Buffer.from('GET')])]).commands, [['ECHO', 'GET']]);
});

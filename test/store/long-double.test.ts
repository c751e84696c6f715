// INCRBYFLOAT's long-double emulation against what Redis 7.0.15 (x86-64 Linux) answered for the same
// operands: `SET k <current>` then `INCRBYFLOAT k <increment>`. The differential test
// (test/server/redis-differential.test.ts) checks random cases against a running Redis as well.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { addLongDoubles, formatLongDouble, parseLongDouble } from '../../src/store/long-double.js';

const REDIS_ANSWERS: Array<[current: string, increment: string, reply: string]> = [
  ["0.1", "0.2", "0.3"],
  ["10.5", "0.1", "10.6"],
  ["5.0e3", "0", "5000"],
  ["1", "-1", "0"],
  ["-0.5", "0.25", "-0.25"],
  ["1", "0.000000000000000001", "1"],
  ["18446744073709551616", "1", "18446744073709551616"],
  ["18446744073709551616", ".5", "18446744073709551616"],
  ["1e400", "0", "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880"],
  ["1e4932", "1e4932", "ERR increment would produce NaN or Infinity"],
  ["-1e-20", "0", "0"],
  ["0x10", "1", "17"],
  ["0x1.8p3", "0", "12"],
  ["0X.8P1", "0", "1"],
  ["inf", "1", "ERR increment would produce NaN or Infinity"],
  ["-inf", "1", "ERR increment would produce NaN or Infinity"],
  ["1", "infinity", "ERR increment would produce NaN or Infinity"],
  ["1", "INF", "ERR increment would produce NaN or Infinity"],
  ["1", "nan", "ERR value is not a valid float"],
  ["1", "1e5000", "ERR value is not a valid float"],
  ["1", "1e-5000", "ERR value is not a valid float"],
  ["1", "0e99999", "1"],
  ["3.000000000000000000001", "0", "3"],
  ["0.000003814697265625", "0", "0.00000381469726562"],
  ["0.000000000000000005", "0", "0"],
  ["0.000000000000000015", "0", "0.00000000000000002"],
  ["0.000000000000000025", "0", "0.00000000000000002"],
  ["1.5e-4950", "0", "0"],
  ["9223372036854775807", "1", "9223372036854775808"],
  ["-0", "0", "0"],
  ["5.", ".5", "5.5"],
  ["007", "1e3", "1007"],
  ["1", "1e", "ERR value is not a valid float"],
  ["1", "0x", "ERR value is not a valid float"],
  ["1", ".", "ERR value is not a valid float"],
  ["1", "+.5e+1", "6"],
  ["1", "1_0", "ERR value is not a valid float"],
  ["1", "0x1p", "ERR value is not a valid float"],
  ["123456789012345678901234567890", "0.1", "123456789012345678899921813504"],
  ["3.14159265358979323846264338327950288", "2.71828182845904523536028747135266249", "5.85987448204883847"],
  ["0.1", "0.7", "0.8"],
  ["1e-10", "1e10", "10000000000"],
];

function incrbyfloat(current: string, increment: string): string {
  const a = parseLongDouble(Buffer.from(current, 'latin1'));
  const b = parseLongDouble(Buffer.from(increment, 'latin1'));
  if (a === undefined || b === undefined) return 'ERR value is not a valid float';
  const sum = addLongDoubles(a, b);
  return sum.kind === 'infinite' ? 'ERR increment would produce NaN or Infinity' : formatLongDouble(sum);
}

test('INCRBYFLOAT gives what Redis gives, to the digit', () => {
  for (const [current, increment, reply] of REDIS_ANSWERS) assert.equal(incrbyfloat(current, increment), reply, `${current} + ${increment}`);
});

test('what string2ld refuses is refused', () => {
  for (const bad of ['', ' 1', '\t1', '1 ', 'nan', '-nan', 'NaN', 'infin', '1e', '0x', '.', 'e5', '1.2.3', '--1', '1e99999', '0x1p99999', 'x'.repeat(5120)]) {
    assert.equal(parseLongDouble(Buffer.from(bad)), undefined, JSON.stringify(bad));
  }
});

test('a double round-trips through the format: JavaScript numbers are exact long doubles', () => {
  // Every finite double is exactly representable as a long double, and adding two doubles whose exact sum
  // fits in 64 significant bits is exact in both; so for small integers the sum prints as JavaScript's.
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), (x, y) => {
      assert.equal(incrbyfloat(String(x), String(y)), String(x + y));
    }),
  );
});

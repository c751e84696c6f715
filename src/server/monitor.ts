// MONITOR: the line a monitoring client receives for each command another client sends, in Redis's
// format — `<unix seconds>.<microseconds> [0 <client addr>] "arg" "arg" …` — with every argument quoted
// and escaped as Redis's `sdscatrepr` does (\\ \" \n \r \t \a \b, other non-printable bytes as \xHH), so
// a line is always printable ASCII whatever the keys hold. Secrets (AUTH, HELLO … AUTH user pass) are redacted;
// SLOWLOG shares `isSecretArgument`.
// Pure: no sockets here; connection.ts fans the line out.

const HEX = '0123456789abcdef';

/** One argument as Redis quotes it. */
export function quoteArgument(arg: Uint8Array): string {
  let out = '"';
  for (const byte of arg) {
    switch (byte) {
      case 0x5c: out += '\\\\'; break;
      case 0x22: out += '\\"'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      case 0x07: out += '\\a'; break;
      case 0x08: out += '\\b'; break;
      default:
        out += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${HEX[byte >> 4]}${HEX[byte & 15]}`;
    }
  }
  return out + '"';
}

export const REDACTED_ARGUMENT = Buffer.from('(redacted)');

/** True for an argument that is a secret: every argument of AUTH, the username and password after HELLO's AUTH. */
export function isSecretArgument(argv: readonly Buffer[], commandName: string, index: number): boolean {
  if (index === 0) return false;
  if (commandName === 'auth') return true;
  if (commandName !== 'hello') return false;
  for (let i = 1; i < argv.length && i < index; i++) {
    if (argv[i]!.length === 4 && argv[i]!.toString('latin1').toLowerCase() === 'auth') return index <= i + 2;
  }
  return false;
}

export function monitorLine(nowMs: number, clientAddr: string, argv: readonly Buffer[], commandName: string): string {
  const seconds = Math.floor(nowMs / 1000);
  const micros = Math.floor((nowMs - seconds * 1000) * 1000);
  let line = `${seconds}.${String(micros).padStart(6, '0')} [0 ${clientAddr}]`;
  for (let i = 0; i < argv.length; i++) line += ' ' + quoteArgument(isSecretArgument(argv, commandName, i) ? REDACTED_ARGUMENT : argv[i]!);
  return line;
}

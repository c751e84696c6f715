// A one-shot RESP connection for `caskdb cluster status|add|remove|transfer`: sends one command to a
// server's client port and returns the reply (simple string, bulk, integer or error). Bounded by a timeout.
import net from 'node:net';
import { CaskError, ErrorCode } from '../util/errors.js';
import { parseAddress } from './peer-transport.js';

export type AdminReply = { readonly ok: true; readonly value: string } | { readonly ok: false; readonly error: string };

const REPLY_BYTES_MAX = 16 * 1024 * 1024;

function parse(buf: Buffer): AdminReply | undefined {
  const nl = buf.indexOf('\r\n');
  if (nl < 0) return undefined;
  const line = buf.toString('utf8', 1, nl);
  switch (String.fromCharCode(buf[0]!)) {
    case '+':
    case ':':
      return { ok: true, value: line };
    case '-':
      return { ok: false, error: line };
    case '$': {
      const n = Number(line);
      if (n < 0) return { ok: true, value: '' };
      if (buf.length < nl + 2 + n + 2) return undefined;
      return { ok: true, value: buf.toString('utf8', nl + 2, nl + 2 + n) };
    }
    default:
      return { ok: false, error: `unexpected reply type ${String.fromCharCode(buf[0]!)}` };
  }
}

export function adminCall(address: string, args: readonly string[], timeoutMs: number): Promise<AdminReply> {
  const { host, port } = parseAddress(address);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new CaskError(ErrorCode.Timeout, `${address}: no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('connect', () => s.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > REPLY_BYTES_MAX) s.destroy(new Error('reply too large'));
      const r = parse(buf);
      if (r === undefined) return;
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(new CaskError(ErrorCode.NoServer, `${address}: ${e.message}`));
    });
  });
}

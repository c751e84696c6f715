// Loopback ports for servers a test starts in another process (caskdb nodes, ZooKeeper), where the port must
// be chosen before the process listens on it. A port from `listen(0)` comes from the kernel's ephemeral
// range, which is also where every outgoing connection of every running test takes its local port: in the
// gap between picking and listening, a connection could take it (seen as EADDRINUSE at a node's start).
// So ports are drawn at random from below that range, checked free by binding, and never handed out twice
// in one process; two test processes drawing the same port in the same instant is the remaining, tiny risk.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const RANGE_LOW = 10_000;
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (32768 unless configured otherwise). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A loopback port nothing listens on now, outside the ephemeral range when the machine leaves room for it. */
export async function freePort(): Promise<number> {
  const high = ephemeralLow();
  if (high - RANGE_LOW < 1000) return kernelPort();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = RANGE_LOW + Math.floor(Math.random() * (high - RANGE_LOW));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free loopback port found in ${RANGE_LOW}–${high - 1}`);
}

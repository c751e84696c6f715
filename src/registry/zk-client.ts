// A small promise-returning, typed face over node-zookeeper-client (pure JS: installs from the npm
// registry alone, no native build). Errors keep ZooKeeper's numeric code so callers branch on it.
import zookeeper from 'node-zookeeper-client';
import type { Client, Event as ZkEvent, Stat } from 'node-zookeeper-client';

export type { Client as ZkClient, Event as ZkEvent, Stat as ZkStat } from 'node-zookeeper-client';
export type ZkWatcher = (event: ZkEvent) => void;

export const ZkState = zookeeper.State;
export const ZkCode = {
  noNode: zookeeper.Exception.NO_NODE,
  nodeExists: zookeeper.Exception.NODE_EXISTS,
  badVersion: zookeeper.Exception.BAD_VERSION,
  notEmpty: zookeeper.Exception.NOT_EMPTY,
  connectionLoss: zookeeper.Exception.CONNECTION_LOSS,
  sessionExpired: zookeeper.Exception.SESSION_EXPIRED,
} as const;

export interface ZkClientOptions {
  sessionTimeout: number;
  spinDelay: number;
  retries: number;
  /** Resume an existing session (tests use this to force a session expiry). */
  sessionId?: Buffer;
  sessionPassword?: Buffer;
}

export function createZkClient(connect: string, options: ZkClientOptions): Client {
  return zookeeper.createClient(connect, options);
}

/** ZooKeeper's error code of `error`, or undefined when it is not a ZooKeeper exception. */
export function zkErrorCode(error: unknown): number | undefined {
  return error instanceof zookeeper.Exception ? error.getCode() : undefined;
}

function settle<T>(resolve: (v: T) => void, reject: (e: unknown) => void): (error: unknown, value: T) => void {
  return (error, value) => (error ? reject(error) : resolve(value));
}

export function zkCreate(client: Client, path: string, data: Buffer, ephemeral: boolean): Promise<string> {
  const mode = ephemeral ? zookeeper.CreateMode.EPHEMERAL : zookeeper.CreateMode.PERSISTENT;
  return new Promise((resolve, reject) => client.create(path, data, mode, settle(resolve, reject)));
}

export function zkMkdirp(client: Client, path: string): Promise<string> {
  return new Promise((resolve, reject) => client.mkdirp(path, settle(resolve, reject)));
}

/** The node's stat, or undefined when it does not exist. */
export function zkExists(client: Client, path: string, watcher?: ZkWatcher): Promise<Stat | undefined> {
  return new Promise((resolve, reject) => {
    const cb = (error: unknown, stat: Stat | null | undefined): void => (error ? reject(error) : resolve(stat ?? undefined));
    if (watcher === undefined) client.exists(path, cb);
    else client.exists(path, watcher, cb);
  });
}

export function zkGetChildren(client: Client, path: string, watcher?: ZkWatcher): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const cb = (error: unknown, children: string[]): void => (error ? reject(error) : resolve(children));
    if (watcher === undefined) client.getChildren(path, cb);
    else client.getChildren(path, watcher, cb);
  });
}

export function zkGetData(client: Client, path: string, watcher?: ZkWatcher): Promise<{ data: Buffer | undefined; stat: Stat }> {
  return new Promise((resolve, reject) => {
    const cb = (error: unknown, data: Buffer | null, stat: Stat): void => (error ? reject(error) : resolve({ data: data ?? undefined, stat }));
    if (watcher === undefined) client.getData(path, cb);
    else client.getData(path, watcher, cb);
  });
}

export function zkSetData(client: Client, path: string, data: Buffer, version: number): Promise<Stat> {
  return new Promise((resolve, reject) => client.setData(path, data, version, settle(resolve, reject)));
}

export function zkRemove(client: Client, path: string, version: number): Promise<void> {
  return new Promise((resolve, reject) => client.remove(path, version, (error) => (error ? reject(error) : resolve())));
}

/** The parts of node-zookeeper-client's (1.x) connection manager that `abandonZkClient` and `guardHandshake` touch. */
interface ConnectionManagerInternals {
  connect: () => void;
  onSocketConnected: () => void;
  /** 1 = CONNECTING in the library's own state numbering (its connection manager's STATES). */
  state?: number;
  socket?: { destroy(): void };
  /** Requests not written yet (queued while disconnected); each ends through its callback. */
  packetQueue?: { shift(): { callback?: (error: unknown) => void } | undefined };
}

const CONNECTION_MANAGER_CONNECTING = 1;

/**
 * Bounds the session handshake. node-zookeeper-client clears its connect timer as soon as TCP connects and
 * has no read timeout, so a server that accepts the socket but never answers the ConnectRequest (one that is
 * starting or stopping; the kernel completes a TCP handshake from the listen backlog even while the process
 * serves nothing) would leave the client waiting for good: no state event, no retry. This destroys such a
 * socket after `timeoutMs`; the library then tries again (the next server, after its spin delay).
 * Call it before `connect()`.
 */
export function guardHandshake(client: Client, timeoutMs: number): void {
  const cm = (client as unknown as { connectionManager?: ConnectionManagerInternals }).connectionManager;
  if (cm === undefined || typeof cm.onSocketConnected !== 'function') return;
  const onSocketConnected = cm.onSocketConnected;
  cm.onSocketConnected = function (this: ConnectionManagerInternals) {
    onSocketConnected.call(this);
    const socket = this.socket;
    const timer = setTimeout(() => {
      if (this.socket === socket && this.state === CONNECTION_MANAGER_CONNECTING) socket?.destroy();
    }, timeoutMs);
    timer.unref();
  };
}

/**
 * Stops a client that is not connected (never was, or its session expired) without sending anything:
 * node-zookeeper-client's close() would write a close-session packet to a socket that may not exist
 * (a TypeError thrown from a timer) and would otherwise keep reconnecting forever.
 *
 * Requests queued while it was disconnected are failed here: node-zookeeper-client fails the requests it
 * has sent when a session expires, but keeps the unsent ones queued for a reconnection that an expired or
 * abandoned client never makes, so an operation started just before a disconnection would never settle
 * (and a registration or watch loop awaiting it would stall for good).
 */
export function abandonZkClient(client: Client): void {
  const cm = (client as unknown as { connectionManager?: ConnectionManagerInternals }).connectionManager;
  if (cm === undefined || typeof cm.connect !== 'function') return;
  cm.connect = () => undefined;
  cm.onSocketConnected = function (this: ConnectionManagerInternals) { this.socket?.destroy(); };
  cm.socket?.destroy();
  const queue = cm.packetQueue;
  if (queue === undefined || typeof queue.shift !== 'function') return;
  const code = client.getState() === zookeeper.State.EXPIRED ? ZkCode.sessionExpired : ZkCode.connectionLoss;
  // Exception.create is the library's own factory (untyped in @types/node-zookeeper-client).
  const exceptions = zookeeper.Exception as unknown as { create(code: number): Error };
  for (let packet = queue.shift(); packet !== undefined; packet = queue.shift()) packet.callback?.(exceptions.create(code));
}

// Lifecycle hooks: code that must run once the server listens and before it closes (ZooKeeper
// registration is one). Hooks start in order after listen and stop in reverse order first thing at
// shutdown, so a server leaves the registry before it stops serving.
import type { ServerConfig } from '../config/schema.js';
import type { KvStore } from '../store/kv-store.js';
import type { ServerLogger } from './logger.js';

export interface ServerHookContext {
  readonly config: ServerConfig;
  /** The address actually listened on (port resolved when configured as 0). */
  readonly address: { readonly host: string; readonly port: number };
  readonly store: KvStore;
  readonly log: ServerLogger;
}

export interface ServerHook {
  readonly name: string;
  start(context: ServerHookContext): Promise<void> | void;
  stop(): Promise<void> | void;
}

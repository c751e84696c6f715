// The Redis-protocol server: connections, commands, INFO, lifecycle hooks.
export { CaskServer, type CaskServerOptions } from './server.js';
export { ServerLogger } from './logger.js';
export type { ServerHook, ServerHookContext } from './hooks.js';
export type { ServerContext, ServerStats } from './context.js';

// The data layer between the server and a storage engine: the `KvStore` seam, serializable mutations
// and their pure apply function, the data-command table, and the standalone store.
export type { KvStore, StoreMode } from './kv-store.js';
export type { KvView, MutableView } from './kv-view.js';
export { DirectView, OverlayView } from './kv-view.js';
export { type Mutation, type MutationOp, type WatchedKey, encodeMutation, decodeMutation } from './mutation.js';
export { applyMutation, applyCommand, type ApplyContext, type ApplyResult } from './apply-mutation.js';
export { lookupDataCommand, dataCommandNames, checkArity, type DataCommand, type CommandSpec, type ParsedCommand, type ReadContext } from './data-commands.js';
export { PendingReply, WriteGroup } from './pending-reply.js';
export { StandaloneStore, type StandaloneStoreOptions } from './standalone-store.js';
export { MemoryEngine } from './memory-engine.js';
export { ScanCursorTable } from './scan-cursors.js';
export { globMatch } from './glob-match.js';

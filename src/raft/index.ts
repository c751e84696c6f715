// The Raft core's public surface: RawNode (the application's handle), Storage and MemoryStorage, the
// value types, the byte codec and the seeded PRNG. See docs/raft.md for the Ready contract.
export { RawNode, type Status, bootstrapState } from './raw-node.js';
export { type RaftConfig, type ReadOnlyOption, defaultRaftConfig, CAMPAIGN_TRANSFER } from './raft.js';
export {
  type Storage,
  type InitialState,
  MemoryStorage,
  RaftStorageError,
  StorageErrorKind,
  type StorageErrorKindValue,
  isStorageError,
} from './storage.js';
export * from './types.js';
export {
  encodeMessage,
  decodeMessage,
  encodeEntries,
  decodeEntries,
  encodeConfChange,
  decodeConfChange,
  encodeSnapshot,
  decodeSnapshot,
} from './codec.js';
export { applyConfChange, validateConfChange, quorumSize } from './conf-change.js';
export { type Prng, Xoshiro128 } from './prng.js';

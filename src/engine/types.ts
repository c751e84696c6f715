// The engine's public types: options, iteration ranges, statistics, and `KvEngine`, the shape `Db`
// implements. Other modules (server, cluster) depend on `KvEngine`, not on `Db`, so an in-memory engine
// can stand in for it in their tests.
import type { ValueCacheStats } from '../cache/value-cache.js';

/** Keys and values: strings are encoded as UTF-8; bytes are taken as they are (copied on write). */
export type Bytes = string | Uint8Array;

export type SyncMode = 'always' | 'everysec' | 'none';

export interface IterateOptions {
  /** Only keys starting with these bytes. Combines with the bounds below (both must hold). */
  prefix?: Bytes;
  gt?: Bytes;
  gte?: Bytes;
  lt?: Bytes;
  lte?: Bytes;
  /** Descending key order. */
  reverse?: boolean;
  /** At most this many entries. */
  limit?: number;
}

/** One operation of an atomic write. */
export type WriteOp =
  | { readonly type: 'put'; readonly key: Bytes; readonly value: Bytes }
  | { readonly type: 'delete'; readonly key: Bytes };

export interface EngineStat {
  /** Live keys in the index. */
  keys: number;
  /** Data files on disk, the active one included. */
  dataFiles: number;
  /** Id of the active (append) data file. */
  activeFileId: number;
  /** Bytes in all data files. */
  diskBytes: number;
  /** Bytes held by superseded or deleted records: what a merge would give back. */
  reclaimableBytes: number;
  /** Estimated heap bytes of the in-memory index, and that per key. */
  indexBytes: number;
  indexBytesPerKey: number;
  /** Highest batch sequence number used so far. */
  lastSeq: number;
  /** Whether a merge is running now. */
  merging: boolean;
  /** Wall time the last open took, in milliseconds. */
  openMs: number;
  sync: SyncMode;
  /** Whether point reads are served from memory maps (`mmapReads` asked for and the native addon built). */
  mmapReads: boolean;
  /** Whether appends go through a memory map (`mmapWrites` asked for and the native addon built). */
  mmapWrites: boolean;
  /** Whether the active file's space is reserved with written zeros (`zeroFillAppends`). */
  zeroFillAppends: boolean;
  /** The value cache's size and hit counts; absent when it is off (`valueCacheBytes: 0`). */
  valueCache?: ValueCacheStats;
}

/** What the server and the cluster need from a storage engine. `Db` is the real one. */
export interface KvEngine {
  get(key: Bytes): Buffer | undefined;
  has(key: Bytes): boolean;
  /** Number of live keys. */
  readonly size: number;
  put(key: Bytes, value: Bytes): Promise<void>;
  delete(key: Bytes): Promise<void>;
  /** Applies all operations atomically (all visible and recovered together, or none). */
  write(ops: readonly WriteOp[]): Promise<void>;
  iterate(options?: IterateOptions): IterableIterator<[Buffer, Buffer]>;
  keys(options?: IterateOptions): IterableIterator<Buffer>;
  stat(): EngineStat;
  sync(): Promise<void>;
  close(): Promise<void>;
}

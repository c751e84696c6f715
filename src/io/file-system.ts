// The engine's file-system seam: every byte the engine reads or writes goes through these interfaces,
// so tests can inject faults (ENOSPC, failed fsync, short writes) without touching the engine.
// Reads and appends are synchronous (page-cache speed, no thread-pool hop); fsync is asynchronous
// because it blocks for milliseconds and belongs on libuv's thread pool.

export interface RandomAccessFile {
  readonly path: string;
  /** Positioned read; returns the bytes read (fewer only at end of file). */
  read(target: Uint8Array, targetOffset: number, length: number, position: number): number;
  /** Positioned read on the thread pool, for long sequential reads that must not block the loop. */
  readAsync(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number>;
  /** Positioned write; may write fewer bytes than asked (a short write), never more. */
  write(source: Uint8Array, sourceOffset: number, length: number, position: number): number;
  /** fdatasync on the thread pool. */
  datasync(): Promise<void>;
  datasyncSync(): void;
  truncate(length: number): void;
  /** The file will not be written again: drop any space reserved past its data (see `appendLog`). */
  seal(): void;
  size(): number;
  close(): void;
}

export interface DirLock {
  release(): Promise<void>;
}

export interface OpenFileOptions {
  writable: boolean;
  create: boolean;
  /**
   * The file is an append-only log (the engine's active data file): it is written only at its end or
   * over bytes already written, sealed with `truncate(size())`, and may carry a zero-filled reservation past
   * its data after a crash, which recovery cuts off. A file system may write such a file differently
   * (NodeFileSystem's `mmapWrites`).
   */
  appendLog?: boolean;
}

export interface FileSystem {
  /** Opens a file for positioned reads, and for writes when `writable` (created if `create`). */
  openFile(path: string, options: OpenFileOptions): RandomAccessFile;
  readdir(dir: string): string[];
  exists(path: string): boolean;
  mkdir(dir: string): void;
  rename(from: string, to: string): void;
  /**
   * Moves a file to another directory: a rename, or where the two are on different file systems (EXDEV:
   * a data directory that is a mount point, with `<dir>-merge` beside it on the parent) a copy under a
   * temporary name beside `to`, fsynced and renamed over `to`, and then `from` removed. Safe to run again
   * after a crash at any point while `from` still exists.
   */
  moveFile(from: string, to: string): void;
  unlink(path: string): void;
  /** Copies a file on the thread pool (fails if the target exists). */
  copyFile(from: string, to: string): Promise<void>;
  /** Removes a directory and everything below it; no error if it is missing. */
  removeTree(path: string): void;
  /** fsync of a directory, making renames, creations and deletions in it durable. */
  syncDir(dir: string): void;
  /** Bytes available to this user on the file system holding `path`. */
  freeBytes(path: string): number;
  /** Takes the exclusive directory lock (flock(2) on `<dir>/flock`); fails with CASKDB_LOCKED. */
  lockDir(dir: string): Promise<DirLock>;
}

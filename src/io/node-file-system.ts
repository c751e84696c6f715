// The real file system: node:fs with synchronous positioned I/O and thread-pool fsync.
// Every failure becomes a typed CaskError (ENOSPC → CASKDB_NO_SPACE, others → CASKDB_IO).
// With `mmapReads`, small reads of bytes the file is known to hold are copied from a read-only memory map
// (src/io/mmap.ts) instead of costing a pread(2) each. With `mmapWrites`, appends to a file opened as an
// `appendLog` (the engine's active data file) are copied into a shared read-write map instead of costing a
// pwrite(2) each: the bytes are in the page cache when `write` returns, exactly as after pwrite, so they
// survive a killed process, and fdatasync makes them durable the same way. Disk space is reserved ahead with
// posix_fallocate (ENOSPC surfaces there, never as a fault inside a copy); the zero-filled reservation past
// the data is cut off by `truncate`/`close`, and by recovery after a crash (the scanner stops at a zero header).
// With `zeroFillAppends` (the engine sets it under `sync: 'always'`), an append log reserves its space by
// writing zeros ahead instead, up to 1 MiB at a time: appends then land in blocks the file already has, so an
// fdatasync carries no size change or extent conversion for the journal to commit — on the benchmark VM it
// took ~115 µs instead of ~170–200 µs and a third less kernel CPU.
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { CaskError, ErrorCode, ioError } from '../util/errors.js';
import { lockDirectory } from './dir-lock.js';
import type { DirLock, FileSystem, OpenFileOptions, RandomAccessFile } from './file-system.js';
import { allocateFileRange, FileMapping, mmapAvailable, nativePread } from './mmap.js';

/** Reads up to this size go through the map; a larger read pays one pread(2) over many bytes anyway. */
export const MMAP_READ_BYTES_MAX = 64 * 1024;
/** A writable file's map reaches this far past its end at least, so appends rarely force a remap. */
const MMAP_HEADROOM_BYTES = 64 * 1024 * 1024;
/** A mapped append log reserves disk space ahead by its own size, within these bounds (small files stay small). */
const PREALLOCATE_BYTES_MIN = 64 * 1024;
const PREALLOCATE_BYTES_MAX = 8 * 1024 * 1024;
/**
 * Appends larger than this go to pwrite(2) even in a mapped append log (after the same reservation): one call
 * moves many pages without a page fault each, which on the benchmark VM made batches of 1,000 puts 30% slower.
 */
const MAP_WRITE_BYTES_MAX = 16 * 1024;
/** Pages of a mapped append log this far behind the write position leave the resident set. */
const RELEASE_BEHIND_BYTES = 1024 * 1024;
/** A zero-filled reservation grows by the file's own size, up to this much per step (the step is one pwrite). */
const ZERO_FILL_BYTES_MAX = 1024 * 1024;
let zeroes: Buffer | undefined;
/** Reads that are not served from a map: the addon's pread where it is built (~1 µs cheaper), else fs.readSync. */
const pread = nativePread() ?? ((fd: number, target: Uint8Array, targetOffset: number, length: number, position: number) => fs.readSync(fd, target, targetOffset, length, position));
const PAGE_BYTES = 4096;

function roundUpToPage(bytes: number): number {
  return Math.ceil(bytes / PAGE_BYTES) * PAGE_BYTES;
}

/**
 * The error a recursive mkdir really met. Node reports ENOENT for a read-only file system (EROFS) and some
 * others; making the first missing directory on its own gives the kernel's own answer. A file where a
 * directory should be is named as such.
 */
function trueMkdirError(dir: string, error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (code === 'EEXIST' || code === 'ENOTDIR') {
    // Node says "file already exists, mkdir <dir>": name the path that is in the way instead.
    for (let path = dir; ; path = dirname(path)) {
      let stat: fs.Stats | undefined;
      try {
        stat = fs.statSync(path, { throwIfNoEntry: false });
      } catch {
        stat = undefined; // ENOTDIR: a parent is the file in the way
      }
      if (stat !== undefined && !stat.isDirectory()) return new Error(`${path} exists and is not a directory`);
      if (dirname(path) === path) return error;
    }
  }
  if (code !== 'ENOENT') return error;
  let missing = dir;
  for (let parent = dirname(missing); parent !== missing && !fs.existsSync(parent); parent = dirname(parent)) missing = parent;
  try {
    fs.mkdirSync(missing);
    fs.rmdirSync(missing);
    return error;
  } catch (direct) {
    return direct;
  }
}

class NodeFile implements RandomAccessFile {
  private fd: number;
  /** With mmap reads: bytes 0..readableEnd are known to be in the file (its size at open, then writes). */
  private readableEnd = 0;
  private mapping: FileMapping | undefined;
  /** With mapped writes: the end of the data, the end of the reserved (fallocated) bytes, the write map. */
  private dataEnd = 0;
  private allocatedEnd = 0;
  private writeMapping: FileMapping | undefined;
  private releasedUpTo = 0;
  /** Appends go into space reserved ahead (mapped writes, zero-filled appends); `size()` is then `dataEnd`. */
  private readonly reserving: boolean;

  constructor(
    readonly path: string,
    fd: number,
    private readonly writable: boolean,
    private readonly mmapReads: boolean,
    private readonly mapWrites: boolean,
    private readonly zeroFill: boolean,
  ) {
    this.fd = fd;
    this.reserving = mapWrites || zeroFill;
    if (mmapReads || this.reserving) this.readableEnd = this.physicalSize();
    this.dataEnd = this.readableEnd;
    this.allocatedEnd = this.readableEnd;
  }

  read(target: Uint8Array, targetOffset: number, length: number, position: number): number {
    if (this.mmapReads && length > 0 && length <= MMAP_READ_BYTES_MAX && position + length <= this.readableEnd) {
      const mapping = this.mappingCovering(position + length);
      if (mapping.copy(position, target, targetOffset, length)) return length;
      throw new CaskError(ErrorCode.Io, `read ${this.path} failed: the mapped pages at offset ${position} could not be read (SIGBUS: the file was truncated under the map, or the device failed)`, { file: this.path });
    }
    try {
      return pread(this.fd, target, targetOffset, length, position);
    } catch (error) {
      throw ioError('read', this.path, error);
    }
  }

  readAsync(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.read(this.fd, target, targetOffset, length, position, (error, bytesRead) =>
        error ? reject(ioError('read', this.path, error)) : resolve(bytesRead),
      );
    });
  }

  /** The map, made or grown so that it covers `end`; a writable file's map reaches past its end. */
  private mappingCovering(end: number): FileMapping {
    const current = this.mapping;
    if (current !== undefined && current.length >= end) return current;
    current?.close();
    const length = this.writable ? Math.max(2 * this.readableEnd, this.readableEnd + MMAP_HEADROOM_BYTES) : this.readableEnd;
    try {
      this.mapping = FileMapping.map(this.fd, length);
    } catch (error) {
      this.mapping = undefined;
      throw ioError('mmap', this.path, error);
    }
    return this.mapping;
  }

  write(source: Uint8Array, sourceOffset: number, length: number, position: number): number {
    if (this.reserving && length > 0) {
      if (position + length > this.allocatedEnd) this.reserve(position + length);
      if (this.mapWrites && length <= MAP_WRITE_BYTES_MAX && position + length <= this.allocatedEnd) {
        return this.copyIntoMap(source, sourceOffset, length, position);
      }
    }
    let written: number;
    try {
      written = fs.writeSync(this.fd, source, sourceOffset, length, position);
    } catch (error) {
      throw ioError('write', this.path, error);
    }
    this.noteWritten(position + written);
    return written;
  }

  private noteWritten(end: number): void {
    if (end > this.dataEnd) this.dataEnd = end;
    if (end > this.allocatedEnd) this.allocatedEnd = end;
    if (end > this.readableEnd) this.readableEnd = end;
  }

  /** A write through the shared map (space already reserved): map far enough, copy, and let old pages go. */
  private copyIntoMap(source: Uint8Array, sourceOffset: number, length: number, position: number): number {
    const end = position + length;
    let mapping = this.writeMapping;
    if (mapping === undefined || mapping.length < end) {
      mapping?.close();
      this.writeMapping = undefined;
      try {
        mapping = FileMapping.map(this.fd, roundUpToPage(Math.max(2 * end, end + MMAP_HEADROOM_BYTES)), true);
      } catch (error) {
        throw ioError('mmap', this.path, error);
      }
      this.writeMapping = mapping;
      this.releasedUpTo = 0;
    }
    if (!mapping.write(position, source, sourceOffset, length)) {
      throw new CaskError(ErrorCode.Io, `write ${this.path} failed: the mapped pages at offset ${position} could not be written (SIGBUS: the file was truncated under the map, or the device failed)`, { file: this.path });
    }
    this.noteWritten(end);
    // Written pages stay resident until dropped; keep only the last MiB or so of them in the process's RSS.
    const releasable = Math.floor((position - RELEASE_BEHIND_BYTES) / RELEASE_BEHIND_BYTES) * RELEASE_BEHIND_BYTES;
    if (releasable > this.releasedUpTo) {
      mapping.release(this.releasedUpTo, releasable - this.releasedUpTo);
      this.releasedUpTo = releasable;
    }
    return length;
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.fd, (error) => (error ? reject(ioError('fsync', this.path, error)) : resolve()));
    });
  }

  datasyncSync(): void {
    try {
      fs.fdatasyncSync(this.fd);
    } catch (error) {
      throw ioError('fsync', this.path, error);
    }
  }

  /** Reserves disk blocks up to `end` and some way past it (64 KiB–8 MiB); with too little space left for that, exactly to `end`. */
  private reserve(end: number): void {
    if (this.zeroFill) {
      this.zeroFillTo(roundUpToPage(end + Math.min(ZERO_FILL_BYTES_MAX, Math.max(PREALLOCATE_BYTES_MIN, end))));
      return;
    }
    const generous = roundUpToPage(end + Math.min(PREALLOCATE_BYTES_MAX, Math.max(PREALLOCATE_BYTES_MIN, end)));
    try {
      allocateFileRange(this.fd, this.allocatedEnd, generous - this.allocatedEnd);
      this.allocatedEnd = generous;
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw ioError('fallocate', this.path, error);
    }
    try {
      allocateFileRange(this.fd, this.allocatedEnd, end - this.allocatedEnd);
      this.allocatedEnd = end;
    } catch (error) {
      throw ioError('fallocate', this.path, error);
    }
  }

  /**
   * Writes zeros from the reservation's end to `target`. A full disk stops it early without an error: the
   * append that asked then extends the file itself and meets ENOSPC, as it would without a reservation.
   */
  private zeroFillTo(target: number): void {
    zeroes ??= Buffer.alloc(ZERO_FILL_BYTES_MAX);
    while (this.allocatedEnd < target) {
      let written: number;
      try {
        written = fs.writeSync(this.fd, zeroes, 0, Math.min(zeroes.length, target - this.allocatedEnd), this.allocatedEnd);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 'ENOSPC' || code === 'EDQUOT') return;
        throw ioError('write', this.path, error);
      }
      this.allocatedEnd += written;
    }
  }

  truncate(length: number): void {
    try {
      fs.ftruncateSync(this.fd, length);
      this.readableEnd = length;
      this.dataEnd = length;
      this.allocatedEnd = length;
    } catch (error) {
      throw ioError('truncate', this.path, error);
    }
  }

  seal(): void {
    if (!this.reserving) return;
    this.writeMapping?.close();
    this.writeMapping = undefined;
    if (this.allocatedEnd > this.dataEnd) this.truncate(this.dataEnd);
  }

  /** The file's length; for a mapped append log, the end of its data (the reservation past it is not data). */
  size(): number {
    return this.reserving ? this.dataEnd : this.physicalSize();
  }

  private physicalSize(): number {
    try {
      return fs.fstatSync(this.fd).size;
    } catch (error) {
      throw ioError('stat', this.path, error);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.mapping?.close();
    this.mapping = undefined;
    this.writeMapping?.close();
    this.writeMapping = undefined;
    try {
      // A clean close leaves no reservation behind: the file ends where its data does.
      if (this.reserving && this.allocatedEnd > this.dataEnd) fs.ftruncateSync(fd, this.dataEnd);
    } catch (error) {
      this.fd = -1;
      fs.closeSync(fd);
      throw ioError('truncate', this.path, error);
    }
    this.fd = -1;
    try {
      fs.closeSync(fd);
    } catch (error) {
      throw ioError('close', this.path, error);
    }
  }
}

export interface NodeFileSystemOptions {
  /** Serve small reads from read-only memory maps when the native addon is built (see src/io/mmap.ts). */
  mmapReads?: boolean;
  /** Write files opened as `appendLog` through shared memory maps when the native addon is built. */
  mmapWrites?: boolean;
  /** Reserve the space of files opened as `appendLog` by writing zeros ahead (see the header). */
  zeroFillAppends?: boolean;
}

export class NodeFileSystem implements FileSystem {
  /** Whether reads really use memory maps: asked for, and the addon is built. */
  readonly mmapReads: boolean;
  /** Whether appends to `appendLog` files really go through memory maps. */
  readonly mmapWrites: boolean;
  /** Whether append logs reserve their space with written zeros. */
  readonly zeroFillAppends: boolean;

  constructor(options: NodeFileSystemOptions = {}) {
    this.mmapReads = options.mmapReads === true && mmapAvailable();
    this.mmapWrites = options.mmapWrites === true && mmapAvailable();
    this.zeroFillAppends = options.zeroFillAppends === true;
  }

  openFile(path: string, options: OpenFileOptions): RandomAccessFile {
    // Not 'a' flags: O_APPEND would ignore the positions the engine writes at.
    const flags = options.writable ? (options.create ? 'rw+create' : 'rw') : 'r';
    const numericFlags = options.writable
      ? fs.constants.O_RDWR | (options.create ? fs.constants.O_CREAT : 0)
      : fs.constants.O_RDONLY;
    try {
      const fd = fs.openSync(path, numericFlags, 0o644);
      try {
        const appendLog = options.writable && options.appendLog === true;
        return new NodeFile(path, fd, options.writable, this.mmapReads, this.mmapWrites && appendLog, this.zeroFillAppends && appendLog);
      } catch (error) {
        fs.closeSync(fd);
        throw error;
      }
    } catch (error) {
      throw ioError(`open (${flags})`, path, error);
    }
  }

  readdir(dir: string): string[] {
    try {
      return fs.readdirSync(dir);
    } catch (error) {
      throw ioError('readdir', dir, error);
    }
  }

  exists(path: string): boolean {
    return fs.existsSync(path);
  }

  mkdir(dir: string): void {
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw ioError('mkdir', dir, trueMkdirError(dir, error));
    }
  }

  rename(from: string, to: string): void {
    try {
      fs.renameSync(from, to);
    } catch (error) {
      throw ioError(`rename to ${to}:`, from, error);
    }
  }

  moveFile(from: string, to: string): void {
    try {
      fs.renameSync(from, to);
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EXDEV') throw ioError(`rename to ${to}:`, from, error);
    }
    const staging = `${to}.moving`;
    try {
      fs.copyFileSync(from, staging);
      const fd = fs.openSync(staging, 'r+');
      try {
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(staging, to);
    } catch (error) {
      fs.rmSync(staging, { force: true });
      throw ioError(`copy (across file systems) to ${to}:`, from, error);
    }
    this.unlink(from);
  }

  unlink(path: string): void {
    try {
      fs.unlinkSync(path);
    } catch (error) {
      throw ioError('unlink', path, error);
    }
  }

  async copyFile(from: string, to: string): Promise<void> {
    try {
      await fs.promises.copyFile(from, to, fs.constants.COPYFILE_EXCL);
    } catch (error) {
      throw ioError(`copy to ${to}:`, from, error);
    }
  }

  removeTree(path: string): void {
    try {
      fs.rmSync(path, { recursive: true, force: true });
    } catch (error) {
      throw ioError('remove', path, error);
    }
  }

  syncDir(dir: string): void {
    let fd = -1;
    try {
      fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      fs.fsyncSync(fd);
    } catch (error) {
      throw ioError('fsync directory', dir, error);
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }

  freeBytes(path: string): number {
    try {
      const stats = fs.statfsSync(path);
      return stats.bavail * stats.bsize;
    } catch (error) {
      throw ioError('statfs', path, error);
    }
  }

  lockDir(dir: string): Promise<DirLock> {
    return lockDirectory(join(dir, 'flock'));
  }
}

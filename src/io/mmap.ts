// Memory maps of data files, through the small native addon in native/mmap (built by `npm install`; when
// it could not be built, `mmapAvailable()` is false and all I/O stays on pread/pwrite).
//
// Invariants: JavaScript never holds a view of mapped memory — `copy` and `write` copy between the map and
// the caller's buffer in native code, inside a SIGBUS guard, so a file truncated under the map or failed
// device I/O becomes a typed CASKDB_IO error rather than a crash, and `close` can unmap at once without
// leaving a dangling view. Bytes are written through a map only after `allocateFileRange` reserved them.
// The addon also offers a plain pread(2) (`nativePread`), which unmapped reads use when it is built.
// `CASKDB_NATIVE=off` in the environment leaves the addon unloaded: plain node:fs I/O throughout.
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's surface (native/mmap/caskdb_mmap.c). */
interface MmapAddon {
  map(fd: number, length: number, writable: boolean): object;
  unmap(handle: object): void;
  /** Both return `length`, or −1 when the mapped pages raised SIGBUS. */
  copy(handle: object, position: number, target: Uint8Array, targetOffset: number, length: number): number;
  write(handle: object, position: number, source: Uint8Array, sourceOffset: number, length: number): number;
  /** posix_fallocate: 0, or an errno. */
  allocate(fd: number, offset: number, length: number): number;
  release(handle: object, offset: number, length: number): void;
  /** pread(2): bytes read, or −errno. */
  pread(fd: number, target: Uint8Array, targetOffset: number, length: number, position: number): number;
}

const ADDON_PATH = join('native', 'mmap', 'build', 'Release', 'caskdb_mmap.node');

let addon: MmapAddon | null | undefined;
let loadFailure = '';

/** Finds the addon beside the package root, whether this module runs from src/ (tsx) or dist/src/. */
function loadAddon(): MmapAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env.CASKDB_NATIVE === 'off') {
    loadFailure = 'CASKDB_NATIVE=off turns the native addon off';
    return addon;
  }
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    const candidate = join(dir, ADDON_PATH);
    if (existsSync(candidate)) {
      try {
        addon = createRequire(import.meta.url)(candidate) as MmapAddon;
      } catch (error) {
        loadFailure = `${candidate} did not load: ${error instanceof Error ? error.message : String(error)}`;
      }
      return addon;
    }
    dir = dirname(dir);
  }
  loadFailure = `${ADDON_PATH} is not built (npm install builds it; it needs python3, make, gcc and g++)`;
  return addon;
}

/** Whether memory-mapped reads can be used in this process. */
export function mmapAvailable(): boolean {
  return loadAddon() !== null;
}

/** Why `mmapAvailable()` is false ('' when it is true). */
export function mmapUnavailableReason(): string {
  loadAddon();
  return loadFailure;
}

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(Object.entries(osConstants.errno).map(([name, errno]) => [errno, name]));

/** An Error for a failed system call as node:fs would shape it (`code` 'EIO', `errno`), for `ioError`. */
function systemError(errno: number, call: string): Error {
  const code = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  return Object.assign(new Error(`${code}: ${call} failed`), { code, errno });
}

type Pread = (fd: number, target: Uint8Array, targetOffset: number, length: number, position: number) => number;

/**
 * A pread(2) straight from native code, or undefined without the addon (then use fs.readSync). Returns the
 * bytes read; a failure throws an Error with a `code` (EIO, EBADF, …) as node:fs would.
 */
export function nativePread(): Pread | undefined {
  const native = loadAddon();
  if (native === null) return undefined;
  return (fd, target, targetOffset, length, position) => {
    const read = native.pread(fd, target, targetOffset, length, position);
    if (read < 0) throw systemError(-read, `pread of ${length} bytes at ${position}`);
    return read;
  };
}

/**
 * Reserves disk blocks for `length` bytes at `offset` (posix_fallocate), growing the file if needed, so
 * bytes written there through a map cannot meet a full disk. Throws an Error with a `code` (ENOSPC, …).
 */
export function allocateFileRange(fd: number, offset: number, length: number): void {
  const native = loadAddon();
  if (native === null) throw new Error(loadFailure);
  const errno = native.allocate(fd, offset, length);
  if (errno === 0) return;
  throw systemError(errno, `posix_fallocate of ${length} bytes at ${offset}`);
}

/** One MAP_SHARED mapping of the first `length` bytes of a file (it may run past the file's end). */
export class FileMapping {
  private handle: object | undefined;

  private constructor(
    private readonly native: MmapAddon,
    handle: object,
    readonly length: number,
  ) {
    this.handle = handle;
  }

  /** Maps `length` bytes of `fd`, read-only or read-write; throws a plain Error when mmap(2) fails or the addon is missing. */
  static map(fd: number, length: number, writable = false): FileMapping {
    const native = loadAddon();
    if (native === null) throw new Error(loadFailure);
    return new FileMapping(native, native.map(fd, length, writable), length);
  }

  /**
   * Copies `length` bytes at `position` into `target`; returns false when the pages could not be read
   * (SIGBUS: the file is shorter than the mapping there, or the device failed).
   */
  copy(position: number, target: Uint8Array, targetOffset: number, length: number): boolean {
    if (this.handle === undefined) throw new Error('copy from a closed mapping');
    return this.native.copy(this.handle, position, target, targetOffset, length) === length;
  }

  /** Copies `length` bytes of `source` into the map at `position`; false when the pages raised SIGBUS. */
  write(position: number, source: Uint8Array, sourceOffset: number, length: number): boolean {
    if (this.handle === undefined) throw new Error('write to a closed mapping');
    return this.native.write(this.handle, position, source, sourceOffset, length) === length;
  }

  /** Drops a page-aligned range from the resident set; its bytes stay in the file and the page cache. */
  release(offset: number, length: number): void {
    if (this.handle === undefined) return;
    this.native.release(this.handle, offset, length);
  }

  close(): void {
    if (this.handle === undefined) return;
    this.native.unmap(this.handle);
    this.handle = undefined;
  }
}

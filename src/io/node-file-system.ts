// The real file system: node:fs with synchronous positioned I/O and thread-pool fsync.
// Every failure becomes a typed CaskError (ENOSPC → CASKDB_NO_SPACE, others → CASKDB_IO).
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ioError } from '../util/errors.js';
import { lockDirectory } from './dir-lock.js';
import type { DirLock, FileSystem, RandomAccessFile } from './file-system.js';

class NodeFile implements RandomAccessFile {
  private fd: number;

  constructor(readonly path: string, fd: number) {
    this.fd = fd;
  }

  read(target: Uint8Array, targetOffset: number, length: number, position: number): number {
    try {
      return fs.readSync(this.fd, target, targetOffset, length, position);
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

  write(source: Uint8Array, sourceOffset: number, length: number, position: number): number {
    try {
      return fs.writeSync(this.fd, source, sourceOffset, length, position);
    } catch (error) {
      throw ioError('write', this.path, error);
    }
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

  truncate(length: number): void {
    try {
      fs.ftruncateSync(this.fd, length);
    } catch (error) {
      throw ioError('truncate', this.path, error);
    }
  }

  size(): number {
    try {
      return fs.fstatSync(this.fd).size;
    } catch (error) {
      throw ioError('stat', this.path, error);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      fs.closeSync(fd);
    } catch (error) {
      throw ioError('close', this.path, error);
    }
  }
}

export class NodeFileSystem implements FileSystem {
  openFile(path: string, options: { writable: boolean; create: boolean }): RandomAccessFile {
    // Not 'a' flags: O_APPEND would ignore the positions the engine writes at.
    const flags = options.writable ? (options.create ? 'rw+create' : 'rw') : 'r';
    const numericFlags = options.writable
      ? fs.constants.O_RDWR | (options.create ? fs.constants.O_CREAT : 0)
      : fs.constants.O_RDONLY;
    try {
      return new NodeFile(path, fs.openSync(path, numericFlags, 0o644));
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
      throw ioError('mkdir', dir, error);
    }
  }

  rename(from: string, to: string): void {
    try {
      fs.renameSync(from, to);
    } catch (error) {
      throw ioError(`rename to ${to}:`, from, error);
    }
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

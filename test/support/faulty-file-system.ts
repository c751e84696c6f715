// A FileSystem for tests that wraps another one (NodeFileSystem by default) and injects faults on
// demand: fail the Nth write (or every write while a switch is on) with ENOSPC or EIO, cut writes
// short, fail datasync, truncate or rename. It also counts calls, so tests can check group commit.
import type { DirLock, FileSystem, RandomAccessFile } from '../../src/io/file-system.js';
import { NodeFileSystem } from '../../src/io/node-file-system.js';
import { ioError } from '../../src/util/errors.js';

export type FaultOperation = 'write' | 'datasync' | 'truncate' | 'read' | 'rename' | 'syncDir' | 'open' | 'copyFile';

/** A system error like node:fs raises (`code` set), so the engine sees what it would see for real. */
export function systemError(code: string, operation: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: injected fault, ${operation}`);
  error.code = code;
  return error;
}

/**
 * A rule decides, per call, whether that call fails. `nth` counts calls of `operation` made after the
 * rule was added (1-based); without `nth` every matching call fails until the rule is removed. `path`
 * limits the rule to files whose path contains it. `times` limits how often it fires (default: once
 * with `nth`, forever without).
 */
export interface FaultRule {
  operation: FaultOperation;
  /** errno-style code of the injected error, e.g. 'ENOSPC', 'EIO'. */
  code?: string;
  nth?: number;
  path?: string;
  times?: number;
  /** For 'write' only: instead of failing, write just this many bytes (a short write). */
  shortWriteBytes?: number;
}

interface ActiveRule extends FaultRule {
  seen: number;
  fired: number;
}

export interface FaultCounters {
  write: number;
  writeBytes: number;
  datasync: number;
  datasyncSync: number;
  truncate: number;
  read: number;
  rename: number;
  syncDir: number;
  open: number;
  copyFile: number;
}

export class FaultyFileSystem implements FileSystem {
  readonly counters: FaultCounters = { write: 0, writeBytes: 0, datasync: 0, datasyncSync: 0, truncate: 0, read: 0, rename: 0, syncDir: 0, open: 0, copyFile: 0 };
  private rules: ActiveRule[] = [];
  /**
   * Awaited before every asynchronous datasync reaches the disk: tests hold fsyncs back with it to
   * see what is (not yet) acknowledged.
   */
  beforeDatasync: ((path: string) => Promise<void>) | undefined;

  /**
   * `skipSync`: datasync and directory fsync do nothing (still counted) — for tests that open many
   * throwaway directories and do not test durability against power loss.
   */
  constructor(
    readonly inner: FileSystem = new NodeFileSystem(),
    readonly options: { skipSync?: boolean } = {},
  ) {}

  /** Adds a fault rule; returns a function that removes it. */
  inject(rule: FaultRule): () => void {
    const active: ActiveRule = { ...rule, seen: 0, fired: 0 };
    this.rules.push(active);
    return () => this.remove(active);
  }

  /** Removes every rule (space returns, the disk heals). */
  heal(): void {
    this.rules = [];
  }

  resetCounters(): void {
    for (const key of Object.keys(this.counters) as Array<keyof FaultCounters>) this.counters[key] = 0;
  }

  /** The rule that fires for this call, if any. Every matching rule counts the call, fired or not. */
  check(operation: FaultOperation, path: string): FaultRule | undefined {
    let firing: ActiveRule | undefined;
    for (const rule of this.rules) {
      if (rule.operation !== operation) continue;
      if (rule.path !== undefined && !path.includes(rule.path)) continue;
      rule.seen++;
      if (firing !== undefined) continue;
      const limit = rule.times ?? (rule.nth !== undefined ? 1 : Number.POSITIVE_INFINITY);
      if (rule.fired >= limit) continue;
      if (rule.nth !== undefined && rule.seen < rule.nth) continue;
      firing = rule;
    }
    if (firing !== undefined) firing.fired++;
    return firing;
  }

  /** Throws the typed error the real file system would throw for an injected fault. */
  raise(rule: FaultRule, operation: string, path: string): never {
    throw ioError(operation, path, systemError(rule.code ?? 'EIO', operation));
  }

  openFile(path: string, options: { writable: boolean; create: boolean }): RandomAccessFile {
    this.counters.open++;
    const rule = this.check('open', path);
    if (rule !== undefined) this.raise(rule, 'open', path);
    return new FaultyFile(this, this.inner.openFile(path, options));
  }

  readdir(dir: string): string[] {
    return this.inner.readdir(dir);
  }

  exists(path: string): boolean {
    return this.inner.exists(path);
  }

  mkdir(dir: string): void {
    this.inner.mkdir(dir);
  }

  rename(from: string, to: string): void {
    this.counters.rename++;
    const rule = this.check('rename', from);
    if (rule !== undefined) this.raise(rule, 'rename', from);
    this.inner.rename(from, to);
  }

  /** Counted and failed as a rename (it is one where both sides share a file system). */
  moveFile(from: string, to: string): void {
    this.counters.rename++;
    const rule = this.check('rename', from);
    if (rule !== undefined) this.raise(rule, 'rename', from);
    this.inner.moveFile(from, to);
  }

  unlink(path: string): void {
    this.inner.unlink(path);
  }

  /** Delegates when the wrapped file system has copyFile (the engine's backup uses it). */
  async copyFile(from: string, to: string): Promise<void> {
    this.counters.copyFile++;
    const rule = this.check('copyFile', to);
    if (rule !== undefined) this.raise(rule, 'copy', to);
    const inner = this.inner as FileSystem & { copyFile?: (from: string, to: string) => Promise<void> };
    if (inner.copyFile === undefined) throw new Error('the wrapped file system has no copyFile');
    await inner.copyFile(from, to);
  }

  removeTree(path: string): void {
    this.inner.removeTree(path);
  }

  syncDir(dir: string): void {
    this.counters.syncDir++;
    const rule = this.check('syncDir', dir);
    if (rule !== undefined) this.raise(rule, 'fsync directory', dir);
    if (this.options.skipSync !== true) this.inner.syncDir(dir);
  }

  freeBytes(path: string): number {
    return this.inner.freeBytes(path);
  }

  lockDir(dir: string): Promise<DirLock> {
    return this.inner.lockDir(dir);
  }

  private remove(rule: ActiveRule): void {
    this.rules = this.rules.filter((r) => r !== rule);
  }
}

class FaultyFile implements RandomAccessFile {
  constructor(
    private readonly owner: FaultyFileSystem,
    private readonly inner: RandomAccessFile,
  ) {}

  get path(): string {
    return this.inner.path;
  }

  read(target: Uint8Array, targetOffset: number, length: number, position: number): number {
    this.owner.counters.read++;
    const rule = this.owner.check('read', this.path);
    if (rule !== undefined) this.owner.raise(rule, 'read', this.path);
    return this.inner.read(target, targetOffset, length, position);
  }

  /** Thread-pool read where the wrapped file has one (long sequential scans), else the sync read. */
  async readAsync(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    this.owner.counters.read++;
    const rule = this.owner.check('read', this.path);
    if (rule !== undefined) this.owner.raise(rule, 'read', this.path);
    const inner = this.inner as RandomAccessFile & { readAsync?: (t: Uint8Array, o: number, l: number, p: number) => Promise<number> };
    if (inner.readAsync !== undefined) return inner.readAsync(target, targetOffset, length, position);
    return this.inner.read(target, targetOffset, length, position);
  }

  write(source: Uint8Array, sourceOffset: number, length: number, position: number): number {
    this.owner.counters.write++;
    const rule = this.owner.check('write', this.path);
    if (rule !== undefined) {
      if (rule.shortWriteBytes !== undefined) {
        const partial = Math.min(rule.shortWriteBytes, length);
        const written = partial > 0 ? this.inner.write(source, sourceOffset, partial, position) : 0;
        this.owner.counters.writeBytes += written;
        return written;
      }
      this.owner.raise(rule, 'write', this.path);
    }
    const written = this.inner.write(source, sourceOffset, length, position);
    this.owner.counters.writeBytes += written;
    return written;
  }

  datasync(): Promise<void> {
    this.owner.counters.datasync++;
    const rule = this.owner.check('datasync', this.path);
    if (rule !== undefined) {
      try {
        this.owner.raise(rule, 'fsync', this.path);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const gate = this.owner.beforeDatasync;
    const run = (): Promise<void> => (this.owner.options.skipSync === true ? Promise.resolve() : this.inner.datasync());
    return gate === undefined ? run() : gate(this.path).then(run);
  }

  datasyncSync(): void {
    this.owner.counters.datasyncSync++;
    const rule = this.owner.check('datasync', this.path);
    if (rule !== undefined) this.owner.raise(rule, 'fsync', this.path);
    if (this.owner.options.skipSync !== true) this.inner.datasyncSync();
  }

  truncate(length: number): void {
    this.owner.counters.truncate++;
    const rule = this.owner.check('truncate', this.path);
    if (rule !== undefined) this.owner.raise(rule, 'truncate', this.path);
    this.inner.truncate(length);
  }

  size(): number {
    return this.inner.size();
  }

  seal(): void {
    this.inner.seal();
  }

  close(): void {
    this.inner.close();
  }
}

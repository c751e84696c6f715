// SCAN cursors: clients need a decimal cursor (redis-cli parses it as an integer), while a scan stable
// across writes needs the last key returned. This table maps cursor numbers to that key. It is bounded
// (oldest entries dropped first); a dropped or unknown cursor gets `ERR invalid cursor`.

export class ScanCursorTable {
  private readonly keys = new Map<number, Buffer>();
  private next = 1;
  constructor(readonly entriesMax = 100_000) {}

  /** Stores the last key a SCAN call returned and gives the cursor that resumes after it. */
  save(lastKey: Buffer): string {
    const id = this.next++;
    this.keys.set(id, Buffer.from(lastKey));
    if (this.keys.size > this.entriesMax) {
      const oldest = this.keys.keys().next();
      if (oldest.done !== true) this.keys.delete(oldest.value);
    }
    return String(id);
  }

  /** The key to resume after; null for cursor 0 (start); undefined when unknown. */
  load(cursor: string): Buffer | null | undefined {
    if (cursor === '0') return null;
    if (!/^[1-9]\d{0,15}$/.test(cursor)) return undefined;
    return this.keys.get(Number(cursor));
  }

  get size(): number {
    return this.keys.size;
  }
}

// Pages of cleared key indexes, kept briefly for the next index in this process. Closing and reopening a
// database — a restart in place, a Raft snapshot install — then reuses the same memory, instead of holding
// two full indexes until the garbage collector notices that the first is gone (V8 frees a typed array's
// memory only when it collects the object, which can be seconds later). Pages nobody takes within
// `retainMs` are dropped. Only whole pages are kept; reused tables come back zeroed.

const RETAIN_MS = 2000;

export class PagePool {
  private arenaPages: Buffer[] = [];
  private slotPages: Array<{ slots: Uint32Array; meta: Int32Array }> = [];
  private tables = new Map<number, Array<{ table: Int32Array; tags: Uint8Array }>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly arenaPageBytes: number,
    private readonly slotPageSlots: number,
    private readonly retainMs = RETAIN_MS,
  ) {}

  takeArenaPage(): Buffer | undefined {
    return this.arenaPages.pop();
  }

  /** A slot page and its meta page (meta zeroed: every slot free). */
  takeSlotPage(): { slots: Uint32Array; meta: Int32Array } | undefined {
    const page = this.slotPages.pop();
    page?.meta.fill(0);
    return page;
  }

  /** The smallest kept hash table (and its tags) of at least `capacity` entries, zeroed. */
  takeTable(capacity: number): { table: Int32Array; tags: Uint8Array } | undefined {
    let best: number | undefined;
    for (const [size, tables] of this.tables) if (size >= capacity && tables.length > 0 && (best === undefined || size < best)) best = size;
    const table = best === undefined ? undefined : this.tables.get(best)!.pop();
    if (table === undefined) return undefined;
    table.table.fill(0);
    return table;
  }

  /** Keeps what a cleared index held, for `retainMs`. */
  give(arenaPages: readonly Buffer[], slotPages: readonly Uint32Array[], metaPages: readonly Int32Array[], table: Int32Array, tags: Uint8Array): void {
    for (const page of arenaPages) if (page.length === this.arenaPageBytes) this.arenaPages.push(page);
    for (let i = 0; i < slotPages.length; i++) {
      if (metaPages[i]!.length === this.slotPageSlots) this.slotPages.push({ slots: slotPages[i]!, meta: metaPages[i]! });
    }
    let sameSize = this.tables.get(table.length);
    if (sameSize === undefined) this.tables.set(table.length, (sameSize = []));
    sameSize.push({ table, tags });
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.drop(), this.retainMs);
    this.timer.unref();
  }

  /** Lets go of every kept page. */
  drop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.arenaPages = [];
    this.slotPages = [];
    this.tables = new Map();
  }

  /** Bytes kept (for tests and stats). */
  keptBytes(): number {
    let bytes = this.arenaPages.length * this.arenaPageBytes;
    for (const page of this.slotPages) bytes += page.slots.byteLength + page.meta.byteLength;
    for (const tables of this.tables.values()) for (const t of tables) bytes += t.table.byteLength + t.tags.byteLength;
    return bytes;
  }
}

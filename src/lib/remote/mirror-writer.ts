import { SqliteMirror } from '../ledger/sqlite/mirror.js';
import type { MirrorItem } from '../ledger/sqlite/mirror.js';

/**
 * Writes what the remote client sees into the local mirror file, off the caller's path:
 * items wait in memory for up to `delayMs` (20 ms) and go in one transaction. A SQLite
 * commit costs about 0.1 ms, as much as the check's whole round trip on loopback, so
 * writing per check would double its cost; a dashboard does not notice 20 ms. The
 * mirror is a convenience for `noburn watch`, never the authority: a failed write is
 * reported to onError and dropped.
 */
export class MirrorWriter {
  private pending: MirrorItem[] = [];
  private timer: NodeJS.Timeout | null = null;
  private mirror: SqliteMirror | null = null;
  private broken = false;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly onError: (e: unknown) => void = () => {},
    private readonly delayMs = 20,
  ) {}

  add(item: MirrorItem): void {
    if (this.closed || this.broken) return;
    this.pending.push(item);
    // Kept referenced: a process that ends on its own still writes what it saw (20 ms later at most).
    this.timer ??= setTimeout(() => this.write(), this.pending.length > 1000 ? 0 : this.delayMs);
  }

  /** Writes what is pending now (synchronously). */
  write(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.mirror ??= new SqliteMirror(this.path);
      this.mirror.applyLocal(batch);
    } catch (e) {
      // One failure to open means the file is unusable here (permissions, corrupt): stop trying.
      if (this.mirror === null) this.broken = true;
      this.onError(e);
    }
  }

  close(): void {
    if (this.closed) return;
    this.write();
    this.closed = true;
    this.mirror?.close();
    this.mirror = null;
  }
}

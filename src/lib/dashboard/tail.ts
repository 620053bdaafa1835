import type { Database, Statement } from 'better-sqlite3';

export interface TailEvent {
  seq: number;
  ts: number;
  kind: string;
  user_id: string | null;
  amount_nano: number;
}

interface SeqTs {
  seq: number;
  ts: number;
}

/**
 * Follows a project's event feed: each call reads only the events after the last seen seq
 * (the events_project (project_id, seq) index), so a refresh costs what was written since
 * the previous one, never a scan of the table. The first call starts `backMs` before now,
 * found by a binary search over seq (events are appended in time order): a few point reads
 * on the primary key.
 */
export class EventTail {
  private cursor: number | null = null;
  private readonly maxSeq: Statement<[], { s: number | null }>;
  private readonly firstFrom: Statement<[number], SeqTs>;
  private readonly after: Statement<[string, number], TailEvent>;

  constructor(db: Database, private readonly projectId: string) {
    this.maxSeq = db.prepare('SELECT MAX(seq) AS s FROM events');
    this.firstFrom = db.prepare('SELECT seq, ts FROM events WHERE seq >= ? ORDER BY seq LIMIT 1');
    this.after = db.prepare('SELECT seq, ts, kind, user_id, amount_nano FROM events WHERE project_id = ? AND seq > ? ORDER BY seq');
  }

  /**
   * Calls `onEvent` for every new event. Returns false when it started over (first read, or
   * the ledger's seq went backwards), after calling `onRestart`: the caller should then
   * rebuild what it derives from the feed.
   */
  read(now: number, backMs: number, onRestart: () => void, onEvent: (e: TailEvent) => void): boolean {
    const max = this.maxSeq.get()?.s ?? 0;
    let continued = true;
    if (this.cursor === null || max < this.cursor) {
      onRestart();
      this.cursor = this.seqBefore(now - backMs, max);
      continued = false;
    }
    let last = this.cursor;
    for (const e of this.after.iterate(this.projectId, this.cursor)) {
      last = e.seq;
      onEvent(e);
    }
    this.cursor = Math.max(last, max);
    return continued;
  }

  /** The seq just before the first event at or after `ts` (0 when all are newer). */
  private seqBefore(ts: number, max: number): number {
    let lo = 0;
    let hi = max; // the answer is in [lo, hi]: every event with seq <= lo is older than ts
    while (lo < hi) {
      const mid = Math.floor((lo + hi + 1) / 2);
      const row = this.firstFrom.get(mid);
      if (row === undefined || row.ts >= ts) hi = mid - 1;
      else lo = row.seq;
    }
    return lo;
  }
}

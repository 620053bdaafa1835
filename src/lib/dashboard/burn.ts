import type { Database, Statement } from 'better-sqlite3';

/** Sparkline: 30 buckets of 30 s, i.e. the last 15 minutes. */
export const BURN_BUCKET_MS = 30_000;
export const BURN_BUCKETS = 30;
/** The burn rate is the spend of the last 5 minutes, per minute. */
export const BURN_RATE_WINDOW_MS = 5 * 60_000;
/** Spend is kept in 5 s slots so the rate window slides smoothly. */
const SLOT_MS = 5_000;
const SPAN_MS = BURN_BUCKET_MS * BURN_BUCKETS;
/** Events are written with the writer's clock; read a little further back than the span. */
const SKEW_MS = 60_000;

interface SeqTs {
  seq: number;
  ts: number;
}
interface SpendEvent {
  seq: number;
  ts: number;
  amount_nano: number;
}

/**
 * The recent spend of one project, kept incrementally: each update reads only the record
 * events after the last seen seq (the events_project index), so a refresh costs what was
 * written since the previous one, never a scan of the event table. The first update finds
 * where the last 15 minutes start by a binary search over seq (events are appended in
 * time order), a few point reads on the primary key.
 */
export class BurnTracker {
  private cursor: number | null = null;
  private readonly slots = new Map<number, number>();
  private readonly maxSeq: Statement<[], { s: number | null }>;
  private readonly firstFrom: Statement<[number], SeqTs>;
  private readonly after: Statement<[string, number], SpendEvent>;

  constructor(db: Database, private readonly projectId: string) {
    this.maxSeq = db.prepare('SELECT MAX(seq) AS s FROM events');
    this.firstFrom = db.prepare('SELECT seq, ts FROM events WHERE seq >= ? ORDER BY seq LIMIT 1');
    this.after = db.prepare(
      "SELECT seq, ts, amount_nano FROM events WHERE project_id = ? AND seq > ? AND kind = 'record' AND amount_nano > 0 ORDER BY seq",
    );
  }

  /** Reads what was written since the last call. Call inside the snapshot's read transaction. */
  update(now: number): void {
    const max = this.maxSeq.get()?.s ?? 0;
    if (this.cursor === null || max < this.cursor) {
      // First read, or the ledger was replaced under us: start again.
      this.slots.clear();
      this.cursor = this.seqBefore(now - SPAN_MS - SKEW_MS, max);
    }
    const from = this.cursor;
    let last = from;
    for (const e of this.after.iterate(this.projectId, from)) {
      last = e.seq;
      const ts = Math.min(e.ts, now);
      const slot = Math.floor(ts / SLOT_MS);
      this.slots.set(slot, (this.slots.get(slot) ?? 0) + e.amount_nano);
    }
    this.cursor = Math.max(last, max);
    const oldest = Math.floor((now - SPAN_MS) / SLOT_MS);
    for (const slot of this.slots.keys()) if (slot < oldest) this.slots.delete(slot);
  }

  /** Spend per sparkline bucket, oldest first, and the rate in nano-dollars per minute. */
  view(now: number): { buckets: number[]; rateNanoPerMin: number } {
    const current = Math.floor(now / BURN_BUCKET_MS);
    const first = current - BURN_BUCKETS + 1;
    const buckets = new Array<number>(BURN_BUCKETS).fill(0);
    const rateFrom = Math.floor((now - BURN_RATE_WINDOW_MS) / SLOT_MS);
    let recent = 0;
    for (const [slot, nano] of this.slots) {
      const b = Math.floor((slot * SLOT_MS) / BURN_BUCKET_MS) - first;
      if (b >= 0 && b < BURN_BUCKETS) buckets[b] = (buckets[b] ?? 0) + nano;
      if (slot > rateFrom) recent += nano;
    }
    return { buckets, rateNanoPerMin: recent / (BURN_RATE_WINDOW_MS / 60_000) };
  }

  /** The seq just before the first event at or after `ts` (0 when all are newer). */
  private seqBefore(ts: number, max: number): number {
    let lo = 0;
    let hi = max; // answer in [lo, hi]: every event with seq <= lo is older than ts
    while (lo < hi) {
      const mid = Math.floor((lo + hi + 1) / 2);
      const row = this.firstFrom.get(mid);
      if (row === undefined || row.ts >= ts) hi = mid - 1;
      else lo = row.seq;
    }
    return lo;
  }
}

/** Sparkline: 30 buckets of 30 s, i.e. the last 15 minutes. */
export const BURN_BUCKET_MS = 30_000;
export const BURN_BUCKETS = 30;
/** The burn rate is the spend of the last 5 minutes, per minute. */
export const BURN_RATE_WINDOW_MS = 5 * 60_000;
/** How far back the burn figures look. */
export const BURN_SPAN_MS = BURN_BUCKET_MS * BURN_BUCKETS;
/** Spend is kept in 5 s slots so the rate window slides smoothly. */
const SLOT_MS = 5_000;

/**
 * The recent spend of a project, in memory: fed with record events as they are read (see
 * EventTail), forgets what is older than the sparkline's span. Bounded: at most
 * BURN_SPAN_MS / SLOT_MS slots whatever the write rate.
 */
export class BurnTracker {
  private readonly slots = new Map<number, number>();

  clear(): void {
    this.slots.clear();
  }

  /** Adds spend at `ts` (clamped to `now`: a writer's clock may run ahead). */
  add(ts: number, nano: number, now: number): void {
    if (nano <= 0 || ts < now - BURN_SPAN_MS) return;
    const slot = Math.floor(Math.min(ts, now) / SLOT_MS);
    this.slots.set(slot, (this.slots.get(slot) ?? 0) + nano);
  }

  /** Spend per sparkline bucket (oldest first) and the rate in nano-dollars per minute. */
  view(now: number): { buckets: number[]; rateNanoPerMin: number } {
    const oldest = Math.floor((now - BURN_SPAN_MS) / SLOT_MS);
    for (const slot of this.slots.keys()) if (slot < oldest) this.slots.delete(slot);
    const first = Math.floor(now / BURN_BUCKET_MS) - BURN_BUCKETS + 1;
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
}

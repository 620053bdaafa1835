/**
 * The lease policy, pure: how big a slice to ask for, when to raise W, until when a lease
 * may approve. Amounts in nano-dollars, times in ms. (docs/operations-postgres.md, "Budget leases".)
 */

/** The window over which a key's rate is measured. */
export const RATE_WINDOW_MS = 250;
/** A slice is about this many rate windows of the key's own traffic (1 s)... */
export const SLICE_WINDOWS = 4;
/** ...and at least this many estimates, at most this many. */
export const MIN_SLICE_ESTIMATES = 8;
export const MAX_SLICE_ESTIMATES = 4096;
/** W is raised in steps of about a quarter of the slice. */
export const STEP_FRACTION = 4;

/** Estimates approved on one key in the last RATE_WINDOW_MS (this replica only). */
export class RateWindow {
  private readonly at: number[] = [];
  private readonly amount: number[] = [];
  private sum = 0;

  add(now: number, e: number): void {
    this.at.push(now);
    this.amount.push(e);
    this.sum += e;
  }

  /** The sum over the window ending at `now`. */
  total(now: number): number {
    while (this.at.length > 0 && (this.at[0] as number) <= now - RATE_WINDOW_MS) {
      this.at.shift();
      this.sum -= this.amount.shift() as number;
    }
    return this.sum;
  }
}

/** Rounds up to a whole number of e (so that equal estimates leave nothing stranded). */
function wholeUp(x: number, e: number): number {
  return Math.ceil(x / e) * e;
}

/** The slice to ask for: ~SLICE_WINDOWS windows of the recent rate, bounded, in whole estimates. */
export function sliceFor(recent: number, e: number): number {
  const bounded = Math.min(Math.max(recent * SLICE_WINDOWS, MIN_SLICE_ESTIMATES * e), MAX_SLICE_ESTIMATES * e);
  return wholeUp(bounded, e);
}

/** A W raise step for a grant of g: a quarter of it, at least one estimate, at most g. */
export function stepFor(g: number, e: number): number {
  return Math.min(g, wholeUp(Math.max(e, g / STEP_FRACTION), e));
}

/** Raise W ahead of need: when the approvable headroom is below half a step and G still has room. */
export function shouldRaise(l: { g: number; w: number; approved: number; step: number }): boolean {
  return l.w < l.g && l.w - l.approved < l.step / 2;
}

/** How much a lease's local deadline keeps off its end in the database (clock skew, latency). */
export function marginFor(ttlMs: number): number {
  return Math.min(5_000, Math.max(200, Math.floor(ttlMs / 10)));
}

/** No approval from a lease at or after this local time: the grant's send time + TTL - margin. */
export function deadlineOf(sentAt: number, ttlMs: number): number {
  return sentAt + ttlMs - marginFor(ttlMs);
}

/** When to ask for the next lease of a key in use (half the TTL). */
export function rotateAt(sentAt: number, ttlMs: number): number {
  return sentAt + Math.floor(ttlMs / 2);
}

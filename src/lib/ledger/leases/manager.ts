import { maxOutputFor } from '../clamp.js';
import type { StoreCheck, StoreDecision } from '../store.js';
import { RateWindow, deadlineOf, rotateAt, shouldRaise, sliceFor, stepFor } from './policy.js';
import { leaseMac } from './mac.js';
import type { LeaseGrant, LeasePort } from './port.js';

/** After a refused grant, a key is decided in the database for this long before asking again. */
const REFUSED_BACKOFF_MS = 250;
/** A lease unused this long is ended (its room returns to the pool). */
const IDLE_MS = 5_000;
const SWEEP_MS = 250;
/** Tries per check (each a raise or a grant, which make progress) before it goes to the database. */
const MAX_TRIES = 64;

interface Lease {
  id: string;
  secret: string;
  /** G, W (durable), and the estimates approved so far: approved <= w <= g. */
  g: number;
  w: number;
  approved: number;
  seq: number;
  step: number;
  deadline: number;
  rotateAt: number;
  lastUse: number;
  grant: LeaseGrant;
  raising: Promise<void> | null;
  /** Estimates of the checks waiting for a raise (it asks for at least their sum; each check counts once). */
  demand: number;
  ended: boolean;
  /**
   * Granted less than asked (the room is near the cap): W is raised only by what checks wait
   * for, never ahead of need, so no approvable room sits idle here while another replica's
   * database decision is refused.
   */
  tight: boolean;
}

interface KeyState {
  lease: Lease | null;
  granting: Promise<void> | null;
  refusedUntil: number;
  /** After a refused renewal of a live lease, the next one is not asked for before this. */
  renewAfter: number;
  rate: RateWindow;
  /** The plain prices of the key's last check (an offline decision is priced with them). */
  prices: StoreCheck['prices'];
  /** Estimates of the checks waiting for this key's next grant (it asks for at least their sum). */
  waiting: number;
  runId: string | null;
  /**
   * The key's last grant was less than asked, or refused, or it has had none yet (its first
   * grant may be cut short too): the next one starts W at what waits for it.
   */
  tight: boolean;
}

export interface LeaseStats {
  /** Checks approved from a lease (in memory). */
  approved: number;
  grants: number;
  refusedGrants: number;
  raises: number;
  /** Checks that waited for a raise or a grant. */
  waits: number;
}

type KeyFields = Pick<StoreCheck, 'projectId' | 'userId' | 'model' | 'tags' | 'provider'> & { runId?: string | null };

/** The scope key of a check: project, user, model, sorted tags, provider, run (all of them shape the lease's rows). */
function keyOf(c: KeyFields): string {
  return JSON.stringify([c.projectId, c.userId, c.model, c.tags ?? [], c.provider ?? null, c.runId ?? null]);
}

export interface LeaseManagerOptions {
  /**
   * 'none' (serve's replicas): only checks without a run are leased; a run can end through
   * another replica, so run checks stay in the database. 'owned' (a remote `noburn run`):
   * only the checks of the runs this process owns (ownRun), none without a run.
   */
  runs?: 'none' | 'owned';
  /**
   * A key with no live lease and no grant in flight: decide the check in the store and ask
   * for the grant after this turn (a store in this process: its grant is a synchronous
   * transaction, which would otherwise sit on the check's path). noburn run on the ledger
   * file: the first call of a key costs one ordinary check, not a grant.
   */
  grantBehind?: boolean;
}

export function leaseReservationId(leaseId: string, secret: string, seq: number, e: number, raw: number | null): string {
  const body = `${seq}.${e}.${raw ?? ''}`;
  return `${leaseId}.${body}.${leaseMac(secret, body)}`;
}

/**
 * Decides checks in memory against leased slices of a cap's room (docs/operations-postgres.md,
 * "Budget leases"). Exactness rests on W: a check is approved only while approved + e <= W,
 * and W is what the database already counts in the lease's row C. Everything else (grants,
 * raises, ends) moves room between the pool and the lease in the database.
 */
export class LeaseManager {
  private readonly keys = new Map<string, KeyState>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  readonly stats: LeaseStats = { approved: 0, grants: 0, refusedGrants: 0, raises: 0, waits: 0 };
  private readonly owned = new Set<string>();
  private readonly runs: 'none' | 'owned';
  private readonly grantBehind: boolean;

  constructor(
    private readonly port: LeasePort,
    private readonly now: () => number = Date.now,
    opts: LeaseManagerOptions = {},
  ) {
    this.runs = opts.runs ?? 'none';
    this.grantBehind = opts.grantBehind === true;
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /** Priced, with an estimate, not forced to block, and of a run as the options allow. */
  private leasable(c: StoreCheck): boolean {
    const runOk = this.runs === 'none' ? c.runId === null : c.runId !== null && this.owned.has(c.runId);
    return runOk && c.forceBlock === undefined && !c.unpriced && c.estimateNano > 0 && !!c.prices;
  }

  /** This process owns the run (it started it and ends it): its checks may be leased (runs: 'owned'). */
  ownRun(runId: string): void {
    this.owned.add(runId);
  }

  /**
   * The run is ending: its checks are no longer leased, and its leases end now (their free
   * room returns; W comes down to what was approved). Resolves when the ends are sent.
   */
  async endRun(runId: string): Promise<void> {
    this.owned.delete(runId);
    for (const st of this.keys.values()) if (st.granting && st.runId === runId) await st.granting.catch(() => undefined);
    const ends: Promise<void>[] = [];
    for (const st of this.keys.values()) {
      if (st.runId !== runId || !st.lease) continue;
      ends.push(this.end(st.lease));
      st.lease = null;
    }
    await Promise.all(ends);
  }

  /** A decision from a lease, or null: decide this check in the database. */
  async decide(c: StoreCheck): Promise<StoreDecision | null> {
    if (this.closed || !this.leasable(c)) return null;
    const key = keyOf(c);
    let st = this.keys.get(key);
    if (!st) {
      st = { lease: null, granting: null, refusedUntil: 0, renewAfter: 0, rate: new RateWindow(), prices: c.prices, waiting: 0, runId: c.runId, tight: true };
      this.keys.set(key, st);
    }
    st.prices = c.prices;
    const e = c.estimateNano;
    for (let tries = 0; tries < MAX_TRIES && !this.closed; tries++) {
      const now = this.now();
      // An owned run may have ended (endRun) while this check waited.
      if (st.refusedUntil > now || !this.leasable(c)) return null;
      const l = st.lease;
      if (l && !l.ended && now < l.deadline) {
        if (l.approved + e <= l.w) return this.approve(st, l, c, now);
        if (l.w + e <= l.g) {
          this.stats.waits++;
          l.demand += e;
          try {
            await this.raise(st, l);
          } finally {
            l.demand -= e;
          }
          continue;
        }
      }
      // No lease for this key, or it cannot fit e any more: a new one (one grant at a time per key).
      if (this.grantBehind && !st.granting && (!l || l.ended || now >= l.deadline)) {
        st.granting = this.renew(st, c);
        this.track(st.granting);
        return null;
      }
      this.stats.waits++;
      st.waiting += e;
      st.granting ??= this.renew(st, c);
      try {
        await st.granting;
      } finally {
        st.waiting -= e;
      }
    }
    return null;
  }

  /**
   * Decides within W only, with no database call (for when PostgreSQL is unreachable): a
   * live lease of the check's exact key whose approvable headroom fits the estimate, else null.
   */
  decideOffline(c: StoreCheck): StoreDecision | null {
    if (this.closed || !this.leasable(c)) return null;
    const st = this.keys.get(keyOf(c));
    const l = st?.lease;
    const now = this.now();
    if (!st || !l || l.ended || now >= l.deadline || l.approved + c.estimateNano > l.w) return null;
    return this.approve(st, l, c, now, false);
  }

  /** The prices of the last check of a key this manager holds a lease for; null when none. */
  pricesOf(k: KeyFields): StoreCheck['prices'] {
    const st = this.keys.get(keyOf(k));
    return st?.lease ? (st.prices ?? null) : null;
  }

  private approve(st: KeyState, l: Lease, c: StoreCheck, now: number, background = true): StoreDecision {
    const e = c.estimateNano;
    const free = l.g - l.approved;
    l.approved += e;
    l.seq++;
    l.lastUse = now;
    st.rate.add(now, e);
    this.stats.approved++;
    if (background && !l.tight && shouldRaise(l)) this.track(this.raise(st, l));
    // The next lease is asked for ahead of need: at rotation, and when less than a raise step of
    // the grant is left to approve, so that a key in steady use never waits for a grant.
    if (background && !st.granting && now >= st.renewAfter && (now >= l.rotateAt || l.g - l.approved < l.step)) {
      st.granting = this.renew(st, c);
      this.track(st.granting);
    }
    const lim = l.grant.limit;
    const max = lim && c.prices ? maxOutputFor(c.prices, c.tokensIn, lim.capNano - lim.spentNano - lim.heldNano + free) : null;
    return {
      blocked: false,
      blockReason: null,
      reservationId: leaseReservationId(l.id, l.secret, l.seq, e, c.tokensInRaw ?? null),
      remainingNano: l.grant.remainingNano,
      estimateNano: e,
      tokensOut: c.tokensOut,
      clamped: false,
      maxTokensOut: max,
      limit: lim,
      leaseFreeNano: free - e,
    };
  }

  /**
   * Raises W by a step (at least the waiting demand; a tight lease by the demand only), once at
   * a time per lease. A raise that gets less than asked means row U was taken back by a
   * database decision near the cap: the lease ends at once, so that its approvable headroom
   * returns to the pool where every replica's database decision can use it.
   */
  private raise(st: KeyState, l: Lease): Promise<void> {
    l.raising ??= (async () => {
      // One turn first, so that the checks resuming from the previous raise join this one.
      await null;
      const want = Math.min(l.g - l.w, l.tight ? Math.max(0, l.demand - (l.w - l.approved)) : Math.max(l.step, l.demand));
      let short = false;
      try {
        const got = want > 0 ? await this.port.raise(l.id, want, this.now()) : 0;
        this.stats.raises++;
        l.w += got;
        short = got < want;
      } catch {
        // The database is unreachable: no raise; the check goes to the database path (and fails there).
        l.g = l.w;
      } finally {
        l.raising = null;
      }
      if (short) {
        l.g = l.w;
        st.tight = true;
        if (st.lease === l) st.lease = null;
        this.track(this.end(l));
      }
    })();
    return l.raising;
  }

  /** Asks for the key's next lease; the current one (if any) ends when the answer comes. */
  private renew(st: KeyState, c: StoreCheck): Promise<void> {
    return (async () => {
      const e = c.estimateNano;
      // Sized for the recent rate plus the checks already waiting; W starts high enough for those
      // (and, when the key's last grant was cut short by the cap, no higher).
      const g = sliceFor(st.rate.total(this.now()) + st.waiting, e);
      const need = Math.max(e, Math.ceil(st.waiting / e) * e);
      const w0 = Math.min(g, st.tight ? need : Math.max(stepFor(g, e), need));
      let grant: LeaseGrant | null = null;
      // Two turns: the store decides the check that asked in the next one (its group commit's), and the call is sent first.
      if (this.grantBehind) await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
      const sentAt = this.now();
      try {
        grant = await this.port.grant({ check: { ...c, now: sentAt }, want: g, min: e, w0 });
      } catch {
        grant = null;
      } finally {
        st.granting = null;
      }
      const old = st.lease;
      if (grant) {
        this.stats.grants++;
        st.tight = grant.granted < g;
        st.lease = {
          id: grant.leaseId, secret: grant.secret, g: grant.granted, w: grant.w, approved: 0, seq: 0,
          step: stepFor(grant.granted, e), deadline: deadlineOf(sentAt, this.port.ttlMs), rotateAt: rotateAt(sentAt, this.port.ttlMs),
          lastUse: sentAt, grant, raising: null, demand: 0, ended: false, tight: st.tight,
        };
      } else {
        this.stats.refusedGrants++;
        st.tight = true;
        if (old && !old.ended && this.now() < old.deadline && old.approved + e <= old.g) {
          // A renewal asked ahead of need was refused (near the cap): the live lease keeps
          // deciding what fits its W, else its room would be refused until its end committed.
          st.renewAfter = this.now() + REFUSED_BACKOFF_MS;
          return;
        }
        st.lease = null;
        st.refusedUntil = this.now() + REFUSED_BACKOFF_MS;
      }
      if (old) this.track(this.end(old));
    })();
  }

  /** Ends a lease in the database: U returns, W comes down to what was approved. */
  private async end(l: Lease): Promise<void> {
    if (l.ended) return;
    l.ended = true;
    while (l.raising) await l.raising;
    try {
      await this.port.end(l.id, l.w - l.approved);
    } catch {
      // Unreachable: the rows expire at the lease's end (U) and end + hold TTL (C), as after kill -9.
    }
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch(() => undefined).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  /** Ends idle and past-deadline leases (their room returns to the pool) and forgets idle keys. */
  private sweep(): void {
    const now = this.now();
    for (const [key, st] of this.keys) {
      const l = st.lease;
      if (l && !st.granting && (now >= l.deadline || now - l.lastUse >= IDLE_MS)) {
        st.lease = null;
        this.track(this.end(l));
      }
      if (!st.lease && !st.granting && st.refusedUntil <= now && st.rate.total(now) === 0) this.keys.delete(key);
    }
  }

  /** Ends every lease (serve shutdown, Ledger.close): their free room returns to the pool at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const st of this.keys.values()) if (st.granting) await st.granting.catch(() => undefined);
    for (const st of this.keys.values()) {
      if (st.lease) this.track(this.end(st.lease));
      st.lease = null;
    }
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    this.keys.clear();
  }
}

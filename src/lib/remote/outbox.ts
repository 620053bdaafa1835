import type { Database } from 'better-sqlite3';
import { NoburnError, NoburnTimeoutError, NoburnValidationError } from '../errors.js';
import type { RecordSink } from '../record-queue.js';
import type { NormalizedRecord } from '../validate.js';
import type { RecordItem, RecordsResponse } from '../wire/schemas.js';
import { openOutboxDb } from './outbox-db.js';
import type { OutboxStatements } from './outbox-db.js';

export interface OutboxOptions {
  path: string;
  /** Which server and key the rows are for (a hash; the key itself is never stored). */
  target: string;
  /** POST /v1/records. */
  send: (records: RecordItem[]) => Promise<RecordsResponse>;
  /** POST /v1/releases (guard.release): frees holds, counts nothing. */
  sendReleases?: (reservationIds: string[]) => Promise<unknown>;
  /** Called after the server acknowledged a batch (the mirror uses it). */
  onDelivered?: (records: readonly RecordItem[], res: RecordsResponse) => void;
  onError?: (e: unknown) => void;
  timeoutMs: number;
  now?: () => number;
  batchSize?: number;
}

interface Claimed {
  id: number;
  idem_key: string;
  body: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** An outbox row that frees a hold (guard.release) rather than records a call. */
interface ReleaseBody {
  release: string;
}

function isRelease(b: unknown): b is ReleaseBody {
  return typeof (b as Partial<ReleaseBody>).release === 'string';
}

type Pending = { r: NormalizedRecord; ts: number } | { release: string; ts: number };

export function toWire(r: NormalizedRecord, ts: number): RecordItem {
  const w: RecordItem = { model: r.model, tokensIn: r.tokensIn, tokensOut: r.tokensOut, wasBlocked: r.wasBlocked, idempotencyKey: r.idempotencyKey, ts };
  if (r.cachedTokensIn > 0) w.cachedTokensIn = r.cachedTokensIn;
  if (r.cacheWriteTokensIn > 0) w.cacheWriteTokensIn = r.cacheWriteTokensIn;
  if (r.costUsd !== null) w.costUsd = r.costUsd;
  if (r.userId !== null) w.endUserId = r.userId;
  if (r.runId !== null) w.runId = r.runId;
  if (r.reservationId !== null) w.reservationId = r.reservationId;
  if (r.provider) w.provider = r.provider;
  return w;
}

/**
 * The durable outbox (DESIGN.md §3): record() puts a record in memory (microseconds); on
 * the next turn of the event loop the batch is written to $NOBURN_HOME/outbox.db in one
 * transaction; a background pump POSTs rows to /v1/records in batches, deletes them once
 * the server acknowledged them, and backs off (100 ms doubling to 30 s) while the server
 * is down. Rows left by a process that died are delivered by the next one. The server
 * counts each idempotency key once, so a row sent twice (a crash between the server's
 * answer and the delete) still counts once.
 */
export class Outbox implements RecordSink {
  private buffer: Pending[] = [];
  private persistScheduled = false;
  private db: Database | null = null;
  private st: OutboxStatements | null = null;
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private retryAt = 0;
  private closed = false;
  private readonly now: () => number;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  onError: (e: unknown) => void;
  lastError: unknown = null;

  constructor(private readonly o: OutboxOptions) {
    this.now = o.now ?? Date.now;
    this.batchSize = o.batchSize ?? 500;
    this.leaseMs = o.timeoutMs * 2 + 1000;
    this.onError = o.onError ?? (() => {});
  }

  enqueue(r: NormalizedRecord, ts: number): void {
    this.push({ r, ts });
  }

  /** Queues the release of a hold: delivered like a record (durable, retried; a repeat frees nothing more). */
  enqueueRelease(reservationId: string, ts: number): void {
    this.push({ release: reservationId, ts });
  }

  private push(p: Pending): void {
    if (this.closed) {
      this.onError(new Error('record() after close(): the record was not kept'));
      return;
    }
    this.buffer.push(p);
    if (!this.persistScheduled) {
      this.persistScheduled = true;
      setImmediate(() => {
        this.persistScheduled = false;
        if (this.persist()) this.kick();
      });
    }
  }

  private open(): OutboxStatements {
    if (!this.st) {
      const { db, st } = openOutboxDb(this.o.path);
      this.db = db;
      this.st = st;
    }
    return this.st;
  }

  /** Writes the memory buffer to the outbox file. On failure the buffer is kept and retried. */
  private persist(): boolean {
    if (this.buffer.length === 0) return true;
    const batch = this.buffer;
    this.buffer = [];
    try {
      const st = this.open();
      const db = this.db as Database;
      db.transaction(() => {
        for (const p of batch) {
          if ('release' in p) st.insert.run(this.o.target, `release:${p.release}`, p.ts, JSON.stringify({ release: p.release } satisfies ReleaseBody));
          else st.insert.run(this.o.target, p.r.idempotencyKey, p.ts, JSON.stringify(toWire(p.r, p.ts)));
        }
      }).immediate();
      return true;
    } catch (e) {
      this.buffer = batch.concat(this.buffer);
      this.lastError = e;
      this.onError(e);
      this.schedule(this.now() + this.backoffMs(++this.failures));
      return false;
    }
  }

  private backoffMs(failures: number): number {
    const base = Math.min(30_000, 100 * 2 ** Math.min(failures - 1, 9));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  private schedule(at: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.persist()) this.kick();
    }, Math.max(0, at - this.now()));
    // Never keeps the process alive: what is left waits in the file for the next process.
    this.timer.unref();
  }

  /** Runs fn after whatever pump is running (one delivery at a time per process). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  /** Starts background delivery of whatever is waiting (leftovers of earlier processes included). */
  kick(): void {
    if (this.closed) return;
    if (this.failures > 0 && this.now() < this.retryAt) {
      this.schedule(this.retryAt);
      return;
    }
    void this.exclusive(() => this.pump(false, Number.MAX_SAFE_INTEGER)).then(
      () => this.scheduleNext(),
      () => this.schedule(this.retryAt),
    );
  }

  private scheduleNext(): void {
    if (this.closed || !this.st) return;
    const t = (this.st.nextWake.get(this.o.target) as { t: number | null }).t;
    if (t !== null) this.schedule(Math.max(t, this.now() + 10));
  }

  /** Delivers claimable rows (up to maxId) until none is left; throws the first delivery failure. */
  private async pump(force: boolean, maxId: number): Promise<void> {
    const st = this.open();
    for (let round = 0; round < 100_000; round++) {
      if (this.closed && !force) return;
      const now = this.now();
      const rows = st.claim.all({ until: now + this.leaseMs, target: this.o.target, now, force: force ? 1 : 0, maxId, limit: this.batchSize }) as Claimed[];
      if (rows.length === 0) return;
      rows.sort((a, b) => a.id - b.id);
      await this.deliver(rows);
    }
  }

  /** Sends a claimed batch: releases (if any) and records, each in one request. */
  private async deliver(rows: Claimed[]): Promise<void> {
    const bodies = rows.map((r) => JSON.parse(r.body) as unknown);
    const releases = rows.filter((_, i) => isRelease(bodies[i]));
    const records = rows.filter((_, i) => !isRelease(bodies[i]));
    if (releases.length > 0) {
      const send = this.o.sendReleases ?? (() => Promise.resolve());
      await this.deliverGroup(releases, async (rs) => {
        await send(rs.map((r) => (JSON.parse(r.body) as ReleaseBody).release));
      });
    }
    if (records.length > 0) {
      await this.deliverGroup(records, async (rs) => {
        const items = rs.map((r) => JSON.parse(r.body) as RecordItem);
        const res = await this.o.send(items);
        return () => this.o.onDelivered?.(items, res);
      });
    }
  }

  /** Sends rows of one kind; removes them once acknowledged, backs them off on failure. */
  private async deliverGroup(rows: Claimed[], send: (rows: Claimed[]) => Promise<(() => void) | void>): Promise<void> {
    const st = this.st as OutboxStatements;
    const db = this.db as Database;
    let delivered: (() => void) | void;
    try {
      delivered = await send(rows);
    } catch (e) {
      if (e instanceof NoburnValidationError) {
        if (rows.length > 1) {
          // One bad record must not hold back the others: send them one by one (still leased).
          for (const r of rows) await this.deliverGroup([r], send);
          return;
        }
        // The server will never take this one: keep it aside (outbox_dead) and go on.
        const row = rows[0] as Claimed;
        db.transaction(() => {
          st.kill.run(e.message, this.now(), row.id);
          st.remove.run(row.id);
        })();
        this.onError(e);
        return;
      }
      this.failures++;
      this.retryAt = this.now() + this.backoffMs(this.failures);
      db.transaction(() => rows.forEach((r) => st.backoff.run(this.retryAt, r.id)))();
      this.lastError = e;
      this.onError(e);
      throw e;
    }
    db.transaction(() => rows.forEach((r) => st.remove.run(r.id)))();
    this.failures = 0;
    this.retryAt = 0;
    this.lastError = null;
    try {
      delivered?.();
    } catch (e) {
      this.onError(e);
    }
  }

  /** Records waiting in the file for this target (tests, diagnostics). */
  pendingCount(): number {
    this.persist();
    if (!this.st) return this.buffer.length;
    return (this.st.pending.get(this.o.target, Number.MAX_SAFE_INTEGER) as { n: number }).n;
  }

  /**
   * Delivers everything enqueued so far, retrying now whatever is in backoff. Rejects with
   * the delivery error when the server cannot take them (they stay in the outbox), or with
   * NoburnTimeoutError when rows leased by another process are still not delivered at the deadline.
   */
  flush(deadline = this.now() + this.leaseMs * 2 + this.o.timeoutMs): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.buffer.length > 0 && !this.persist()) return Promise.reject(this.lastError);
    let st: OutboxStatements;
    try {
      st = this.open();
    } catch (e) {
      return Promise.reject(e);
    }
    const maxId = (st.maxId.get(this.o.target) as { id: number }).id;
    return this.exclusive(async () => {
      for (;;) {
        try {
          await this.pump(true, maxId);
        } catch (e) {
          if (e instanceof NoburnError && (e.code === 'NOBURN_UNREACHABLE' || e.code === 'NOBURN_TIMEOUT')) {
            e.message += ' (the records are kept in the outbox and delivered once the server answers)';
          }
          throw e;
        }
        if ((st.pending.get(this.o.target, maxId) as { n: number }).n === 0) return;
        // What is left is leased by another process (or one that died): wait for it.
        if (this.now() > deadline) throw new NoburnTimeoutError('records are still waiting in the outbox (another process is delivering them)');
        await sleep(25);
      }
    });
  }

  /** Persists what is in memory, tries one bounded delivery, and closes the file. What could not be sent stays for the next process. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush(this.now() + this.o.timeoutMs + 500);
    } catch {
      // durable: the next guard or CLI process on this machine delivers it
    }
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.lock;
    this.db?.close();
    this.db = null;
    this.st = null;
  }
}

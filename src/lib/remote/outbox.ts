/**
 * The durable outbox (docs/library.md "Outbox"): record() puts a record in memory
 * (microseconds); on the next turn of the event loop the batch is written to
 * $NOBURN_HOME/outbox.db in one transaction; a background pump POSTs rows to /v1/records
 * in batches, deletes them once the server acknowledged them, and backs off (100 ms
 * doubling to 30 s) while the server is down. Rows left by a process that died are
 * delivered by the next one. The server counts each idempotency key once, so a row sent
 * twice (a crash between the server's answer and the delete) still counts once.
 *
 * Rows are filed under the normalized server and the project the key names (target.ts),
 * learnt once per process from GET /v1/whoami and remembered in the file; until then
 * under the key's fingerprint, re-filed by the first answer for that key.
 */
import { NoburnError, NoburnStoreError, NoburnTimeoutError, NoburnValidationError } from '../errors.js';
import type { FlushResult, OutboxWarning, RecordErrorHandler, RecordSink } from '../record-queue.js';
import type { NormalizedRecord } from '../validate.js';
import type { RecordItem } from '../wire/schemas.js';
import type { RecordsResponse } from '../wire/responses.js';
import { OutboxFile, type Claimed } from './outbox-db.js';
import { isRelease, releaseRow, recordRow, type ReleaseBody } from './outbox-rows.js';
import { strayWarning, targetFor, unresolvedTarget } from './target.js';

export interface OutboxOptions {
  path: string;
  /** The normalized server (target.ts serverKey): rows are filed under it and the key's project. */
  server: string;
  /** Fingerprint of the current key (never the key): files rows while its project is not known yet. */
  keyFp: string;
  /** What older versions filed this server + key's rows under: re-filed on open. */
  legacyTarget: string;
  /** The project the current key names (GET /v1/whoami); throws like any request. */
  whoami: () => Promise<string>;
  /** POST /v1/records. */
  send: (records: RecordItem[]) => Promise<RecordsResponse>;
  /** POST /v1/releases (guard.release): frees holds, counts nothing. */
  sendReleases?: (reservationIds: string[]) => Promise<unknown>;
  /** Called after the server acknowledged a batch (the mirror uses it). */
  onDelivered?: (records: readonly RecordItem[], res: RecordsResponse) => void;
  onError?: RecordErrorHandler | undefined;
  /** Rows wait for another server or project than this client now sends to (once per target). */
  onWarning?: ((w: OutboxWarning) => void) | undefined;
  timeoutMs: number;
  now?: () => number;
  batchSize?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What record() and release() leave in memory until the next turn of the event loop writes it. */
type Pending = { r: NormalizedRecord; ts: number } | { release: string; ts: number };

export class Outbox implements RecordSink {
  private buffer: Pending[] = [];
  private persistScheduled = false;
  private file: OutboxFile | null = null;
  private lock: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private retryAt = 0;
  private closed = false;
  /** The key's project: from the file at open, confirmed by the server once per process. */
  private project: string | null = null;
  private confirmed = false;
  private readonly warned = new Set<string>();
  private delivered = 0;
  private rejected = 0;
  private readonly now: () => number;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly onError: RecordErrorHandler;
  lastError: unknown = null;

  constructor(private readonly o: OutboxOptions) {
    this.now = o.now ?? Date.now;
    this.batchSize = o.batchSize ?? 500;
    this.leaseMs = o.timeoutMs * 2 + 1000;
    this.onError = o.onError ?? (() => {});
  }

  /** Where this client's rows go now. */
  get target(): string {
    return this.project === null ? unresolvedTarget(this.o.server, this.o.keyFp) : targetFor(this.o.server, this.project);
  }

  enqueue(r: NormalizedRecord, ts: number): void {
    if (this.closed) {
      this.rejected++;
      this.onError(new NoburnStoreError('record() after close(): the record was not kept'), { rejected: 1 });
      return;
    }
    this.push({ r, ts });
  }

  /** Queues the release of a hold: delivered like a record (durable, retried; a repeat frees nothing more). */
  enqueueRelease(reservationId: string, ts: number): void {
    if (this.closed) {
      this.onError(new NoburnStoreError('release() after close(): the release was not kept'));
      return;
    }
    this.push({ release: reservationId, ts });
  }

  private push(p: Pending): void {
    this.buffer.push(p);
    if (!this.persistScheduled) {
      this.persistScheduled = true;
      setImmediate(() => {
        this.persistScheduled = false;
        if (this.persist()) this.kick();
      });
    }
  }

  /**
   * Writes the record to the outbox file before returning (recordNow when the server is
   * down: "queued" must mean stored). Throws NoburnStoreError when the file cannot take
   * it; the record is then not kept anywhere and the caller must say so.
   */
  enqueueDurably(r: NormalizedRecord, ts: number): void {
    if (this.closed) throw new NoburnStoreError('the outbox is closed: the record was not kept');
    const entry = { r, ts };
    this.buffer.push(entry);
    if (!this.persist(false)) {
      this.buffer = this.buffer.filter((b) => b !== entry);
      throw storeError(this.lastError, this.o.path);
    }
    this.kick();
  }

  private open(): OutboxFile {
    if (!this.file) {
      const file = OutboxFile.open(this.o.path);
      this.project = file.keyProject(this.o.server, this.o.keyFp);
      // Rows an older noburn filed by url + key hash, for this same server and key.
      file.refile(this.o.legacyTarget, this.target);
      this.file = file;
    }
    return this.file;
  }

  /** Writes the memory buffer to the outbox file. On failure the buffer is kept and retried. */
  private persist(report = true): boolean {
    if (this.buffer.length === 0) return true;
    const batch = this.buffer;
    this.buffer = [];
    try {
      this.open().insert(
        this.target,
        batch.map((p) => ('release' in p ? releaseRow(p.release, p.ts) : recordRow(p.r, p.ts))),
      );
      return true;
    } catch (e) {
      this.buffer = batch.concat(this.buffer);
      this.lastError = e;
      if (report) this.onError(e);
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
    if (this.closed || !this.file) return;
    const t = this.file.nextWake(this.target);
    if (t !== null) this.schedule(Math.max(t, this.now() + 10));
  }

  private failed(e: unknown): never {
    this.failures++;
    this.retryAt = this.now() + this.backoffMs(this.failures);
    this.lastError = e;
    this.onError(e);
    throw e;
  }

  /**
   * Asks the server (once per process) which project the key names, files what this key
   * queued before anyone knew under that project, and says once which rows wait for a
   * server or project this client no longer sends to.
   */
  private async confirmProject(): Promise<void> {
    if (this.confirmed) return;
    let project: string;
    try {
      project = await this.o.whoami();
    } catch (e) {
      this.failed(e);
    }
    const unresolved = unresolvedTarget(this.o.server, this.o.keyFp);
    (this.file as OutboxFile).learnKey(this.o.server, this.o.keyFp, project, this.now(), unresolved, targetFor(this.o.server, project));
    this.project = project;
    this.confirmed = true;
    this.warnStrays();
  }

  private warnStrays(): void {
    for (const { target, n } of (this.file as OutboxFile).strays(this.target)) {
      if (this.warned.has(target)) continue;
      this.warned.add(target);
      this.o.onWarning?.(strayWarning(target, n, this.o.path));
    }
  }

  /** Delivers claimable rows (up to maxId) until none is left; throws the first delivery failure. */
  private async pump(force: boolean, maxId: number): Promise<void> {
    const file = this.open();
    // The key's project is asked only when something waits (no request otherwise): rows
    // this key queued before it was known are then re-filed, and strays announced.
    if (!this.confirmed && file.any()) await this.confirmProject();
    for (let round = 0; round < 100_000; round++) {
      if (this.closed && !force) return;
      const now = this.now();
      const rows = file.claim({ until: now + this.leaseMs, target: this.target, now, force, maxId, limit: this.batchSize });
      if (rows.length === 0) return;
      await this.deliver(rows);
    }
  }

  /** Sends a claimed batch: releases (if any) and records, each kind in one request. */
  private async deliver(rows: Claimed[]): Promise<void> {
    const bodies = rows.map((r) => JSON.parse(r.body) as unknown);
    const releases = rows.filter((_, i) => isRelease(bodies[i]));
    const records = rows.filter((_, i) => !isRelease(bodies[i]));
    if (releases.length > 0) {
      const send = this.o.sendReleases ?? (() => Promise.resolve());
      await this.deliverGroup(releases, false, async (rs) => {
        await send(rs.map((r) => (JSON.parse(r.body) as ReleaseBody).release));
      });
    }
    if (records.length > 0) {
      await this.deliverGroup(records, true, async (rs) => {
        const items = rs.map((r) => JSON.parse(r.body) as RecordItem);
        const res = await this.o.send(items);
        return () => this.o.onDelivered?.(items, res);
      });
    }
  }

  /** Sends rows of one kind; removes them once acknowledged, backs them off on failure. `counted`: records (flush counts them). */
  private async deliverGroup(rows: Claimed[], counted: boolean, send: (rows: Claimed[]) => Promise<(() => void) | void>): Promise<void> {
    const file = this.file as OutboxFile;
    let delivered: (() => void) | void;
    try {
      delivered = await send(rows);
    } catch (e) {
      if (e instanceof NoburnValidationError) {
        if (rows.length > 1) {
          // One bad record must not hold back the others: send them one by one (still leased).
          for (const r of rows) await this.deliverGroup([r], counted, send);
          return;
        }
        // The server will never take this one: keep it aside (outbox_dead) and go on.
        const row = rows[0] as Claimed;
        file.kill(row.id, e.message, this.now());
        if (counted) this.rejected++;
        this.onError(e, { rejected: counted ? 1 : 0 });
        return;
      }
      const retryAt = this.now() + this.backoffMs(this.failures + 1);
      file.backoff(
        rows.map((r) => r.id),
        retryAt,
      );
      this.failed(e);
    }
    file.remove(rows.map((r) => r.id));
    if (counted) this.delivered += rows.length;
    this.failures = 0;
    this.retryAt = 0;
    this.lastError = null;
    try {
      delivered?.();
    } catch (e) {
      this.onError(e);
    }
  }

  /** Records waiting in the file for this client's server and project (tests, diagnostics). */
  pendingCount(): number {
    this.persist();
    return (this.file?.pending(this.target) ?? 0) + this.buffer.length;
  }

  /** Delivered and rejected by this outbox since it was created, and what is still waiting. */
  private takeCounts(): FlushResult {
    let pending = this.buffer.length;
    try {
      pending += this.file?.pending(this.target) ?? 0;
    } catch {
      // the file went away: what is in memory is all we can count
    }
    return { delivered: this.delivered, rejected: this.rejected, pending };
  }

  /**
   * Delivers everything enqueued so far, retrying now whatever is in backoff, and resolves
   * with the counts (totals of this outbox; the guard reports the change since its last flush). Rejects with the delivery error when the server
   * cannot take them (they stay in the outbox), with NoburnStoreError when the outbox
   * cannot be written, or with NoburnTimeoutError when rows leased by another process are
   * still not delivered at the deadline.
   */
  flush(deadline = this.now() + this.leaseMs * 2 + this.o.timeoutMs): Promise<FlushResult> {
    if (this.closed) return Promise.resolve(this.takeCounts());
    if (this.buffer.length > 0 && !this.persist()) return Promise.reject(storeError(this.lastError, this.o.path));
    let file: OutboxFile;
    try {
      file = this.open();
    } catch (e) {
      return Promise.reject(e);
    }
    const maxId = file.maxId();
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
        if (file.pending(this.target, maxId) === 0) return this.takeCounts();
        // What is left is leased by another process (or one that died): wait for it.
        if (this.now() > deadline) throw new NoburnTimeoutError('records are still waiting in the outbox (another process is delivering them)');
        await sleep(25);
      }
    });
  }

  /**
   * Persists what is in memory, tries one bounded delivery, and closes the file. What could
   * not be sent stays for the next process; what could not even be written is lost, and
   * reported (onError, and counted as rejected).
   */
  async close(): Promise<FlushResult> {
    if (this.closed) return this.takeCounts();
    try {
      await this.flush(this.now() + this.o.timeoutMs + 500);
    } catch {
      // durable: the next guard or CLI process on this machine delivers it
    }
    if (this.buffer.length > 0) {
      const n = this.buffer.length;
      this.buffer = [];
      this.rejected += n;
      this.onError(new NoburnStoreError(`${n} record${n === 1 ? '' : 's'} could not be kept: ${storeError(this.lastError, this.o.path).message}`), { rejected: n });
    }
    const counts = this.takeCounts();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.lock;
    this.file?.close();
    this.file = null;
    return counts;
  }
}

function storeError(e: unknown, path: string): NoburnStoreError {
  if (e instanceof NoburnStoreError) return e;
  return new NoburnStoreError(`cannot write the outbox ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

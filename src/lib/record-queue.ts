import type { NormalizedRecord } from './validate.js';

/**
 * What flush() and close() resolve with, counted since the previous flush():
 * `delivered`: records the authority now has; `rejected`: records that will never count
 * (invalid, refused by the server, or that could not be kept anywhere), each also reported
 * to onRecordError (or one process warning per kind); `pending`: records still waiting
 * (in the durable outbox in remote mode, delivered later exactly once).
 */
export interface FlushResult {
  delivered: number;
  rejected: number;
  pending: number;
}

/** Queued records wait for another server or project than this client now sends to. */
export interface OutboxWarning {
  code: 'NOBURN_OUTBOX_WAITING';
  /** The normalized server they wait for (no credentials). */
  server: string;
  /** Their project, or null when this machine never learnt the project of the key that queued them. */
  projectId: string | null;
  count: number;
  message: string;
}

/** `rejected`: how many records this error costs for good (absent: a transient failure, retried). */
export type RecordErrorHandler = (e: unknown, info?: { rejected: number }) => void;

/**
 * Where record() puts a record: returns at once; delivery happens in the background.
 * flush() and close() resolve with the sink's totals since it was created (the guard turns
 * them into the change since its last flush).
 */
export interface RecordSink {
  enqueue(r: NormalizedRecord, ts: number): void;
  /** Queues the release of a hold (guard.release): delivered like records; flush() waits for it too. */
  enqueueRelease(reservationId: string, ts: number): void;
  /** Resolves when everything enqueued so far is delivered; rejects if delivery fails. */
  flush(): Promise<FlushResult>;
  close(): Promise<FlushResult>;
}

/** Records a check takes from the queue to write in its own transaction (MemoryRecordQueue.take). */
export interface TakenRecords {
  records: readonly NormalizedRecord[];
  ts: readonly number[];
  /** Written with the check (counted delivered), or not: they go back to the queue, written on their own. */
  done(written: boolean): void;
}

/**
 * Embedded mode: records wait in memory for at most one turn of the event loop (or
 * `delayMs`) and are written to the ledger in one transaction per batch. Keeping the SQLite
 * write off the caller's path is what makes record() cost microseconds. A failed write
 * keeps the batch and retries with backoff.
 *
 * With `delayMs` (noburn run's proxy) a record waits up to that long for the next check,
 * which takes it (take()) and writes it in the check's own transaction: one commit per
 * call instead of two. Its hold stays in the ledger until then, so every process still
 * counts the call; the timer writes it when no check comes. flush()/close() write at once.
 */
export class MemoryRecordQueue implements RecordSink {
  private pending: { r: NormalizedRecord; ts: number }[] = [];
  private releases: string[] = [];
  private inflight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate = false;
  /** The timer that writes deferred records no check took (delayMs). */
  private deferred: NodeJS.Timeout | null = null;
  private failures = 0;
  private delivered = 0;

  constructor(
    private readonly deliver: (rs: readonly NormalizedRecord[], ts: readonly number[]) => Promise<unknown>,
    private readonly onError: RecordErrorHandler = () => {},
    private readonly release: (ids: readonly string[]) => Promise<unknown> = () => Promise.resolve(),
    private readonly delayMs = 0,
  ) {}

  enqueue(r: NormalizedRecord, ts: number): void {
    this.pending.push({ r, ts });
    this.wake();
  }

  enqueueRelease(reservationId: string, ts: number): void {
    void ts;
    this.releases.push(reservationId);
    this.wake();
  }

  private wake(): void {
    // Releases are never deferred: a failed call's hold is freed at once.
    if (this.delayMs > 0 && this.releases.length === 0) {
      if (!this.deferred && !this.inflight && !this.timer) {
        this.deferred = setTimeout(() => {
          this.deferred = null;
          void this.drain().catch(() => {});
        }, this.delayMs);
      }
      return;
    }
    if (!this.immediate && !this.inflight && !this.timer) {
      this.immediate = true;
      setImmediate(() => {
        this.immediate = false;
        void this.drain().catch(() => {});
      });
    }
  }

  /**
   * Hands the waiting records to a check that writes them in its own transaction, or null
   * (none waiting, or a write in flight). flush() waits for them until done() is called.
   */
  take(): TakenRecords | null {
    if (this.inflight || this.timer || this.pending.length === 0) return null;
    const batch = this.pending;
    this.pending = [];
    this.clearDeferred();
    let finish!: () => void;
    this.inflight = new Promise<void>((resolve) => (finish = resolve));
    let settled = false;
    return {
      records: batch.map((b) => b.r),
      ts: batch.map((b) => b.ts),
      done: (written) => {
        if (settled) return;
        settled = true;
        if (written) this.delivered += batch.length;
        else this.pending = batch.concat(this.pending);
        this.inflight = null;
        finish();
        if (this.pending.length > 0 || this.releases.length > 0) this.wake();
      },
    };
  }

  private clearDeferred(): void {
    if (this.deferred) {
      clearTimeout(this.deferred);
      this.deferred = null;
    }
  }

  private drain(): Promise<void> {
    if (this.inflight) return this.inflight;
    this.clearDeferred();
    if (this.pending.length === 0 && this.releases.length === 0) return Promise.resolve();
    const batch = this.pending;
    const releases = this.releases;
    this.pending = [];
    this.releases = [];
    this.inflight = (async () => {
      let released = releases.length === 0;
      try {
        if (!released) await this.release(releases);
        released = true;
        if (batch.length > 0) await this.deliver(batch.map((b) => b.r), batch.map((b) => b.ts));
        this.delivered += batch.length;
        this.failures = 0;
      } catch (e) {
        if (!released) this.releases = releases.concat(this.releases);
        this.pending = batch.concat(this.pending);
        this.failures++;
        this.onError(e);
        this.scheduleRetry();
        throw e;
      } finally {
        this.inflight = null;
      }
      // What came while this batch was written is not left waiting for the next record.
      if (this.pending.length > 0 || this.releases.length > 0) this.wake();
    })();
    return this.inflight;
  }

  private scheduleRetry(): void {
    if (this.timer) return;
    const delay = Math.min(30_000, 50 * 2 ** Math.min(this.failures, 10));
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.drain().catch(() => {});
    }, delay);
    this.timer.unref();
  }

  async flush(): Promise<FlushResult> {
    this.clearDeferred();
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.inflight || this.pending.length > 0 || this.releases.length > 0) {
      if (this.inflight) await this.inflight.catch(() => {});
      if (this.pending.length > 0 || this.releases.length > 0) await this.drain();
    }
    return { delivered: this.delivered, rejected: 0, pending: 0 };
  }

  close(): Promise<FlushResult> {
    return this.flush();
  }
}

/**
 * A PostgreSQL replica's durable queue of records (docs/operations-postgres.md "When
 * PostgreSQL is unreachable"): records that arrive while the database cannot be reached
 * are written here before they are acknowledged, and replayed to the database when it is
 * back, oldest first, in batches, one project after another.
 *
 * The file is the client outbox's (src/lib/remote/outbox-db.ts: SQLite, WAL, 0600), with
 * the project as the row's target. A row is deleted only after the database settled it,
 * so a crash between the two replays it; the database counts each idempotency key once,
 * so that replay counts nothing twice. Rows stay on disk across a shutdown or a kill, and
 * the next start replays them. The claim lease lets two replicas share one file.
 */
import { NoburnNotFoundError, NoburnStoreError, NoburnValidationError } from '../lib/errors.js';
import { OutboxFile } from '../lib/remote/outbox-db.js';
import type { Claimed } from '../lib/remote/outbox-db.js';
import type { NormalizedRecord } from '../lib/validate.js';

/** One queued record: the record as validated, and the client's time of the call. */
interface QueuedBody {
  r: NormalizedRecord;
  calledAt: number | null;
}

export interface ReplicaQueueOptions {
  path: string;
  /** Settles records in the database (Ledger.recordPriced); throws when it cannot. */
  replay: (projectId: string, rs: NormalizedRecord[], calledAt: (number | null)[]) => Promise<unknown>;
  /** Whether a replay failure means the database is unreachable (then replay waits for kick()). */
  unreachable: (e: unknown) => boolean;
  onError?: (e: unknown) => void;
  /** A record the database refused for good, moved aside to the file's outbox_dead table. */
  onDead?: (e: unknown, idempotencyKey: string) => void;
  batchSize?: number;
  now?: () => number;
}

const ALL = Number.MAX_SAFE_INTEGER;

/**
 * SQLSTATE classes of an answer about the data itself, which no retry changes: 22 data
 * exception, 23 integrity constraint, 42 syntax or access rule, P0 raised by a function.
 * Everything else (serialization failures, deadlocks, timeouts, resources) is retried.
 */
const PG_PERMANENT = /^(22|23|42|P0)/;

/** Whether the database refused a record for good: then it is set aside, not retried. */
export function isRefusal(e: unknown): boolean {
  if (e instanceof NoburnValidationError || e instanceof NoburnNotFoundError) return true;
  for (let cur: unknown = e, depth = 0; cur !== null && cur !== undefined && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && code.length === 5 && PG_PERMANENT.test(code)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}
/** A claimed batch is this replica's for this long; a replica that died lets it go after. */
const LEASE_MS = 30_000;

export class ReplicaQueue {
  private readonly file: OutboxFile;
  private readonly now: () => number;
  private readonly batchSize: number;
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  /** Records settled by replay since start (tests and logs). */
  replayed = 0;

  private constructor(private readonly o: ReplicaQueueOptions) {
    this.file = OutboxFile.open(o.path);
    this.now = o.now ?? Date.now;
    this.batchSize = o.batchSize ?? 500;
  }

  /** Opens (creating) the file; throws NoburnStoreError when it cannot. */
  static open(o: ReplicaQueueOptions): ReplicaQueue {
    return new ReplicaQueue(o);
  }

  /**
   * Writes records in one transaction before returning: "queued" means stored. Throws
   * NoburnStoreError when the file cannot take them (nothing of the batch is kept).
   */
  enqueue(projectId: string, rs: readonly NormalizedRecord[], calledAt: readonly (number | null)[]): void {
    if (this.closed) throw new NoburnStoreError('the replica queue is closed');
    const ts = this.now();
    try {
      this.file.insert(projectId, rs.map((r, i) => ({ key: r.idempotencyKey, ts, body: JSON.stringify({ r, calledAt: calledAt[i] ?? null } satisfies QueuedBody) })));
    } catch (e) {
      throw e instanceof NoburnStoreError ? e : new NoburnStoreError(`cannot write the replica queue ${this.o.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Records waiting, over every project. */
  pending(): number {
    return this.file.strays('').reduce((n, t) => n + t.n, 0);
  }

  /** Starts replaying whatever waits (no-op while a replay runs or after close). */
  kick(): void {
    if (this.closed || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.pump().finally(() => {
      this.running = null;
    });
  }

  /** Replays every waiting batch; stops at the first failure (unreachable: until kick(); else after a backoff). */
  private async pump(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      // Projects by name: strays('') lists every target with rows (no target is '').
      const projects = this.file.strays('').map((t) => t.target);
      if (projects.length === 0) return;
      let progressed = false;
      for (const projectId of projects) {
        const now = this.now();
        const rows = this.file.claim({ target: projectId, now, until: now + LEASE_MS, force: true, maxId: ALL, limit: this.batchSize });
        if (rows.length === 0) continue;
        if (!(await this.replayBatch(projectId, rows))) return;
        progressed = true;
      }
      // Every row is leased by another replica sharing the file: it replays them.
      if (!progressed) return;
    }
  }

  private async replayBatch(projectId: string, rows: readonly Claimed[]): Promise<boolean> {
    const bodies = rows.map((row) => JSON.parse(row.body) as QueuedBody);
    try {
      await this.o.replay(projectId, bodies.map((b) => b.r), bodies.map((b) => b.calledAt));
    } catch (e) {
      if (!this.closed && isRefusal(e)) return this.setAside(projectId, rows, e);
      // Released at once (close() waits for this, so the file is still open).
      this.file.backoff(rows.map((r) => r.id), 0);
      if (this.closed || this.o.unreachable(e)) return false;
      // The database answered with an error: try again later, backing off (100 ms to 30 s).
      this.o.onError?.(e);
      this.failures++;
      this.timer = setTimeout(() => this.kick(), Math.min(30_000, 100 * 2 ** Math.min(this.failures, 9)));
      this.timer.unref();
      return false;
    }
    this.failures = 0;
    // Settled: a crash before this delete replays the batch, which the database counts once.
    this.file.remove(rows.map((r) => r.id));
    this.replayed += rows.length;
    return true;
  }

  /**
   * A batch the database refused: one bad record must not hold back the queue (replayed
   * forever, it would), so the rows are replayed one by one (still claimed) and the one
   * refused alone goes to outbox_dead with the reason, as the client outbox does.
   */
  private async setAside(projectId: string, rows: readonly Claimed[], e: unknown): Promise<boolean> {
    if (rows.length > 1) {
      for (let i = 0; i < rows.length; i++) {
        if (await this.replayBatch(projectId, [rows[i] as Claimed])) continue;
        // Stopped (unreachable, or retried later): the rest goes back to the queue now.
        this.file.backoff(rows.slice(i + 1).map((r) => r.id), 0);
        return false;
      }
      return true;
    }
    const row = rows[0] as Claimed;
    this.file.kill(row.id, e instanceof Error ? e.message : String(e), this.now());
    this.o.onDead?.(e, row.idem_key);
    return true;
  }

  /** Waits for the replay in progress, then closes the file; what waits stays on disk for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
    this.file.close();
  }

  /** Waits until nothing waits (tests). */
  async drained(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.pending() > 0) {
      if (Date.now() > until) throw new Error(`the replica queue still holds ${this.pending()} records`);
      this.kick();
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.running;
  }
}

import type { Database, Statement } from 'better-sqlite3';
import { usdNumberToNano } from '../../money.js';
import type { Budget, BudgetScope, LedgerEvent, RunInfo } from '../../types.js';
import { budgetKey } from '../../model-glob.js';
import { storedTags } from '../../tags.js';
import type { StoreRecord } from '../store.js';
import { countBlocked, settle } from './decide.js';
import type { BlockedCheck } from './decide.js';
import { openLedgerFile } from './open.js';
import { logEvent, prepareStatements } from './statements.js';
import type { Statements } from './statements.js';

/**
 * The mirror: in remote mode the local ledger file holds a copy of what the client saw
 * (its decisions, records and runs) and, through MirrorSync (remote/mirror-sync.ts), of the server's event feed,
 * so that `noburn watch` reads the same tables in both modes.
 *
 * Everything is applied idempotently, by ref: a record by its idempotency key (the records
 * table is unique on it), anything else through `mirror_applied`. The same decision seen
 * by the client and later pulled from the feed therefore counts once. These two tables
 * are created here (IF NOT EXISTS), outside the ledger's migrations: only mirrors use them.
 */
const MIRROR_TABLES = `
  CREATE TABLE IF NOT EXISTS mirror_applied (
    project_id TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (project_id, key)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS mirror_cursor (
    feed TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

/** A decision the server (or this client) made, as the mirror keeps it. */
export interface MirrorDecision {
  projectId: string;
  ts: number;
  model: string;
  userId: string | null;
  runId: string | null;
  tokensIn: number;
  tokensOut: number;
  estimateNano: number;
  blocked: boolean;
  reason: string | null;
  unpriced: boolean;
  reservationId: string | null;
  /** The server's event ref for the decision; dedupes it against the feed. */
  decisionId: string | null;
  holdTtlMs: number;
  /** The check's sorted tags (counted in tag usage when blocked; kept on the hold). */
  tags?: readonly string[] | undefined;
}

export type MirrorItem =
  | { kind: 'decision'; d: MirrorDecision }
  | { kind: 'record'; r: StoreRecord }
  | { kind: 'release'; projectId: string; reservationId: string }
  | { kind: 'run'; projectId: string; run: RunInfo; ts: number }
  | { kind: 'budget'; projectId: string; scope: BudgetScope; userId: string | null; model?: string | null; tag?: string | null; capNano: number | null; period: string; ts: number };

interface MirrorStatements {
  mark: Statement;
  ensureRun: Statement;
  upsertRun: Statement;
  endRun: Statement;
  insertHold: Statement;
  getCursor: Statement;
  setCursor: Statement;
  clearBudgets: Statement;
}

/** A feed event's tags as the sorted key=value list (the server sorted them). */
function tagsOf(e: LedgerEvent): string[] {
  return e.tags === undefined ? [] : Object.entries(e.tags).map(([k, v]) => `${k}=${v}`).sort();
}

export class SqliteMirror {
  readonly db: Database;
  private readonly st: Statements;
  private readonly m: MirrorStatements;
  private closed = false;

  constructor(readonly path: string) {
    this.db = openLedgerFile(path);
    this.db.exec(MIRROR_TABLES);
    this.st = prepareStatements(this.db);
    this.m = {
      mark: this.db.prepare('INSERT OR IGNORE INTO mirror_applied (project_id, key) VALUES (?, ?)'),
      ensureRun: this.db.prepare(`INSERT OR IGNORE INTO runs (id, project_id, label, cap_nano, status, started_at) VALUES (?, ?, NULL, NULL, 'open', ?)`),
      upsertRun: this.db.prepare(`INSERT INTO runs (id, project_id, label, cap_nano, status, exhausted, started_at, ended_at, spent_nano, calls, blocked_calls, unpriced_calls, last_at, parent_id)
        VALUES (@id, @project, @label, @cap, @status, @exhausted, @started, @ended, @spent, @calls, @blocked, @unpriced, NULL, @parent)
        ON CONFLICT (id) DO UPDATE SET label = excluded.label, cap_nano = excluded.cap_nano, status = excluded.status, parent_id = excluded.parent_id,
          exhausted = excluded.exhausted, started_at = excluded.started_at, ended_at = excluded.ended_at, spent_nano = excluded.spent_nano,
          calls = excluded.calls, blocked_calls = excluded.blocked_calls, unpriced_calls = excluded.unpriced_calls`),
      endRun: this.db.prepare(`UPDATE runs SET status = 'ended', ended_at = coalesce(ended_at, ?), exhausted = max(exhausted, ?) WHERE id = ? AND project_id = ?`),
      insertHold: this.db.prepare('INSERT OR IGNORE INTO holds (id, project_id, user_id, run_id, model, amount_nano, created_at, expires_at, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      getCursor: this.db.prepare('SELECT seq FROM mirror_cursor WHERE feed = ?'),
      setCursor: this.db.prepare('INSERT INTO mirror_cursor (feed, seq) VALUES (?, ?) ON CONFLICT (feed) DO UPDATE SET seq = excluded.seq'),
      clearBudgets: this.db.prepare('DELETE FROM budgets WHERE project_id = ?'),
    };
  }

  /** True the first time `key` is seen for the project (and marks it). */
  private first(projectId: string, key: string): boolean {
    return this.m.mark.run(projectId, key).changes > 0;
  }

  private blocked(b: BlockedCheck, ref: string): void {
    if (b.runId !== null) this.m.ensureRun.run(b.runId, b.projectId, b.ts);
    countBlocked(this.st, b, ref, true);
  }

  private record(r: StoreRecord): boolean {
    if (r.runId !== null) this.m.ensureRun.run(r.runId, r.projectId, r.ts);
    return settle(this.st, r);
  }

  private run(projectId: string, run: RunInfo, ts: number): void {
    this.m.upsertRun.run({
      id: run.runId,
      project: projectId,
      label: run.label,
      parent: run.parentRunId,
      cap: run.budgetCapUsd === null ? null : usdNumberToNano(run.budgetCapUsd),
      status: run.status,
      exhausted: run.exhausted ? 1 : 0,
      started: Date.parse(run.startedAt),
      ended: run.endedAt === null ? null : Date.parse(run.endedAt),
      spent: usdNumberToNano(run.spendUsd),
      calls: run.calls,
      blocked: run.blockedCalls,
      unpriced: run.unpricedCalls,
    });
    if (this.first(projectId, `run_start:${run.runId}`)) {
      logEvent(this.st, { projectId, ts: Date.parse(run.startedAt), kind: 'run_start', runId: run.runId, amountNano: run.budgetCapUsd === null ? 0 : usdNumberToNano(run.budgetCapUsd), ref: run.runId });
    }
    if (run.status === 'ended' && this.first(projectId, `run_end:${run.runId}`)) {
      logEvent(this.st, { projectId, ts: run.endedAt === null ? ts : Date.parse(run.endedAt), kind: 'run_end', runId: run.runId, amountNano: usdNumberToNano(run.spendUsd), blocked: run.exhausted, ref: run.runId });
    }
  }

  /** What this client saw, in one transaction. */
  applyLocal(items: readonly MirrorItem[]): void {
    if (items.length === 0) return;
    this.db
      .transaction(() => {
        for (const it of items) {
          switch (it.kind) {
            case 'decision': {
              const d = it.d;
              if (d.blocked) {
                const ref = d.decisionId ?? `local:${d.ts}:${Math.random().toString(36).slice(2)}`;
                if (this.first(d.projectId, `check:${ref}`)) {
                  const b = { projectId: d.projectId, ts: d.ts, userId: d.userId, runId: d.runId, model: d.model, amountNano: d.estimateNano, reason: d.reason, unpriced: d.unpriced, tokensIn: d.tokensIn, tokensOut: d.tokensOut, tags: d.tags };
                  this.blocked(b, ref);
                }
              } else if (d.reservationId !== null) {
                this.m.insertHold.run(d.reservationId, d.projectId, d.userId, d.runId, d.model, d.estimateNano, d.ts, d.ts + d.holdTtlMs, storedTags(d.tags));
              }
              break;
            }
            case 'record':
              this.record(it.r);
              break;
            case 'release':
              this.st.deleteHold.run(it.reservationId, it.projectId);
              break;
            case 'run':
              this.run(it.projectId, it.run, it.ts);
              break;
            case 'budget': {
              const { scope, subject } = budgetKey(it);
              if (it.capNano === null) this.st.deleteBudget.run(it.projectId, scope, subject);
              else this.st.upsertBudget.run({ project: it.projectId, scope, subject, cap: it.capNano, period: it.period, now: it.ts, alerts: null, keep: 1 });
              break;
            }
          }
        }
      })
      .immediate();
  }

  /**
   * Applies a page of the server's feed under the local project id and moves the feed's
   * cursor in the same transaction. Returns how many events were new to this mirror.
   */
  applyEvents(projectId: string, events: readonly LedgerEvent[], feed: string, cursor: number): number {
    return this.db
      .transaction(() => {
        let applied = 0;
        for (const e of events) {
          const ts = Date.parse(e.ts);
          const amountNano = usdNumberToNano(e.amountUsd);
          switch (e.kind) {
            case 'record':
              if (e.ref === null) break;
              if (
                this.record({
                  projectId, userId: e.userId, runId: e.runId, model: e.model ?? 'unknown', tokensIn: e.tokensIn, tokensOut: e.tokensOut,
                  cachedTokensIn: 0, cacheWriteTokensIn: 0, costNano: amountNano, unpriced: e.unpriced, wasBlocked: e.blocked,
                  reservationId: null, idempotencyKey: e.ref, ts, tags: tagsOf(e),
                })
              ) applied++;
              break;
            case 'check': {
              const ref = e.ref ?? `srv:${feed}:${e.seq}`;
              if (!this.first(projectId, `check:${ref}`)) break;
              applied++;
              if (e.blocked) this.blocked({ projectId, ts, userId: e.userId, runId: e.runId, model: e.model, amountNano, reason: e.reason, unpriced: e.unpriced, tokensIn: e.tokensIn, tokensOut: e.tokensOut, tags: tagsOf(e) }, ref);
              else logEvent(this.st, { projectId, ts, kind: 'check', userId: e.userId, runId: e.runId, model: e.model, amountNano, unpriced: e.unpriced, tokensIn: e.tokensIn, tokensOut: e.tokensOut, ref, tags: tagsOf(e) });
              break;
            }
            case 'run_start':
            case 'run_end': {
              const runId = e.runId ?? e.ref;
              if (runId === null || !this.first(projectId, `${e.kind}:${runId}`)) break;
              applied++;
              this.m.ensureRun.run(runId, projectId, ts);
              if (e.kind === 'run_end') this.m.endRun.run(ts, e.blocked ? 1 : 0, runId, projectId);
              logEvent(this.st, { projectId, ts, kind: e.kind, runId, amountNano, blocked: e.blocked, ref: runId });
              break;
            }
            case 'budget':
              // Keyed by what the change was and when, so that another key's feed of the same server does not repeat it.
              if (!this.first(projectId, `budget:${e.ts}:${e.ref ?? ''}:${amountNano}`)) break;
              applied++;
              logEvent(this.st, { projectId, ts, kind: 'budget', userId: e.userId, amountNano, ref: e.ref });
              break;
          }
        }
        this.m.setCursor.run(feed, cursor);
        return applied;
      })
      .immediate();
  }

  /** The server's run summaries win over what the mirror summed itself. */
  upsertRuns(projectId: string, runs: readonly RunInfo[], now: number): void {
    this.db.transaction(() => runs.forEach((r) => this.run(projectId, r, now))).immediate();
  }

  /** The project's caps, replaced by the server's. */
  replaceBudgets(projectId: string, budgets: readonly Budget[], now: number): void {
    this.db
      .transaction(() => {
        this.m.clearBudgets.run(projectId);
        for (const b of budgets) {
          const { scope, subject } = budgetKey(b);
          this.st.upsertBudget.run({ project: projectId, scope, subject, cap: usdNumberToNano(b.capUsd), period: b.period, now, alerts: null, keep: 1 });
        }
      })
      .immediate();
  }

  cursor(feed: string): number {
    return (this.m.getCursor.get(feed) as { seq: number } | undefined)?.seq ?? 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

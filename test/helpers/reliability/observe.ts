/**
 * Reads a ledger's tables as plain rows and builds the same shapes from the
 * reference model, so a test compares them with one toEqual (which shows the difference).
 */
import type { Database } from 'better-sqlite3';
import { nanoToUsd } from '../../../src/lib/money.js';
import { PERIODS } from '../../../src/lib/periods.js';
import type { Period } from '../../../src/lib/periods.js';
import type { Budget, LedgerEvent, SpendGroupBy, SpendReport, SpendRow, UserSummary } from '../../../src/lib/types.js';
import type { LedgerUnderTest } from './backend.js';
import type { LedgerModel, MContribution } from './model.js';
import { isoDay, parseWindowKey, windowIndex, windowStartMs } from './windows.js';

export interface UsageRow {
  scope: string;
  subject: string;
  period: Period;
  index: number;
  spent: number;
  calls: number;
  blocked: number;
  unpriced: number;
  tokensIn: number;
  tokensOut: number;
}

const byJson = <T>(a: T, b: T): number => (JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0);
export const sorted = <T>(xs: T[]): T[] => [...xs].sort(byJson);

export async function dbUsage(db: LedgerUnderTest, project: string): Promise<UsageRow[]> {
  const rows = await db.all<{ scope: string; subject: string; window: string; spent_nano: number; calls: number; blocked_calls: number; unpriced_calls: number; tokens_in: number; tokens_out: number }>(
    `SELECT scope, subject, ${db.windowColumn} AS "window", spent_nano, calls, blocked_calls, unpriced_calls, tokens_in, tokens_out FROM usage WHERE project_id = ?`,
    [project],
  );
  return sorted(
    rows.map((r) => ({
      scope: r.scope, subject: r.subject, ...parseWindowKey(r.window), spent: r.spent_nano, calls: r.calls,
      blocked: r.blocked_calls, unpriced: r.unpriced_calls, tokensIn: r.tokens_in, tokensOut: r.tokens_out,
    })),
  );
}

/** Every summary row the model's settled records and blocked checks imply: one per scope and window. */
export function modelUsage(contributions: readonly MContribution[]): UsageRow[] {
  const acc = new Map<string, UsageRow>();
  for (const c of contributions) {
    const scopes: [string, string][] = [['project', ''], ['model', c.model]];
    if (c.user !== null) scopes.push(['user', c.user], ['user_model', `${c.user}\u001f${c.model}`]);
    for (const t of c.tags) scopes.push(['tag', t]);
    for (const [scope, subject] of scopes) {
      for (const period of PERIODS) {
        const index = windowIndex(period, c.ts);
        const k = JSON.stringify([scope, subject, period, index]);
        const row = acc.get(k) ?? { scope, subject, period, index, spent: 0, calls: 0, blocked: 0, unpriced: 0, tokensIn: 0, tokensOut: 0 };
        row.spent += c.spent;
        row.calls += c.calls;
        row.blocked += c.blocked;
        row.unpriced += c.unpriced;
        row.tokensIn += c.tokensIn;
        row.tokensOut += c.tokensOut;
        acc.set(k, row);
      }
    }
  }
  return sorted([...acc.values()]);
}

export async function dbRecords(db: LedgerUnderTest, project: string): Promise<unknown[]> {
  const rows = await db.all<{ unpriced: number; wasBlocked: number }>(
    `SELECT idem_key AS key, ts, user_id AS "user", run_id AS run, model, tokens_in AS "tokensIn", tokens_out AS "tokensOut",
        cached_in AS cached, cache_write_in AS "cacheWrite", cost_nano AS cost, unpriced, was_blocked AS "wasBlocked",
        reservation_id AS "reservationId" FROM records WHERE project_id = ?`,
    [project],
  );
  return sorted(rows.map((r) => ({ ...r, unpriced: Number(r.unpriced) === 1, wasBlocked: Number(r.wasBlocked) === 1 })));
}

export function modelRecords(m: LedgerModel, project: string): unknown[] {
  return sorted([...m.project(project).records.values()].map(({ project: _p, ...r }) => r));
}

/** Holds that still count at `now` (an expired hold may linger until the next sweep; it must not count). */
export async function dbLiveHolds(db: LedgerUnderTest, now: number): Promise<unknown[]> {
  const rows = await db.all<{ tags: string | null }>(
    'SELECT id, project_id AS project, user_id AS "user", run_id AS run, model, amount_nano AS amount, created_at AS "createdAt", expires_at AS "expiresAt", tags FROM holds WHERE expires_at > ?',
    [now],
  );
  // Tags as stored (sorted key=value joined with ','; NULL when none), as the model's list.
  return sorted(rows.map((r) => ({ ...r, tags: r.tags === null ? [] : r.tags.split(',') })));
}

export function modelLiveHolds(m: LedgerModel): unknown[] {
  return sorted(m.holds.filter((h) => m.live(h)).map((h) => ({ ...h })));
}

export async function dbRuns(db: LedgerUnderTest): Promise<unknown[]> {
  const rows = await db.all<{ status: string; exhausted: number }>(
    'SELECT id, project_id AS project, cap_nano AS cap, status, exhausted, spent_nano AS spent, calls, blocked_calls AS blocked, unpriced_calls AS unpriced, started_at AS "startedAt", ended_at AS "endedAt" FROM runs',
  );
  return sorted(rows.map(({ status, exhausted, ...r }) => ({ ...r, open: status === 'open', exhausted: Number(exhausted) === 1 })));
}

export function modelRuns(m: LedgerModel): unknown[] {
  return sorted([...m.runs.values()].map((r) => ({ ...r })));
}

/**
 * Every row of every table of a SQLite ledger, to prove that an operation changed nothing. The
 * `prices` table is left out: it is a cache of price lookups (pricing a record may fill
 * it before the idempotency key is seen), not ledger state.
 */
export function dumpTables(db: Database): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'prices' ORDER BY name").pluck().all() as string[];
  for (const t of tables) out[t] = sorted(db.prepare(`SELECT * FROM "${t}"`).raw().all());
  return out;
}

const GROUP: Record<string, (c: MContribution) => string | null> = {
  user: (c) => c.user,
  run: (c) => c.run,
  model: (c) => c.model,
  day: (c) => isoDay(c.ts),
};
/** The value of tag `key` on a call, null when it has none (spend by tag:KEY). */
const tagValue = (key: string) => (c: MContribution) => c.tags.find((t) => t.startsWith(`${key}=`))?.slice(key.length + 1) ?? null;

/** The spend report the model implies (records settle spend; blocked checks add blocked calls). */
export function modelSpend(m: LedgerModel, project: string, by: SpendGroupBy | null): Pick<SpendReport, 'totalUsd' | 'calls' | 'blockedCalls' | 'unpricedCalls' | 'rows'> {
  const cs = m.project(project).contributions;
  const rows = new Map<string | null, SpendRow & { nano: number }>();
  for (const c of by ? cs : []) {
    const key = (by?.startsWith('tag:') ? tagValue(by.slice(4)) : (GROUP[by as string] as (c: MContribution) => string | null))(c);
    const row = rows.get(key) ?? { key, spendUsd: 0, nano: 0, calls: 0, blockedCalls: 0, unpricedCalls: 0, tokensIn: 0, tokensOut: 0 };
    row.nano += c.spent;
    row.calls += c.calls;
    row.blockedCalls += c.blocked;
    row.unpricedCalls += c.unpriced;
    row.tokensIn += c.tokensIn;
    row.tokensOut += c.tokensOut;
    rows.set(key, row);
  }
  const sum = (f: (c: MContribution) => number) => cs.reduce((a, c) => a + f(c), 0);
  return {
    totalUsd: nanoToUsd(sum((c) => c.spent)),
    calls: sum((c) => c.calls),
    blockedCalls: sum((c) => c.blocked),
    unpricedCalls: sum((c) => c.unpriced),
    rows: sorted([...rows.values()].map(({ nano, ...r }) => ({ ...r, spendUsd: nanoToUsd(nano) }))),
  };
}

export function reportShape(r: SpendReport): ReturnType<typeof modelSpend> {
  return { totalUsd: r.totalUsd, calls: r.calls, blockedCalls: r.blockedCalls, unpricedCalls: r.unpricedCalls, rows: sorted(r.rows) };
}

/** getBudgets() as the model sees it: spend in the current window and the holds that count now. */
export function modelBudgets(m: LedgerModel, project: string): Budget[] {
  const s = m.project(project);
  const out: Budget[] = [];
  const add = (scope: Budget['scope'], userId: string | null, cap: { cap: number; period: Period }, spent: number, held: number, unpricedCalls: number, model: string | null = null, tag: string | null = null) =>
    out.push({ scope, userId, ...(model !== null ? { model } : {}), ...(tag !== null ? { tag } : {}), capUsd: nanoToUsd(cap.cap), period: cap.period, spentUsd: nanoToUsd(spent), heldUsd: nanoToUsd(held), unpricedCalls, windowStart: new Date(windowStartMs(cap.period, m.now)).toISOString() });
  if (s.projectCap) add('project', null, s.projectCap, m.spentInWindow(project, null, s.projectCap.period), m.held((h) => h.project === project), m.unpricedInWindow(project, null, s.projectCap.period));
  if (s.defaultUserCap) add('default_user', null, s.defaultUserCap, 0, 0, 0);
  for (const mc of m.modelCapList(project)) {
    add('model', mc.user, mc, m.spentInWindow(project, mc.user, mc.period, mc.glob), m.modelCapUsed(project, mc) - m.spentInWindow(project, mc.user, mc.period, mc.glob), m.unpricedInWindow(project, mc.user, mc.period, mc.glob), mc.glob);
  }
  for (const [t, cap] of s.tagCaps) {
    const w = m.tagInWindow(project, t, cap.period);
    add('tag', null, cap, w.spent, m.tagHeld(project, t), w.unpriced, null, t);
  }
  for (const [u, cap] of s.userCaps) add('user', u, cap, m.spentInWindow(project, u, cap.period), m.held((h) => h.project === project && h.user === u), m.unpricedInWindow(project, u, cap.period));
  return sorted(out);
}

/** The event feed of a project, oldest first, with what the model cannot know (a blocked check's random id, a budget's ref) left out. */
export function feedShape(events: readonly LedgerEvent[]): unknown[] {
  return events.map((e) => ({
    kind: e.kind, ts: e.ts, userId: e.userId, runId: e.runId, model: e.model, amountUsd: e.amountUsd, blocked: e.blocked, reason: e.reason,
    ref: e.kind === 'record' || e.kind === 'run_start' || e.kind === 'run_end' ? e.ref : null,
  }));
}

export function modelFeed(m: LedgerModel, project: string): unknown[] {
  return m.project(project).events.map((e) => ({
    kind: e.kind, ts: new Date(e.ts).toISOString(), userId: e.user, runId: e.run, model: e.model, amountUsd: nanoToUsd(e.amount), blocked: e.blocked, reason: e.reason, ref: e.ref,
  }));
}

/** listUsers() as the model sees it: every user with a settled record or a blocked check. */
export function modelUsers(m: LedgerModel, project: string): UserSummary[] {
  const byUser = new Map<string, MContribution[]>();
  for (const c of m.project(project).contributions) if (c.user !== null) byUser.set(c.user, [...(byUser.get(c.user) ?? []), c]);
  return [...byUser].map(([u, cs]) => {
    const cap = m.userCap(project, u);
    return {
      userId: u,
      spentUsd: nanoToUsd(m.spentInWindow(project, u, cap?.period ?? 'total')),
      heldUsd: nanoToUsd(m.held((h) => h.project === project && h.user === u)),
      capUsd: cap ? nanoToUsd(cap.cap) : null,
      period: cap ? cap.period : null,
      calls: cs.reduce((a, c) => a + c.calls, 0),
      blockedCalls: cs.reduce((a, c) => a + c.blocked, 0),
      unpricedCalls: cs.reduce((a, c) => a + c.unpriced, 0),
      lastAt: new Date(Math.max(...cs.map((c) => c.ts))).toISOString(),
    };
  }).sort((a, b) => (a.userId < b.userId ? -1 : 1));
}

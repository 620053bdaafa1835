import { storedTags, tagsOfStored } from '../tags.js';
import type { BlockReason, EventKind } from '../types.js';
import type { AlertRecord, EventRecord, RunRecord, StoreEventFilter } from './store.js';
import type { Period } from '../periods.js';
import { USER_MODEL_SEP } from '../model-glob.js';
import { thresholdsOf } from '../alerts/thresholds.js';

/**
 * The rows both backends store alike (same tables, same columns: SQLite and PostgreSQL
 * share the schema's shape), and their mappers. Money columns are integer nano-dollars,
 * times epoch milliseconds.
 */
export interface RunRow {
  id: string;
  project_id: string;
  label: string | null;
  cap_nano: number | null;
  status: 'open' | 'ended' | 'abandoned';
  exhausted: number;
  started_at: number;
  ended_at: number | null;
  spent_nano: number;
  calls: number;
  blocked_calls: number;
  unpriced_calls: number;
  last_at: number | null;
  parent_id: string | null;
  clamped_calls: number;
  over_holds: number;
  /** Alert thresholds ("50,80"); null: none. */
  alert_at?: string | null;
}

export interface EventRow {
  seq: number;
  project_id: string;
  ts: number;
  kind: string;
  user_id: string | null;
  run_id: string | null;
  model: string | null;
  amount_nano: number;
  blocked: number;
  reason: string | null;
  unpriced: number;
  tokens_in: number;
  tokens_out: number;
  ref: string | null;
  /** Stored form (tags.ts); null when none, or in rows older than migration 5. */
  tags?: string | null;
}

/** An entry a store appends to the event feed; what is left out is null, 0 or false. */
export interface EventEntry {
  projectId: string;
  ts: number;
  kind: EventKind;
  userId?: string | null | undefined;
  runId?: string | null | undefined;
  model?: string | null | undefined;
  amountNano?: number | undefined;
  /** check / record: the call was refused; run_end: the run was exhausted. */
  blocked?: boolean | undefined;
  reason?: string | null | undefined;
  unpriced?: boolean | undefined;
  tokensIn?: number | undefined;
  tokensOut?: number | undefined;
  ref: string | null;
  /** check / record: the call's sorted tags. */
  tags?: readonly string[] | undefined;
}

/** An entry as the events table's columns, in their order (project_id, ts, kind, ..., ref, tags). */
export function eventColumns(e: EventEntry): [string, number, string, string | null, string | null, string | null, number, number, string | null, number, number, number, string | null, string | null] {
  return [
    e.projectId, e.ts, e.kind, e.userId ?? null, e.runId ?? null, e.model ?? null, e.amountNano ?? 0, e.blocked ? 1 : 0,
    e.reason ?? null, e.unpriced ? 1 : 0, e.tokensIn ?? 0, e.tokensOut ?? 0, e.ref, storedTags(e.tags),
  ];
}

export function runRecordOf(r: RunRow, heldNano: number): RunRecord {
  return {
    runId: r.id,
    label: r.label,
    parentRunId: r.parent_id ?? null,
    status: r.status,
    exhausted: r.exhausted === 1,
    capNano: r.cap_nano,
    spentNano: r.spent_nano,
    heldNano,
    calls: r.calls,
    blockedCalls: r.blocked_calls,
    unpricedCalls: r.unpriced_calls,
    clampedCalls: Number(r.clamped_calls ?? 0),
    overHolds: Number(r.over_holds ?? 0),
    startedAt: r.started_at,
    endedAt: r.ended_at,
    ...(r.alert_at ? { alertAt: thresholdsOf(r.alert_at) } : {}),
  };
}

export function eventRecordOf(r: EventRow): EventRecord {
  return {
    seq: r.seq,
    ts: r.ts,
    kind: r.kind as EventKind,
    projectId: r.project_id,
    userId: r.user_id,
    runId: r.run_id,
    model: r.model,
    amountNano: r.amount_nano,
    blocked: r.blocked === 1,
    reason: r.reason as BlockReason | null,
    unpriced: r.unpriced === 1,
    tokensIn: r.tokens_in,
    tokensOut: r.tokens_out,
    ref: r.ref,
    tags: tagsOfStored(r.tags),
  };
}

/**
 * The SQL of a filtered feed page, shared by both stores (placeholders made by `ph`, 1-based):
 * WHERE and LIMIT over the events table, ordered by seq. Only bounds that are set appear.
 */
export function eventPageSql(projectId: string | null, afterSeq: number, limit: number, f: StoreEventFilter | undefined, ph: (n: number) => string): { sql: string; args: (string | number)[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  const add = (cond: string, v: string | number) => {
    args.push(v);
    where.push(cond.replace('?', ph(args.length)));
  };
  if (projectId !== null) add('project_id = ?', projectId);
  add('seq > ?', afterSeq);
  if (f?.sinceMs != null) add('ts >= ?', f.sinceMs);
  if (f?.untilMs != null) add('ts < ?', f.untilMs);
  if (f?.kind != null) add('kind = ?', f.kind);
  args.push(limit);
  return { sql: `SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ${ph(args.length)}`, args };
}

/** A row of the alerts table (both stores). */
export interface AlertRow {
  seq: number;
  id: string;
  project_id: string;
  scope: string;
  subject: string;
  window: string;
  threshold: number;
  spent_nano: number;
  cap_nano: number;
  period: Period;
  fired_at: number;
  attempts: number;
  delivered_at: number | null;
  last_error: string | null;
}

/** A stored row as the public record: 'user_model' is scope 'model' with its user. */
export function alertRecordOf(r: AlertRow): AlertRecord {
  let scope = r.scope as AlertRecord['scope'];
  let subject: string | null = r.subject;
  let userId: string | null = null;
  if (r.scope === 'user_model') {
    // subject: user U+001F glob
    const i = r.subject.indexOf(USER_MODEL_SEP);
    scope = 'model';
    subject = r.subject.slice(i + 1);
    userId = r.subject.slice(0, i);
  } else if (r.scope === 'user') {
    userId = r.subject;
  } else if (r.scope === 'project') {
    subject = null;
  }
  return {
    seq: Number(r.seq), id: r.id, projectId: r.project_id, scope, subject, userId, threshold: Number(r.threshold),
    spentNano: Number(r.spent_nano), capNano: Number(r.cap_nano), period: r.period, window: r.window, firedAt: Number(r.fired_at),
    deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at), attempts: Number(r.attempts), lastError: r.last_error,
  };
}

import { newId } from '../../ids.js';
import { windowKey } from '../../periods.js';
import type { Period } from '../../periods.js';
import { globMatches } from '../../model-glob.js';
import { reached, thresholdsOf } from '../../alerts/thresholds.js';
import type { StoreRecord } from '../store.js';
import { modelCapUsage, splitModelSubject } from './model-caps.js';
import { logEvent } from './statements.js';
import type { Statements } from './statements.js';

/**
 * Alert firing in the SQLite store, inside the record transaction (BEGIN IMMEDIATE), after
 * the batch's usage rows are written: for each cap with thresholds that a settled record
 * counts in, every threshold its window's recorded spend has reached is inserted into
 * `alerts` under its UNIQUE (project, scope, subject, window, threshold) key. The first
 * transaction to reach it inserts the row (and logs the `alert` event); every later one,
 * in any process, finds the key taken and does nothing: one alert per threshold and window.
 */
interface AlertBudgetRow {
  scope: string;
  subject: string;
  cap_nano: number;
  period: Period;
  alert_at: string | null;
}

/** One cap with thresholds as a record counts in it: its key, cap and the window's spend. */
interface CapSpend {
  scope: string;
  subject: string;
  period: Period;
  window: string;
  capNano: number;
  spentNano: number;
  thresholds: number[];
  userId: string | null;
  runId: string | null;
  model: string | null;
}

function spentIn(st: Statements, projectId: string, scope: string, subject: string, window: string): number {
  return (st.getSpent.get(projectId, scope, subject, window) as { spent_nano: number } | undefined)?.spent_nano ?? 0;
}

/** The caps with thresholds that record `r` counts in, with their spend now (after the batch's usage). */
function capsOf(st: Statements, r: StoreRecord, budgets: readonly AlertBudgetRow[]): CapSpend[] {
  const out: CapSpend[] = [];
  const p = r.projectId;
  const at = (period: Period) => windowKey(period, r.ts);
  for (const b of budgets) {
    if (b.scope === 'project') {
      const w = at(b.period);
      out.push({ scope: 'project', subject: '', period: b.period, window: w, capNano: b.cap_nano, spentNano: spentIn(st, p, 'project', '', w), thresholds: thresholdsOf(b.alert_at), userId: null, runId: null, model: null });
    } else if (b.scope === 'tag') {
      if (!(r.tags ?? []).includes(b.subject)) continue;
      const w = at(b.period);
      out.push({ scope: 'tag', subject: b.subject, period: b.period, window: w, capNano: b.cap_nano, spentNano: spentIn(st, p, 'tag', b.subject, w), thresholds: thresholdsOf(b.alert_at), userId: null, runId: null, model: null });
    } else if (b.scope === 'model' || b.scope === 'user_model') {
      const { userId, glob } = splitModelSubject({ scope: b.scope, subject: b.subject });
      if (userId !== null && userId !== r.userId) continue;
      if (!globMatches(glob, r.model)) continue;
      const u = modelCapUsage(st, p, { scope: b.scope, subject: b.subject, cap_nano: b.cap_nano, period: b.period }, r.ts);
      out.push({ scope: b.scope, subject: b.subject, period: b.period, window: at(b.period), capNano: b.cap_nano, spentNano: u.spent, thresholds: thresholdsOf(b.alert_at), userId, runId: null, model: glob });
    }
  }
  if (r.userId !== null && budgets.some((b) => b.scope === 'user' || b.scope === 'default_user')) {
    // The user's own cap wins over the default one (its thresholds too, or its lack of them).
    const own = (st.budgetWithAlerts.get(p, 'user', r.userId) ?? st.budgetWithAlerts.get(p, 'default_user', '')) as Omit<AlertBudgetRow, 'scope' | 'subject'> | undefined;
    if (own?.alert_at) {
      const w = at(own.period);
      out.push({ scope: 'user', subject: r.userId, period: own.period, window: w, capNano: own.cap_nano, spentNano: spentIn(st, p, 'user', r.userId, w), thresholds: thresholdsOf(own.alert_at), userId: r.userId, runId: null, model: null });
    }
  }
  if (r.runId !== null) {
    // The run's cap and its ancestors' (a nested run's spend counts in each).
    for (const run of st.runAlertChain.all(r.runId) as { id: string; cap_nano: number; spent_nano: number; alert_at: string }[]) {
      out.push({ scope: 'run', subject: run.id, period: 'total', window: 'total', capNano: run.cap_nano, spentNano: run.spent_nano, thresholds: thresholdsOf(run.alert_at), userId: null, runId: run.id, model: null });
    }
  }
  return out;
}

/**
 * Fires the alerts the batch's settled records reached (call after usage is written, in
 * the same transaction). `now` is the ledger's clock. Returns how many fired.
 */
export function fireAlerts(st: Statements, settled: readonly StoreRecord[], now: number): number {
  const budgetsOf = new Map<string, AlertBudgetRow[]>();
  const seen = new Set<string>();
  let fired = 0;
  for (const r of settled) {
    if (r.wasBlocked || r.costNano <= 0) continue;
    let budgets = budgetsOf.get(r.projectId);
    if (!budgets) {
      budgets = st.alertBudgets.all(r.projectId) as AlertBudgetRow[];
      budgetsOf.set(r.projectId, budgets);
    }
    if (budgets.length === 0 && r.runId === null) continue;
    for (const c of capsOf(st, r, budgets)) {
      const key = `${r.projectId}\u0000${c.scope}\u0000${c.subject}\u0000${c.window}`;
      if (seen.has(key)) continue;
      seen.add(key);
      for (const t of reached(c.spentNano, c.capNano, c.thresholds)) {
        const id = newId('alr');
        const ins = st.insertAlert.run(id, r.projectId, c.scope, c.subject, c.window, t, c.spentNano, c.capNano, c.period, now, now);
        if (ins.changes === 0) continue;
        fired++;
        logEvent(st, { projectId: r.projectId, ts: now, kind: 'alert', userId: c.userId, runId: c.runId, model: c.model, amountNano: c.spentNano, tokensIn: t, ref: id });
      }
    }
  }
  return fired;
}


import { windowKey, windowStart } from '../../periods.js';
import type { Period } from '../../periods.js';
import type { BudgetScope } from '../../types.js';
import { thresholdsOf } from '../../alerts/thresholds.js';
import type * as S from '../store.js';
import { modelCapUsage, splitModelSubject } from './model-caps.js';
import type { Statements } from './statements.js';

/** A budget record with its thresholds, when it has any. */
function withAlerts(alertAt: string | null, b: S.BudgetRecord): S.BudgetRecord {
  return alertAt ? { ...b, alertAt: thresholdsOf(alertAt) } : b;
}

function usageIn(st: Statements, projectId: string, scope: 'project' | 'user' | 'tag', subject: string, period: Period, now: number): { spent: number; unpriced: number } {
  const row = st.getSpent.get(projectId, scope, subject, windowKey(period, now)) as { spent_nano: number; unpriced_calls: number } | undefined;
  return { spent: row?.spent_nano ?? 0, unpriced: row?.unpriced_calls ?? 0 };
}

/** Every cap of a project with its usage in the current window (SqliteStore.getBudgets). */
export function budgetRecords(st: Statements, projectId: string, now: number): S.BudgetRecord[] {
  const rows = st.listBudgets.all(projectId) as { scope: BudgetScope | 'user_model'; subject: string; cap_nano: number; period: Period; alert_at: string | null }[];
  return rows.map((r): S.BudgetRecord => withAlerts(r.alert_at, ((): S.BudgetRecord => {
    if (r.scope === 'model' || r.scope === 'user_model') {
      const m = { scope: r.scope, subject: r.subject, cap_nano: r.cap_nano, period: r.period };
      const u = modelCapUsage(st, projectId, m, now);
      const { userId, glob } = splitModelSubject(m);
      return {
        scope: 'model', userId, model: glob, capNano: r.cap_nano, period: r.period, spentNano: u.spent,
        heldNano: u.held, unpricedCalls: u.unpriced, windowStart: windowStart(r.period, now),
      };
    }
    if (r.scope === 'tag') {
      const used = usageIn(st, projectId, 'tag', r.subject, r.period, now);
      const held = (st.tagHeld.get({ project: projectId, now, tag: `,${r.subject},` }) as { held: number }).held;
      return {
        scope: 'tag', userId: null, tag: r.subject, capNano: r.cap_nano, period: r.period, spentNano: used.spent,
        heldNano: held, unpricedCalls: used.unpriced, windowStart: windowStart(r.period, now),
      };
    }
    const isUser = r.scope === 'user';
    const used = r.scope === 'default_user' ? { spent: 0, unpriced: 0 } : usageIn(st, projectId, isUser ? 'user' : 'project', r.subject, r.period, now);
    const held =
      r.scope === 'project'
        ? (st.heldProject.get(projectId, now) as { held: number }).held
        : isUser
          ? (st.heldUser.get(projectId, r.subject, now) as { held: number }).held
          : 0;
    return {
      scope: r.scope,
      userId: isUser ? r.subject : null,
      capNano: r.cap_nano,
      period: r.period,
      spentNano: used.spent,
      heldNano: held,
      unpricedCalls: used.unpriced,
      windowStart: windowStart(r.period, now),
    };
  })()));
}

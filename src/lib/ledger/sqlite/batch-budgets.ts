import type { Period } from '../../periods.js';
import type { ModelBudgetRow } from './model-caps.js';
import type { Statements } from './statements.js';

export interface CapRow {
  cap_nano: number;
  period: Period;
}

/**
 * The budgets rows one batch of decisions reads, each read once per batch. No decision
 * writes a budget (caps change only through setBudget, in its own transaction), so inside
 * the batch's transaction a row read once is still the row: the checks after the first
 * skip the project, user, default-user and model-cap lookups.
 */
export class BatchBudgets {
  private readonly caps = new Map<string, CapRow | null>();
  private readonly models = new Map<string, ModelBudgetRow[]>();

  constructor(private readonly st: Statements) {}

  cap(projectId: string, scope: string, subject: string): CapRow | undefined {
    const key = `${projectId}\u0000${scope}\u0000${subject}`;
    let row = this.caps.get(key);
    if (row === undefined) {
      row = (this.st.getBudget.get(projectId, scope, subject) as CapRow | undefined) ?? null;
      this.caps.set(key, row);
    }
    return row ?? undefined;
  }

  /** The project's model caps and, between `lo` and `hi`, the user's own (model-caps.ts). */
  modelRows(projectId: string, lo: string, hi: string): readonly ModelBudgetRow[] {
    const key = `${projectId}\u0000${lo}`;
    let rows = this.models.get(key);
    if (rows === undefined) {
      rows = this.st.modelBudgets.all({ project: projectId, lo, hi }) as ModelBudgetRow[];
      this.models.set(key, rows);
    }
    return rows;
  }
}

/**
 * Spend by model for the dashboard: the project's models panel and the drill-down of one
 * user or run. The project's and a user's figures come from the usage summary rows the store
 * keeps per model (scope 'model', subject the model; scope 'user_model', subject user U+001F
 * model), read by key: no scan. A run has no per-model rows: its breakdown sums the run's
 * records (its nested runs' included, as the run's spend does) inside the run's life through
 * the index records_ts, and is read again only when the run's own figures moved.
 *
 * By tag (ledger schema 5, src/lib/tags.ts): there are no per-user or per-run tag rows, so
 * a breakdown sums the subject's records by their stored tags in the same pass (a run), or
 * over the records of the user's window through records_ts (a user), again only when the
 * subject's figures moved. A call with several tags counts under each; untagged calls are
 * the tag "". An older ledger has no tags: the breakdown has no tag list at all.
 */
import type { Database, Statement } from 'better-sqlite3';
import { USER_MODEL_SEP } from '../model-glob.js';
import { windowKey, windowStart, type Period } from '../periods.js';
import type { DashboardDetail, DashboardModel, DashboardRun, DashboardTag, DashboardUser } from './snapshot.js';

interface ModelRow {
  model: string;
  spent_nano: number;
  calls: number;
  blocked_calls: number;
  unpriced_calls: number;
  last_at: number | null;
}
interface TaggedRow extends ModelRow {
  tags: string | null;
}
interface TagRow {
  tags: string | null;
  spent_nano: number;
  calls: number;
}
interface BlockedByModel {
  model: string | null;
  n: number;
  last_at: number | null;
}

const COLS = 'spent_nano, calls, blocked_calls, unpriced_calls, last_at';

const toModel = (r: ModelRow): DashboardModel => ({
  model: r.model,
  spentNano: r.spent_nano,
  calls: r.calls,
  blockedCalls: r.blocked_calls,
  unpricedCalls: r.unpriced_calls,
  lastAt: r.last_at,
});

/** Most spent first, then most calls, then by name: a stable order for the panel. */
export function byModelSpend(a: DashboardModel, b: DashboardModel): number {
  return b.spentNano - a.spentNano || b.calls - a.calls || (a.model < b.model ? -1 : a.model > b.model ? 1 : 0);
}

/** Sums rows by each tag they carry ("" for untagged), most spent first. */
function byTag(rows: Iterable<Pick<TagRow, 'tags' | 'spent_nano' | 'calls'>>): DashboardTag[] {
  const out = new Map<string, DashboardTag>();
  for (const r of rows) {
    for (const tag of r.tags === null || r.tags === '' ? [''] : r.tags.split(',')) {
      const t = out.get(tag) ?? { tag, spentNano: 0, calls: 0 };
      out.set(tag, { tag, spentNano: t.spentNano + r.spent_nano, calls: t.calls + r.calls });
    }
  }
  return [...out.values()].sort((a, b) => b.spentNano - a.spentNano || b.calls - a.calls || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}

export class ModelReader {
  private readonly project: Statement<[string, string], ModelRow>;
  private readonly user: Statement<[string, string, string, string], ModelRow & { subject: string }>;
  private readonly runRecords: Statement<[string, number, number, string], TaggedRow>;
  /** Null: the ledger keeps no tags (schema < 5). */
  private readonly userTags: Statement<[string, number, string], TagRow> | null;
  private userTagCache: { key: string; tags: DashboardTag[] } | null = null;
  private readonly runBlocked: Statement<[string, string], BlockedByModel>;
  /** The last run breakdown and the run figures it was read at. */
  private runCache: { key: string; detail: DashboardDetail } | null = null;

  constructor(db: Database, private readonly projectId: string) {
    const v = db.pragma('user_version', { simple: true }) as number;
    // Ledger schema 3 added nested runs (run_ancestors); an older file has none.
    const tagged = v >= 5;
    const subtree = v >= 3 ? 'run_id IN (SELECT run_id FROM run_ancestors WHERE ancestor_id = ?)' : 'run_id = ?';
    this.project = db.prepare(`SELECT subject AS model, ${COLS} FROM usage WHERE project_id = ? AND scope = 'model' AND window = ?`);
    // One user's rows: the subjects between "user U+001F" and "user U+0020" (a key range).
    this.user = db.prepare(`SELECT subject, '' AS model, ${COLS} FROM usage WHERE project_id = ? AND scope = 'user_model' AND subject > ? AND subject < ? AND window = ?`);
    this.runRecords = db.prepare(
      `SELECT model, ${tagged ? 'tags' : 'NULL AS tags'}, sum(cost_nano) AS spent_nano, sum(1 - was_blocked) AS calls, sum(was_blocked) AS blocked_calls,
         sum(unpriced * (1 - was_blocked)) AS unpriced_calls, max(ts) AS last_at
       FROM records WHERE project_id = ? AND ts >= ? AND ts <= ? AND ${subtree} GROUP BY model${tagged ? ', tags' : ''}`,
    );
    this.userTags = tagged
      ? db.prepare('SELECT tags, sum(cost_nano) AS spent_nano, sum(1 - was_blocked) AS calls FROM records WHERE project_id = ? AND ts >= ? AND user_id = ? GROUP BY tags')
      : null;
    // Blocked checks are events, not records: the partial index events_blocked finds them.
    this.runBlocked = db.prepare(
      `SELECT model, count(*) AS n, max(ts) AS last_at FROM events WHERE blocked = 1 AND project_id = ? AND kind = 'check' AND ${subtree} GROUP BY model`,
    );
  }

  /** The project's models in one window (a key of periods.ts), most spent first. */
  projectModels(window: string): DashboardModel[] {
    return this.project.all(this.projectId, window).map(toModel).sort(byModelSpend);
  }

  /** One user's models in the window of the cap that applies to them (else all time). */
  userDetail(userId: string, user: DashboardUser | undefined, now: number): DashboardDetail {
    const period: Period = user?.period ?? 'total';
    const lo = `${userId}${USER_MODEL_SEP}`;
    const hi = `${userId}${String.fromCharCode(USER_MODEL_SEP.charCodeAt(0) + 1)}`;
    const models = this.user
      .all(this.projectId, lo, hi, windowKey(period, now))
      .map((r) => toModel({ ...r, model: r.subject.slice(lo.length) }))
      .sort(byModelSpend);
    const detail: DashboardDetail = {
      kind: 'user',
      id: userId,
      found: user !== undefined,
      period: user?.period ?? null,
      spentNano: user?.spentNano ?? 0,
      capNano: user?.capNano ?? null,
      models,
    };
    if (this.userTags !== null) detail.tags = this.userTagList(userId, user, period, now);
    return detail;
  }

  /** A user's spend by tag in their window: read again only when their figures or the window moved. */
  private userTagList(userId: string, user: DashboardUser | undefined, period: Period, now: number): DashboardTag[] {
    if (this.userTags === null || user === undefined) return [];
    const key = `${userId}\u0000${windowKey(period, now)}\u0000${user.spentNano}\u0000${user.calls}\u0000${user.lastAt ?? ''}`;
    if (this.userTagCache?.key === key) return this.userTagCache.tags;
    const tags = byTag(this.userTags.iterate(this.projectId, windowStart(period, now), userId));
    this.userTagCache = { key, tags };
    return tags;
  }

  /** One run's models over its life; null run: not among the runs read (gone or filtered out). */
  runDetail(runId: string, run: DashboardRun | undefined): DashboardDetail {
    if (run === undefined) return { kind: 'run', id: runId, found: false, period: null, spentNano: 0, capNano: null, models: [] };
    const key = `${run.runId}\u0000${run.spentNano}\u0000${run.calls}\u0000${run.blockedCalls}\u0000${run.lastAt ?? ''}`;
    if (this.runCache?.key === key) return this.runCache.detail;
    const byModel = new Map<string, DashboardModel>();
    const until = Math.max(run.lastAt ?? run.startedAt, run.endedAt ?? run.startedAt);
    const tagRows: TaggedRow[] = [];
    for (const r of this.runRecords.iterate(this.projectId, run.startedAt, until, run.runId)) {
      tagRows.push(r);
      const m = byModel.get(r.model);
      const add = toModel(r);
      byModel.set(
        r.model,
        m === undefined
          ? add
          : {
              model: r.model,
              spentNano: m.spentNano + add.spentNano,
              calls: m.calls + add.calls,
              blockedCalls: m.blockedCalls + add.blockedCalls,
              unpricedCalls: m.unpricedCalls + add.unpricedCalls,
              lastAt: Math.max(m.lastAt ?? 0, add.lastAt ?? 0) || null,
            },
      );
    }
    for (const b of this.runBlocked.iterate(this.projectId, run.runId)) {
      const model = b.model ?? '';
      const m = byModel.get(model) ?? { model, spentNano: 0, calls: 0, blockedCalls: 0, unpricedCalls: 0, lastAt: null };
      byModel.set(model, { ...m, blockedCalls: m.blockedCalls + b.n, lastAt: Math.max(m.lastAt ?? 0, b.last_at ?? 0) || null });
    }
    const detail: DashboardDetail = {
      kind: 'run',
      id: runId,
      found: true,
      period: null,
      spentNano: run.spentNano,
      capNano: run.capNano,
      models: [...byModel.values()].sort(byModelSpend),
    };
    if (this.userTags !== null) detail.tags = byTag(tagRows);
    this.runCache = { key, detail };
    return detail;
  }
}

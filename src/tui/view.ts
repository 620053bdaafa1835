import type { DashboardBlocked, DashboardModel, DashboardRun, DashboardUser } from '../lib/dashboard/snapshot.js';
import { pctOf } from './format.js';

/**
 * The dashboard's view state and the pure functions over it: sorting, filtering, scrolling
 * and the split of the terminal's rows between the sections. No React here.
 */
export type TableId = 'users' | 'runs' | 'models' | 'blocked';
export const TABLES: readonly TableId[] = ['users', 'runs', 'models', 'blocked'];
/** The tables whose rows can be selected (a cursor) and opened (enter: the breakdown by model). */
export type SelectableId = 'users' | 'runs';
export const isSelectable = (t: TableId): t is SelectableId => t === 'users' || t === 'runs';
/** The tables `r` reverses. */
export type SortedId = 'users' | 'runs' | 'models';

export const USER_SORTS = ['spend', 'pct', 'calls', 'last', 'id'] as const;
export const RUN_SORTS = ['open', 'spend', 'pct', 'started', 'id'] as const;
export type UserSort = (typeof USER_SORTS)[number];
export type RunSort = (typeof RUN_SORTS)[number];

export const SORT_LABEL: Record<UserSort | RunSort, string> = {
  spend: 'spend ↓',
  pct: '% of cap ↓',
  calls: 'calls ↓',
  last: 'last activity ↓',
  id: 'id ↑',
  open: 'open first',
  started: 'started ↓',
};

/** The title's sort text: reversed, the arrow turns ("spend ↑"), "open first" becomes "ended first". */
export function sortLabel(sort: UserSort | RunSort, reversed: boolean): string {
  const label = SORT_LABEL[sort];
  if (!reversed) return label;
  if (sort === 'open') return 'ended first';
  return label.endsWith('↓') ? `${label.slice(0, -1)}↑` : `${label.slice(0, -1)}↓`;
}

/** What the drill-down shows: one user's or run's spend by model. */
export interface DetailTarget {
  readonly kind: 'user' | 'run';
  readonly id: string;
}

type PerTable = Readonly<Record<TableId, number>>;
export const ZERO: PerTable = { users: 0, runs: 0, models: 0, blocked: 0 };

export interface ViewState {
  readonly focus: TableId;
  readonly userSort: UserSort;
  readonly runSort: RunSort;
  /** `r`: the focused table's order turned around. */
  readonly reversed: Readonly<Record<SortedId, boolean>>;
  /** The first row shown of each table. */
  readonly scroll: PerTable;
  /** The selected row of users and runs (an index in the sorted, filtered list). */
  readonly cursor: PerTable;
  /** Open breakdown (enter), or null; esc closes it. */
  readonly detail: DetailTarget | null;
  readonly detailScroll: number;
  /** Substring of a user id, run id/label or blocked event's user/run (case-insensitive). */
  readonly filter: string;
  /** The `/` prompt is open: typed characters go to the filter. */
  readonly editing: boolean;
}

export const INITIAL_VIEW: ViewState = {
  focus: 'users',
  userSort: 'spend',
  runSort: 'open',
  reversed: { users: false, runs: false, models: false },
  scroll: ZERO,
  cursor: ZERO,
  detail: null,
  detailScroll: 0,
  filter: '',
  editing: false,
};

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const pctKey = (spent: number, cap: number | null) => pctOf(spent, cap) ?? -1;

export function sortUsers(users: readonly DashboardUser[], sort: UserSort, reversed = false): DashboardUser[] {
  const out = [...users];
  const cmp: Record<UserSort, (a: DashboardUser, b: DashboardUser) => number> = {
    spend: (a, b) => b.spentNano - a.spentNano,
    pct: (a, b) => pctKey(b.spentNano, b.capNano) - pctKey(a.spentNano, a.capNano),
    calls: (a, b) => b.calls - a.calls,
    last: (a, b) => (b.lastAt ?? 0) - (a.lastAt ?? 0),
    id: () => 0,
  };
  out.sort((a, b) => cmp[sort](a, b) || byId(a.userId, b.userId));
  return reversed ? out.reverse() : out;
}

export function sortRuns(runs: readonly DashboardRun[], sort: RunSort, reversed = false): DashboardRun[] {
  const out = [...runs];
  const cmp: Record<RunSort, (a: DashboardRun, b: DashboardRun) => number> = {
    open: (a, b) => Number(b.open) - Number(a.open) || b.startedAt - a.startedAt,
    spend: (a, b) => b.spentNano - a.spentNano,
    pct: (a, b) => pctKey(b.spentNano, b.capNano) - pctKey(a.spentNano, a.capNano),
    started: (a, b) => b.startedAt - a.startedAt,
    id: () => 0,
  };
  out.sort((a, b) => cmp[sort](a, b) || byId(a.runId, b.runId));
  return reversed ? out.reverse() : out;
}

/** The models panel: as read (most spent first), or least spent first. */
export function sortModels(models: readonly DashboardModel[], reversed: boolean): readonly DashboardModel[] {
  return reversed ? [...models].reverse() : models;
}

const has = (text: string | null, needle: string) => text !== null && text.toLowerCase().includes(needle);

export function filterUsers(users: readonly DashboardUser[], filter: string): readonly DashboardUser[] {
  const f = filter.trim().toLowerCase();
  return f === '' ? users : users.filter((u) => has(u.userId, f));
}

export function filterRuns(runs: readonly DashboardRun[], filter: string): readonly DashboardRun[] {
  const f = filter.trim().toLowerCase();
  return f === '' ? runs : runs.filter((r) => has(r.runId, f) || has(r.label, f));
}

export function filterBlocked(events: readonly DashboardBlocked[], filter: string): readonly DashboardBlocked[] {
  const f = filter.trim().toLowerCase();
  return f === '' ? events : events.filter((e) => has(e.userId, f) || has(e.runId, f));
}

export function nextOf<T>(list: readonly T[], current: T): T {
  return list[(list.indexOf(current) + 1) % list.length] as T;
}

/** Rows of data per section for a terminal of `rows` lines. */
export interface Layout {
  users: number;
  runs: number;
  models: number;
  blocked: number;
  /** Rows of the drill-down's model list (it takes the tables' place). */
  detail: number;
}

/**
 * Splits the terminal: 3 header lines, a status line, an optional banner, and per table a
 * title and a column header (the feed has no column header). One line is left free because
 * Ink clears the whole screen on every frame that fills the terminal. The drill-down has a
 * title, a line naming its subject, a column header, and the models (a by-tag list, when
 * there is one, shares them).
 */
export function layout(rows: number, banner: boolean, counts?: Readonly<Record<TableId, number>>): Layout {
  const frame = Math.max(1, rows - 1);
  const top = frame - 4 - (banner ? 1 : 0);
  const avail = top - 7;
  let blocked = Math.max(1, Math.min(8, Math.floor(avail / 6)));
  let models = Math.max(1, Math.min(8, Math.floor(avail / 6)));
  let users = Math.max(1, Math.floor((avail - blocked - models) / 2));
  let runs = Math.max(1, avail - blocked - models - users);
  if (counts !== undefined) {
    // Rows a short list leaves empty go to the users, then to the runs: no blank rows
    // while another table has more to show.
    const need = (n: number) => Math.max(1, n);
    let spare = 0;
    const shrink = (alloc: number, n: number) => {
      const keep = Math.min(alloc, need(n));
      spare += alloc - keep;
      return keep;
    };
    runs = shrink(runs, counts.runs);
    models = shrink(models, counts.models);
    blocked = shrink(blocked, counts.blocked);
    const toUsers = Math.min(spare, Math.max(0, need(counts.users) - users));
    users += toUsers;
    spare -= toUsers;
    const toRuns = Math.min(spare, Math.max(0, need(counts.runs) - runs));
    runs += toRuns;
    spare -= toRuns;
    users += spare;
  }
  return { users, runs, models, blocked, detail: Math.max(1, top - 4) };
}

/** The scroll offset that keeps row `cursor` on screen, moving as little as it can. */
export function follow(scroll: number, cursor: number, total: number, visible: number): number {
  const s = clampScroll(scroll, total, visible);
  if (cursor < s) return cursor;
  if (cursor >= s + visible) return clampScroll(cursor - visible + 1, total, visible);
  return s;
}

/** Keeps a scroll offset inside [0, total - visible]. */
export function clampScroll(offset: number, total: number, visible: number): number {
  return Math.max(0, Math.min(offset, total - visible));
}

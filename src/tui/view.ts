import type { DashboardBlocked, DashboardRun, DashboardUser } from '../lib/dashboard/snapshot.js';
import { pctOf } from './format.js';

/**
 * The dashboard's view state and the pure functions over it: sorting, filtering, scrolling
 * and the split of the terminal's rows between the sections. No React here.
 */
export type TableId = 'users' | 'runs' | 'blocked';
export const TABLES: readonly TableId[] = ['users', 'runs', 'blocked'];

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

export interface ViewState {
  readonly focus: TableId;
  readonly userSort: UserSort;
  readonly runSort: RunSort;
  readonly scroll: Readonly<Record<TableId, number>>;
  /** Substring of a user id, run id/label or blocked event's user/run (case-insensitive). */
  readonly filter: string;
  /** The `/` prompt is open: typed characters go to the filter. */
  readonly editing: boolean;
}

export const INITIAL_VIEW: ViewState = {
  focus: 'users',
  userSort: 'spend',
  runSort: 'open',
  scroll: { users: 0, runs: 0, blocked: 0 },
  filter: '',
  editing: false,
};

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const pctKey = (spent: number, cap: number | null) => pctOf(spent, cap) ?? -1;

export function sortUsers(users: readonly DashboardUser[], sort: UserSort): DashboardUser[] {
  const out = [...users];
  const cmp: Record<UserSort, (a: DashboardUser, b: DashboardUser) => number> = {
    spend: (a, b) => b.spentNano - a.spentNano,
    pct: (a, b) => pctKey(b.spentNano, b.capNano) - pctKey(a.spentNano, a.capNano),
    calls: (a, b) => b.calls - a.calls,
    last: (a, b) => (b.lastAt ?? 0) - (a.lastAt ?? 0),
    id: () => 0,
  };
  return out.sort((a, b) => cmp[sort](a, b) || byId(a.userId, b.userId));
}

export function sortRuns(runs: readonly DashboardRun[], sort: RunSort): DashboardRun[] {
  const out = [...runs];
  const cmp: Record<RunSort, (a: DashboardRun, b: DashboardRun) => number> = {
    open: (a, b) => Number(b.open) - Number(a.open) || b.startedAt - a.startedAt,
    spend: (a, b) => b.spentNano - a.spentNano,
    pct: (a, b) => pctKey(b.spentNano, b.capNano) - pctKey(a.spentNano, a.capNano),
    started: (a, b) => b.startedAt - a.startedAt,
    id: () => 0,
  };
  return out.sort((a, b) => cmp[sort](a, b) || byId(a.runId, b.runId));
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
  blocked: number;
}

/**
 * Splits the terminal: 3 header lines, a status line, an optional banner, and per table a
 * title and a column header. One line is left free because Ink clears the whole screen on
 * every frame that fills the terminal.
 */
export function layout(rows: number, banner: boolean): Layout {
  const frame = Math.max(1, rows - 1);
  const avail = frame - 4 - (banner ? 1 : 0) - 5;
  const blocked = Math.max(1, Math.min(8, Math.floor(avail / 4)));
  const users = Math.max(1, Math.floor((avail - blocked) / 2));
  const runs = Math.max(1, avail - blocked - users);
  return { users, runs, blocked };
}

/** Keeps a scroll offset inside [0, total - visible]. */
export function clampScroll(offset: number, total: number, visible: number): number {
  return Math.max(0, Math.min(offset, total - visible));
}

import { Box, Text } from 'ink';
import type { DashboardSnapshot } from '../../lib/dashboard/snapshot.js';
import { clean, usd } from '../format.js';
import { SORT_LABEL, clampScroll, filterBlocked, filterRuns, filterUsers, layout, sortRuns, sortUsers } from '../view.js';
import type { ViewState } from '../view.js';
import { BlockedFeed } from './BlockedFeed.js';
import { Header } from './Header.js';
import { Line } from './Line.js';
import { RunsTable } from './RunsTable.js';
import { StatusBar } from './StatusBar.js';
import { UsersTable } from './UsersTable.js';

export interface Banner {
  readonly text: string;
  readonly tone: 'error' | 'info';
}

export interface DashboardProps {
  readonly snapshot: DashboardSnapshot;
  readonly view: ViewState;
  readonly columns: number;
  readonly rows: number;
  /** The clock for relative times (injected so frames are deterministic). */
  readonly now: number;
  readonly color: boolean;
  readonly mode: 'local' | 'remote';
  readonly banner: Banner | null;
  /** Live dashboard with a key help line (false for --once). */
  readonly interactive: boolean;
  /** Keys can be read (stdin is a terminal). */
  readonly keys?: boolean;
}

/** The sorted and filtered rows each table shows (shared with the key handler's scroll limits). */
export function viewLists(s: DashboardSnapshot, v: ViewState) {
  return {
    users: sortUsers(filterUsers(s.users, v.filter), v.userSort),
    runs: sortRuns(filterRuns(s.runs, v.filter), v.runSort),
    blocked: filterBlocked(s.blocked, v.filter),
  };
}

function defaultCapNote(s: DashboardSnapshot): string | null {
  const d = s.users.find((u) => u.capSource === 'default');
  return d && d.capNano !== null ? `*default cap ${usd(d.capNano)}/${d.period ?? ''}` : null;
}

/** A message shown instead of the tables, wrapped to the terminal's width. */
function Message({ text, tone, color }: { readonly text: string; readonly tone: string; readonly color: boolean }) {
  return (
    <Box marginY={1} paddingX={2}>
      <Text wrap="wrap" color={color ? tone : undefined}>
        {clean(text)}
      </Text>
    </Box>
  );
}

/** The whole frame, from data only: no state, no I/O. */
export function Dashboard(p: DashboardProps) {
  const { snapshot: s, view: v, columns: width } = p;
  const banner = p.banner === null ? null : (
    <Line color={p.color} segments={[{ text: p.banner.text, color: p.banner.tone === 'error' ? 'redBright' : 'cyan', bold: p.banner.tone === 'error' }]} />
  );
  const status = p.interactive ? <StatusBar focus={v.focus} filter={v.filter} editing={v.editing} width={width} color={p.color} keys={p.keys ?? true} /> : null;

  if (s.status === 'missing' || s.status === 'error') {
    return (
      <Box flexDirection="column" width={width}>
        <Line color={p.color} segments={[{ text: `noburn watch · project ${s.projectId}`, bold: true }]} />
        {banner}
        <Message text={s.message ?? ''} tone={s.status === 'error' ? 'redBright' : 'yellow'} color={p.color} />
        {s.status === 'missing' && p.interactive ? <Line color={p.color} segments={[{ text: '  Waiting for it to appear…', dim: true }]} /> : null}
        {status}
      </Box>
    );
  }

  const header = <Header snapshot={s} now={p.now} width={width} color={p.color} mode={p.mode} />;
  if (s.status === 'empty') {
    return (
      <Box flexDirection="column" width={width}>
        {header}
        {banner}
        <Message text={s.message ?? 'No spend recorded yet.'} tone="yellow" color={p.color} />
        {status}
      </Box>
    );
  }

  const lists = viewLists(s, v);
  const l = layout(p.rows, p.banner !== null);
  const off = {
    users: clampScroll(v.scroll.users, lists.users.length, l.users),
    runs: clampScroll(v.scroll.runs, lists.runs.length, l.runs),
    blocked: clampScroll(v.scroll.blocked, lists.blocked.length, l.blocked),
  };
  return (
    <Box flexDirection="column" width={width}>
      {header}
      {banner}
      <UsersTable
        users={lists.users}
        total={s.users.length}
        offset={off.users}
        height={l.users}
        width={width}
        now={p.now}
        color={p.color}
        focused={p.interactive && v.focus === 'users'}
        sortLabel={SORT_LABEL[v.userSort]}
        filter={v.filter}
        note={defaultCapNote(s)}
      />
      <RunsTable
        runs={lists.runs}
        total={s.runsTotal}
        open={s.runsOpen}
        offset={off.runs}
        height={l.runs}
        width={width}
        now={p.now}
        color={p.color}
        focused={p.interactive && v.focus === 'runs'}
        sortLabel={SORT_LABEL[v.runSort]}
        filter={v.filter}
      />
      <BlockedFeed events={lists.blocked} offset={off.blocked} height={l.blocked} width={width} color={p.color} focused={p.interactive && v.focus === 'blocked'} />
      {status}
    </Box>
  );
}

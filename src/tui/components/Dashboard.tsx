/** The whole dashboard frame, from data only: the tables, or the drill-down of one user or run. */
import { Box, Text } from 'ink';
import type { DashboardSnapshot } from '../../lib/dashboard/snapshot.js';
import { clean, usd, windowName } from '../format.js';
import { SORT_LABEL, clampScroll, filterBlocked, filterRuns, filterUsers, layout, sortLabel, sortModels, sortRuns, sortUsers } from '../view.js';
import type { ViewState } from '../view.js';
import { BlockedFeed } from './BlockedFeed.js';
import { Detail } from './Detail.js';
import { Header } from './Header.js';
import { Line } from './Line.js';
import { ModelsPanel } from './ModelsPanel.js';
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
    users: sortUsers(filterUsers(s.users, v.filter), v.userSort, v.reversed.users),
    runs: sortRuns(filterRuns(s.runs, v.filter), v.runSort, v.reversed.runs),
    models: sortModels(s.models, v.reversed.models),
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
  const status = p.interactive ? (
    <StatusBar focus={v.focus} filter={v.filter} editing={v.editing} detail={v.detail !== null} width={width} color={p.color} keys={p.keys ?? true} />
  ) : null;

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
  const counts = { users: lists.users.length, runs: lists.runs.length, models: lists.models.length, blocked: lists.blocked.length };
  const l = layout(p.rows, p.banner !== null, counts);
  if (v.detail !== null) {
    const t = v.detail;
    return (
      <Box flexDirection="column" width={width}>
        {header}
        {banner}
        <Box flexDirection="column" height={l.detail + 4}>
          <Detail
            target={t}
            detail={s.detail}
            user={t.kind === 'user' ? s.users.find((u) => u.userId === t.id) : undefined}
            run={t.kind === 'run' ? s.runs.find((r) => r.runId === t.id) : undefined}
            offset={v.detailScroll}
            height={l.detail}
            width={width}
            now={p.now}
            color={p.color}
          />
        </Box>
        {status}
      </Box>
    );
  }

  const off = {
    users: clampScroll(v.scroll.users, lists.users.length, l.users),
    runs: clampScroll(v.scroll.runs, lists.runs.length, l.runs),
    models: clampScroll(v.scroll.models, lists.models.length, l.models),
    blocked: clampScroll(v.scroll.blocked, lists.blocked.length, l.blocked),
  };
  // The cursor of the live dashboard: kept inside the list (it may have shrunk since the key).
  const cursor = (n: number, c: number) => (p.interactive ? Math.max(0, Math.min(c, n - 1)) : undefined);
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
        sortLabel={sortLabel(v.userSort, v.reversed.users)}
        filter={v.filter}
        note={defaultCapNote(s)}
        cursor={cursor(lists.users.length, v.cursor.users)}
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
        sortLabel={sortLabel(v.runSort, v.reversed.runs)}
        filter={v.filter}
        cursor={cursor(lists.runs.length, v.cursor.runs)}
      />
      <ModelsPanel
        models={lists.models}
        total={s.modelsTotal}
        offset={off.models}
        height={l.models}
        width={width}
        now={p.now}
        color={p.color}
        spentNano={s.project.spentNano}
        windowLabel={windowName(s.project.period)}
        lead={p.interactive ? 2 : 0}
        sortLabel={v.reversed.models ? SORT_LABEL.spend.replace('↓', '↑') : SORT_LABEL.spend}
        focused={p.interactive && v.focus === 'models'}
      />
      <BlockedFeed events={lists.blocked} offset={off.blocked} height={l.blocked} width={width} color={p.color} focused={p.interactive && v.focus === 'blocked'} />
      {status}
    </Box>
  );
}

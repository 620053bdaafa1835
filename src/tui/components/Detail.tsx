/**
 * The drill-down (enter on a user or run): its whole id, its figures and alert thresholds,
 * and its spend by model (and by tag when the ledger keeps tags). Esc goes back.
 */
import { Box, Text } from 'ink';
import type { DashboardDetail, DashboardRun, DashboardTag, DashboardUser } from '../../lib/dashboard/snapshot.js';
import { LEVEL_COLOR, LEVEL_MARK, alertList, clean, fit, fitId, levelOf, pctOf, pctText, usd, windowName } from '../format.js';
import type { DetailTarget } from '../view.js';
import { Line, Title } from './Line.js';
import type { Segment } from './Line.js';
import { ModelRows } from './ModelsPanel.js';
import { rangeText } from './UsersTable.js';

export interface DetailProps {
  readonly target: DetailTarget;
  /** The reader's breakdown; null until it has read it (the frame right after enter). */
  readonly detail: DashboardDetail | null;
  /** The row of the table it was opened from, when it is still there. */
  readonly user: DashboardUser | undefined;
  readonly run: DashboardRun | undefined;
  readonly offset: number;
  /** Rows for the lists (models, and tags when there are any). */
  readonly height: number;
  readonly width: number;
  readonly now: number;
  readonly color: boolean;
}

/** Rows of the by-tag list when there is one: a third of the lists' rows, at least one. */
export function tagRows(height: number, tags: readonly DashboardTag[] | undefined): number {
  return tags === undefined ? 0 : Math.max(1, Math.floor((height - 2) / 3));
}

function figures(p: DetailProps): Segment[] {
  const row = p.user ?? p.run;
  if (row === undefined) return [{ text: p.detail?.found === false ? 'not in the ledger any more' : '', dim: true }];
  const pct = pctOf(row.spentNano, row.capNano);
  const level = levelOf(pct);
  const period = p.user !== undefined ? ` ${windowName(p.user.period)}` : '';
  const cap = row.capNano === null ? ' · no cap' : ` of ${usd(row.capNano)}${p.user?.capSource === 'default' ? ' (default cap)' : ''} · ${pctText(pct)}${LEVEL_MARK[level].trim()}`;
  const status = p.run !== undefined ? `${p.run.status} · ` : '';
  return [
    { text: status, dim: true },
    { text: usd(row.spentNano), bold: true, color: LEVEL_COLOR[level] },
    { text: `${period}${cap}`, color: LEVEL_COLOR[level] },
    { text: ` · ${row.calls} calls · ${row.blockedCalls} blocked`, dim: true },
  ];
}

/** The alert thresholds of the subject's cap, a line of their own (null: the ledger keeps none). */
function alertLine(p: DetailProps): Segment[] | null {
  const row = p.user ?? p.run;
  if (row?.thresholdsPct === undefined || row.thresholdsPct.length === 0) return null;
  return [{ text: `alerts ${alertList(row.thresholdsPct, row.firedPct)}`, color: (row.firedPct?.length ?? 0) > 0 ? 'yellow' : undefined }];
}

export function Detail(p: DetailProps) {
  const what = p.target.kind === 'user' ? 'User' : 'Run';
  const d = p.detail !== null && p.detail.kind === p.target.kind && p.detail.id === p.target.id ? p.detail : null;
  const models = d?.models ?? [];
  const tags = d?.tags;
  const alerts = alertLine(p);
  const label = p.run?.label ? ` · ${clean(p.run.label)}` : '';
  const subject = `${p.target.kind} ${clean(p.target.id)}${label}`;
  // A long id wraps: the lines it takes, and the alerts line, come off the lists.
  const extra = Math.ceil(Math.max(1, Array.from(subject).length) / Math.max(1, p.width)) - 1 + (alerts === null ? 0 : 1);
  const height = Math.max(1, p.height - extra);
  const tagH = tagRows(height, tags);
  const modelH = Math.max(1, height - (tags === undefined ? 0 : tagH + 2));
  const offset = Math.max(0, Math.min(p.offset, models.length - modelH));
  const shown = Math.min(modelH, Math.max(0, models.length - offset));
  // Shares are of what the models add up to (the subject's spend in the same window); a call
  // with several tags counts under each, so the tags' shares can add up past 100 %.
  const spent = models.reduce((n, m) => n + m.spentNano, 0);
  return (
    <Box flexDirection="column">
      <Title text={`${what} breakdown by model${tags !== undefined ? ' and tag' : ''}${rangeText(offset, shown, models.length)} · esc back`} focused width={p.width} color={p.color} />
      {/* The whole id, wrapped if it must: the tables may have cut it. */}
      <Text wrap="wrap" bold={p.color}>
        {subject}
      </Text>
      <Line color={p.color} segments={figures(p)} />
      {alerts === null ? null : <Line color={p.color} segments={alerts} />}
      {d === null ? (
        <Line color={p.color} segments={[{ text: '  reading…', dim: true }]} />
      ) : (
        <Box flexDirection="column" height={modelH + 1}>
          <ModelRows models={models} offset={offset} height={modelH} width={p.width} now={p.now} color={p.color} spentNano={spent} empty="no spend by model recorded" />
        </Box>
      )}
      {d !== null && tags !== undefined ? <TagRows tags={tags} height={tagH} width={p.width} color={p.color} spentNano={spent} /> : null}
    </Box>
  );
}

function TagRows(p: { readonly tags: readonly DashboardTag[]; readonly height: number; readonly width: number; readonly color: boolean; readonly spentNano: number }) {
  const idWidth = Math.max(8, p.width - 11 - 7 - 7);
  return (
    <Box flexDirection="column" height={p.height + 2}>
      <Line color={p.color} segments={[{ text: `By tag ${p.tags.length}`, bold: true }]} />
      <Line color={p.color} segments={[{ text: `${fit('TAG', idWidth)} ${fit('SPEND', 10, 'right')} ${fit('SHARE', 6, 'right')} ${fit('CALLS', 6, 'right')}`, dim: true }]} />
      {p.tags.slice(0, p.height).map((t) => (
        <Line
          key={t.tag}
          color={p.color}
          segments={[
            { text: fitId(t.tag === '' ? '(untagged)' : clean(t.tag), idWidth) + ' ', dim: t.tag === '' },
            { text: fit(usd(t.spentNano), 10, 'right'), bold: true },
            { text: ' ' + fit(p.spentNano > 0 ? pctText((t.spentNano / p.spentNano) * 100) : '-', 6, 'right'), dim: true },
            { text: ' ' + fit(String(t.calls), 6, 'right') },
          ]}
        />
      ))}
      {p.tags.length === 0 ? <Line color={p.color} segments={[{ text: '  no tagged spend', dim: true }]} /> : null}
    </Box>
  );
}

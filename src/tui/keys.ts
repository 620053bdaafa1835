/** The dashboard's keys: a pure function from (view state, key, frame facts) to the next view state. */
import type { Key } from 'ink';
import { RUN_SORTS, TABLES, USER_SORTS, ZERO, clampScroll, follow, isSelectable, nextOf } from './view.js';
import type { Layout, SelectableId, TableId, ViewState } from './view.js';

/**
 * What the key handler needs to know about the frame: rows per table, rows in each list,
 * the ids of the selectable lists (enter opens the selected one) and the drill-down's rows.
 */
export interface KeyContext {
  readonly layout: Layout;
  readonly counts: Readonly<Record<TableId, number>>;
  readonly ids?: Readonly<Record<SelectableId, readonly string[]>>;
  /** Rows of the open drill-down's list. */
  readonly detailRows?: number;
}

export type KeyResult = { readonly view: ViewState; readonly quit: boolean };

const MAX_FILTER = 64;

/**
 * ↑↓ PgUp PgDn Home End. Users and runs move their cursor (the scroll follows it); the
 * models panel and the feed scroll.
 */
function scrollBy(v: ViewState, ctx: KeyContext, delta: number): ViewState {
  const t = v.focus;
  const visible = ctx.layout[t];
  const total = ctx.counts[t];
  if (isSelectable(t)) {
    const cursor = Math.max(0, Math.min(total - 1, Math.min(v.cursor[t], total - 1) + delta));
    const scroll = follow(v.scroll[t], cursor, total, visible);
    return cursor === v.cursor[t] && scroll === v.scroll[t] ? v : { ...v, cursor: { ...v.cursor, [t]: cursor }, scroll: { ...v.scroll, [t]: scroll } };
  }
  const current = clampScroll(v.scroll[t], total, visible);
  const next = clampScroll(current + delta, total, visible);
  return next === v.scroll[t] ? v : { ...v, scroll: { ...v.scroll, [t]: next } };
}

function scrollDetail(v: ViewState, ctx: KeyContext, delta: number): ViewState {
  const next = clampScroll(v.detailScroll + delta, ctx.detailRows ?? 0, ctx.layout.detail);
  return next === v.detailScroll ? v : { ...v, detailScroll: next };
}

function editFilter(v: ViewState, input: string, key: Partial<Key>): ViewState {
  if (key.escape) return { ...v, editing: false, filter: '', scroll: ZERO, cursor: ZERO };
  if (key.return) return { ...v, editing: false };
  if (key.backspace || key.delete) return { ...v, filter: Array.from(v.filter).slice(0, -1).join('') };
  if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.pageUp || key.pageDown) return v;
  // eslint-disable-next-line no-control-regex
  const typed = input.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
  if (typed === '') return v;
  return { ...v, filter: (v.filter + typed).slice(0, MAX_FILTER), scroll: ZERO, cursor: ZERO };
}

/** Enter on a user or run: its breakdown. */
function open(v: ViewState, ctx: KeyContext): ViewState {
  const t = v.focus;
  if (!isSelectable(t)) return v;
  const ids = ctx.ids?.[t] ?? [];
  const id = ids[Math.max(0, Math.min(v.cursor[t], ids.length - 1))];
  return id === undefined ? v : { ...v, detail: { kind: t === 'users' ? 'user' : 'run', id }, detailScroll: 0 };
}

/** The drill-down's keys: esc (or backspace) goes back, arrows scroll, q quits. */
function detailKey(v: ViewState, input: string, key: Partial<Key>, ctx: KeyContext): KeyResult {
  const page = Math.max(1, ctx.layout.detail - 1);
  let next = v;
  if (key.escape || key.backspace || key.delete || key.leftArrow) next = { ...v, detail: null, detailScroll: 0 };
  else if (key.upArrow) next = scrollDetail(v, ctx, -1);
  else if (key.downArrow) next = scrollDetail(v, ctx, 1);
  else if (key.pageUp) next = scrollDetail(v, ctx, -page);
  else if (key.pageDown) next = scrollDetail(v, ctx, page);
  else if (key.home) next = scrollDetail(v, ctx, -Infinity);
  else if (key.end) next = scrollDetail(v, ctx, Infinity);
  return { view: next, quit: input === 'q' && !key.ctrl && !key.meta };
}

/** The dashboard's keys as a pure function of the view state. */
export function applyKey(v: ViewState, input: string, key: Partial<Key>, ctx: KeyContext): KeyResult {
  if (key.ctrl && input === 'c') return { view: v, quit: true };
  if (v.editing) return { view: editFilter(v, input, key), quit: false };
  if (v.detail !== null) return detailKey(v, input, key, ctx);
  if (input === 'q' && !key.ctrl && !key.meta) return { view: v, quit: true };
  const page = Math.max(1, ctx.layout[v.focus] - 1);
  let next = v;
  if (key.tab) {
    const order = key.shift ? [...TABLES].reverse() : TABLES;
    next = { ...v, focus: nextOf(order, v.focus) };
  } else if (key.return) next = open(v, ctx);
  else if (key.upArrow) next = scrollBy(v, ctx, -1);
  else if (key.downArrow) next = scrollBy(v, ctx, 1);
  else if (key.pageUp) next = scrollBy(v, ctx, -page);
  else if (key.pageDown) next = scrollBy(v, ctx, page);
  else if (key.home) next = scrollBy(v, ctx, -Infinity);
  else if (key.end) next = scrollBy(v, ctx, Infinity);
  else if (key.escape) next = v.filter === '' ? v : { ...v, filter: '' };
  else if (input === '/') next = { ...v, editing: true };
  else if (input === 's') {
    if (v.focus === 'users') next = { ...v, userSort: nextOf(USER_SORTS, v.userSort), scroll: { ...v.scroll, users: 0 }, cursor: { ...v.cursor, users: 0 } };
    else if (v.focus === 'runs') next = { ...v, runSort: nextOf(RUN_SORTS, v.runSort), scroll: { ...v.scroll, runs: 0 }, cursor: { ...v.cursor, runs: 0 } };
  } else if (input === 'r' && v.focus !== 'blocked') {
    const t = v.focus;
    next = { ...v, reversed: { ...v.reversed, [t]: !v.reversed[t] }, scroll: { ...v.scroll, [t]: 0 }, cursor: { ...v.cursor, [t]: 0 } };
  }
  return { view: next, quit: false };
}

import type { Key } from 'ink';
import { RUN_SORTS, TABLES, USER_SORTS, clampScroll, nextOf } from './view.js';
import type { Layout, TableId, ViewState } from './view.js';

/** What the key handler needs to know about the frame: rows per table and rows in each list. */
export interface KeyContext {
  readonly layout: Layout;
  readonly counts: Readonly<Record<TableId, number>>;
}

export type KeyResult = { readonly view: ViewState; readonly quit: boolean };

const MAX_FILTER = 64;

function scrollBy(v: ViewState, ctx: KeyContext, delta: number): ViewState {
  const t = v.focus;
  const visible = ctx.layout[t];
  const current = clampScroll(v.scroll[t], ctx.counts[t], visible);
  const next = clampScroll(current + delta, ctx.counts[t], visible);
  return next === v.scroll[t] ? v : { ...v, scroll: { ...v.scroll, [t]: next } };
}

function editFilter(v: ViewState, input: string, key: Partial<Key>): ViewState {
  if (key.escape) return { ...v, editing: false, filter: '', scroll: { users: 0, runs: 0, blocked: 0 } };
  if (key.return) return { ...v, editing: false };
  if (key.backspace || key.delete) return { ...v, filter: Array.from(v.filter).slice(0, -1).join('') };
  if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.pageUp || key.pageDown) return v;
  // eslint-disable-next-line no-control-regex
  const typed = input.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
  if (typed === '') return v;
  return { ...v, filter: (v.filter + typed).slice(0, MAX_FILTER), scroll: { users: 0, runs: 0, blocked: 0 } };
}

/** The dashboard's keys as a pure function of the view state. */
export function applyKey(v: ViewState, input: string, key: Partial<Key>, ctx: KeyContext): KeyResult {
  if (key.ctrl && input === 'c') return { view: v, quit: true };
  if (v.editing) return { view: editFilter(v, input, key), quit: false };
  if (input === 'q' && !key.ctrl && !key.meta) return { view: v, quit: true };
  let next = v;
  if (key.tab) {
    const order = key.shift ? [...TABLES].reverse() : TABLES;
    next = { ...v, focus: nextOf(order, v.focus) };
  } else if (key.upArrow) next = scrollBy(v, ctx, -1);
  else if (key.downArrow) next = scrollBy(v, ctx, 1);
  else if (key.pageUp) next = scrollBy(v, ctx, -Math.max(1, ctx.layout[v.focus] - 1));
  else if (key.pageDown) next = scrollBy(v, ctx, Math.max(1, ctx.layout[v.focus] - 1));
  else if (key.home) next = scrollBy(v, ctx, -Infinity);
  else if (key.end) next = scrollBy(v, ctx, Infinity);
  else if (key.escape) next = v.filter === '' ? v : { ...v, filter: '' };
  else if (input === '/') next = { ...v, editing: true };
  else if (input === 's') {
    if (v.focus === 'users') next = { ...v, userSort: nextOf(USER_SORTS, v.userSort), scroll: { ...v.scroll, users: 0 } };
    else if (v.focus === 'runs') next = { ...v, runSort: nextOf(RUN_SORTS, v.runSort), scroll: { ...v.scroll, runs: 0 } };
  }
  return { view: next, quit: false };
}

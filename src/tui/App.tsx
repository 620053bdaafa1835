import { useApp, useInput } from 'ink';
import type { Key } from 'ink';
import { useCallback, useLayoutEffect, useRef, useState } from 'react';
import { Dashboard, viewLists } from './components/Dashboard.js';
import { useLedger } from './hooks/use-ledger.js';
import type { LedgerSource } from './hooks/use-ledger.js';
import { useRemoteSync } from './hooks/use-remote-sync.js';
import type { SyncFn } from './hooks/use-remote-sync.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { applyKey } from './keys.js';
import { INITIAL_VIEW, layout } from './view.js';
import type { ViewState } from './view.js';

export interface AppProps {
  readonly source: LedgerSource;
  readonly clock: () => number;
  readonly color: boolean;
  readonly mode: 'local' | 'remote';
  /** Remote mode: pulls the server's feed into the mirror on each tick. */
  readonly sync: SyncFn | null;
  /** stdin is a terminal: keys work. */
  readonly keys: boolean;
  readonly pollMs?: number;
  readonly staleMs?: number;
}

/** The container: owns the view state, polls the ledger, handles keys, renders the pure Dashboard. */
export function App(p: AppProps) {
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize();
  const [view, setView] = useState<ViewState>(INITIAL_VIEW);
  const pollMs = p.pollMs ?? 100;
  const snapshot = useLedger(p.source, { clock: p.clock, pollMs, staleMs: p.staleMs ?? 1000, runFilter: view.filter, detail: view.detail });
  const banner = useRemoteSync(p.sync, pollMs);

  // Keys can arrive faster than React re-renders: read and write the latest state through a ref.
  // It takes each committed render's data in a layout effect (synchronous after the commit,
  // before any key event), not during render, which React may run and then discard.
  const latest = useRef({ view, snapshot, rows, banner });
  useLayoutEffect(() => {
    latest.current = { ...latest.current, snapshot, rows, banner };
  });
  const onKey = useCallback(
    (input: string, key: Key) => {
      const { snapshot: s, rows: r, banner: b } = latest.current;
      let v = latest.current.view;
      // A chunk of several characters (fast typing, a paste) is handled one character at a time.
      const chars = input.length > 1 && !v.editing ? Array.from(input) : [input];
      for (const ch of chars) {
        const lists = viewLists(s, v);
        const counts = { users: lists.users.length, runs: lists.runs.length, models: lists.models.length, blocked: lists.blocked.length };
        const ctx = {
          layout: layout(r, b !== null, counts),
          counts,
          ids: { users: lists.users.map((u) => u.userId), runs: lists.runs.map((x) => x.runId) },
          detailRows: s.detail?.models.length ?? 0,
        };
        const res = applyKey(v, ch, key, ctx);
        if (res.quit) {
          exit();
          return;
        }
        v = res.view;
      }
      if (v !== latest.current.view) {
        latest.current.view = v;
        setView(v);
      }
    },
    [exit],
  );
  useInput(onKey, { isActive: p.keys });

  return (
    <Dashboard
      snapshot={snapshot}
      view={view}
      columns={columns}
      rows={rows}
      now={snapshot.generatedAt}
      color={p.color}
      mode={p.mode}
      banner={banner}
      interactive
      keys={p.keys}
    />
  );
}

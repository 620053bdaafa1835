import { useEffect, useRef, useState } from 'react';
import type { ReadOptions } from '../../lib/dashboard/reader.js';
import type { DashboardSnapshot } from '../../lib/dashboard/snapshot.js';
import type { DetailTarget } from '../view.js';

/** What the dashboard polls: DashboardReader, or a fake in tests. */
export interface LedgerSource {
  /** True when the ledger changed since the last call (PRAGMA data_version): cheap, no query. */
  changed(): boolean;
  read(now: number, options?: ReadOptions): DashboardSnapshot;
}

export interface UseLedgerOptions {
  clock: () => number;
  /** How often to ask whether the ledger changed. */
  pollMs: number;
  /** Re-read at least this often even without a write: holds expire, the burn window slides, "ago" ages. */
  staleMs: number;
  runFilter: string;
  /** The open drill-down: its breakdown is read too. */
  detail?: DetailTarget | null;
}

/**
 * Polls the ledger: every pollMs asks `changed()` and re-reads only when another process
 * wrote (or staleMs passed, or the filter or the drill-down changed). The timer is cleared on unmount.
 */
export function useLedger(source: LedgerSource, opts: UseLedgerOptions): DashboardSnapshot {
  const { clock, pollMs, staleMs, runFilter } = opts;
  const kind = opts.detail?.kind ?? null;
  const id = opts.detail?.id ?? null;
  const [snapshot, setSnapshot] = useState(() => {
    source.changed();
    return source.read(clock(), { runFilter });
  });
  const lastRead = useRef(clock());
  const lastAsked = useRef(`${runFilter}\u0000\u0000`);

  useEffect(() => {
    const detail = kind === null || id === null ? null : { kind, id };
    const read = () => {
      const now = clock();
      lastRead.current = now;
      setSnapshot(source.read(now, { runFilter, detail }));
    };
    // A new filter or drill-down is read at once, not on the next change.
    const asked = `${runFilter}\u0000${kind ?? ''}\u0000${id ?? ''}`;
    if (lastAsked.current !== asked) {
      lastAsked.current = asked;
      read();
    }
    const timer = setInterval(() => {
      if (source.changed() || clock() - lastRead.current >= staleMs) read();
    }, pollMs);
    return () => clearInterval(timer);
  }, [source, clock, pollMs, staleMs, runFilter, kind, id]);

  return snapshot;
}

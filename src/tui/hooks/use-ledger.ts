import { useEffect, useRef, useState } from 'react';
import type { ReadOptions } from '../../lib/dashboard/reader.js';
import type { DashboardSnapshot } from '../../lib/dashboard/snapshot.js';

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
}

/**
 * Polls the ledger: every pollMs asks `changed()` and re-reads only when another process
 * wrote (or staleMs passed, or the filter changed). The timer is cleared on unmount.
 */
export function useLedger(source: LedgerSource, opts: UseLedgerOptions): DashboardSnapshot {
  const { clock, pollMs, staleMs, runFilter } = opts;
  const [snapshot, setSnapshot] = useState(() => {
    source.changed();
    return source.read(clock(), { runFilter });
  });
  const lastRead = useRef(clock());
  const lastFilter = useRef(runFilter);

  useEffect(() => {
    const read = () => {
      const now = clock();
      lastRead.current = now;
      setSnapshot(source.read(now, { runFilter }));
    };
    if (lastFilter.current !== runFilter) {
      lastFilter.current = runFilter;
      read();
    }
    const timer = setInterval(() => {
      if (source.changed() || clock() - lastRead.current >= staleMs) read();
    }, pollMs);
    return () => clearInterval(timer);
  }, [source, clock, pollMs, staleMs, runFilter]);

  return snapshot;
}

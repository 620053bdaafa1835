import { useEffect, useState } from 'react';
import type { Banner } from '../components/Dashboard.js';

/** One pull of the server's event feed into the local mirror; resolves to the events applied. */
export type SyncFn = () => Promise<number>;

const MAX_BACKOFF_MS = 10_000;

/** The on-screen message for a failed sync: never a stack trace. */
export function syncProblem(e: unknown, retryMs: number | null): Banner {
  const retry = `showing the local mirror${retryMs === null ? '' : `, retrying in ${Math.round(retryMs / 1000)}s`}`;
  // By the stable error code (NoburnError.code), whichever copy of the class threw it.
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  if (code === 'NOBURN_AUTH' || code === 'NOBURN_FORBIDDEN') {
    return { tone: 'error', text: `Server refused the API key (${message}): check NOBURN_API_KEY · ${retry}` };
  }
  if (code === 'NOBURN_UNREACHABLE' || code === 'NOBURN_TIMEOUT') {
    return { tone: 'error', text: `Server unreachable (${message}) · ${retry}` };
  }
  return { tone: 'error', text: `Remote sync failed: ${message} · ${retry}` };
}

/**
 * Remote mode: pulls the event feed on every poll tick, one pull at a time, backing off
 * (1 s doubling to 10 s) while the server cannot be reached. Returns the banner to show.
 */
export function useRemoteSync(sync: SyncFn | null, pollMs: number): Banner | null {
  const [banner, setBanner] = useState<Banner | null>(null);
  useEffect(() => {
    if (sync === null) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let backoff = 0;
    const tick = async () => {
      try {
        await sync();
        backoff = 0;
        if (!stopped) setBanner(null);
      } catch (e) {
        backoff = Math.min(MAX_BACKOFF_MS, backoff === 0 ? 1000 : backoff * 2);
        if (!stopped) setBanner(syncProblem(e, backoff));
      }
      if (!stopped) timer = setTimeout(() => void tick(), backoff || pollMs);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [sync, pollMs]);
  return banner;
}

import type { NoburnConfig } from '../config.js';
import { NoburnConfigError, NoburnForbiddenError, NoburnTimeoutError, NoburnUnreachableError } from '../errors.js';
import { SqliteMirror } from '../ledger/sqlite/mirror.js';
import type { BudgetsResponse, EventsResponse, RunsResponse, WhoamiResponse } from '../wire/responses.js';
import { HttpClient } from './http-client.js';
import { targetOf } from './remote-authority.js';

const MAX_PAGES = 50;

/**
 * `watch --remote`: pulls the server's event feed (GET /v1/events) into the local mirror
 * at config.dbPath, under config.projectId, then the server's run summaries and caps.
 * The cursor lives in the mirror, per server and key, so each sync fetches only what is
 * new; applying is idempotent, so what this machine's own clients already mirrored counts
 * once. Keeps its client and mirror file open between syncs (a dashboard polls) until
 * close().
 */
export class MirrorSync {
  private readonly http: HttpClient;
  private readonly feed: string;
  private mirror: SqliteMirror | null = null;
  /** Run summaries and caps were fetched once: after that, only when an event moved them. */
  private synced = false;

  constructor(private readonly config: NoburnConfig) {
    if (!config.url) throw new NoburnConfigError('watch --remote needs NOBURN_URL');
    this.http = new HttpClient(config.url, config.apiKey, { timeoutMs: config.timeoutMs, connections: 2 });
    this.feed = targetOf(config);
  }

  /** Returns the number of events new to the mirror. Throws NoburnUnreachableError (timeouts included) and NoburnAuthError. */
  async sync(): Promise<number> {
    const { config, http, feed } = this;
    const mirror = (this.mirror ??= new SqliteMirror(config.dbPath));
    const now = Date.now();
    try {
      let applied = 0;
      let cursor = mirror.cursor(feed);
      for (let page = 0; page < MAX_PAGES; page++) {
        const r = await http.request<EventsResponse>('GET', `/v1/events?after=${cursor}&limit=1000`);
        applied += mirror.applyEvents(config.projectId, r.events, feed, r.cursor);
        cursor = r.cursor;
        if (!r.more) break;
      }
      if (applied > 0 || !this.synced) {
        const [runs, budgets] = await Promise.all([
          http.request<RunsResponse>('GET', '/v1/runs?limit=1000'),
          http.request<BudgetsResponse>('GET', '/v1/budgets'),
        ]);
        mirror.upsertRuns(config.projectId, runs.runs, now);
        mirror.replaceBudgets(config.projectId, budgets.budgets, now);
        this.synced = true;
      }
      return applied;
    } catch (e) {
      if (e instanceof NoburnTimeoutError) throw new NoburnUnreachableError(e.message, { cause: e });
      throw e;
    }
  }

  /** Closes the client and the mirror file (a dashboard calls it on exit). */
  async close(): Promise<void> {
    this.mirror?.close();
    this.mirror = null;
    await this.http.close();
  }
}

/** What `watch --remote` loads (src/tui/remote.ts): one sync for the dashboard's config. */
export function openMirrorSync(config: NoburnConfig): MirrorSync {
  return new MirrorSync(config);
}

/**
 * The project `watch --remote` shows: the one the API key names (GET /v1/whoami). A
 * project the user declared (NOBURN_PROJECT_ID, or projectId in config.json) that
 * contradicts the key is refused with NoburnForbiddenError (exit 3): the server would
 * only ever show the key's project, so the dashboard would silently show another.
 */
export async function remoteProject(config: NoburnConfig, declared: string | null): Promise<string> {
  if (!config.url) throw new NoburnConfigError('watch --remote needs NOBURN_URL');
  const http = new HttpClient(config.url, config.apiKey, { timeoutMs: config.timeoutMs, connections: 1 });
  try {
    const me = await http.request<WhoamiResponse>('GET', '/v1/whoami');
    if (declared !== null && declared !== me.projectId) {
      throw new NoburnForbiddenError(
        `NOBURN_PROJECT_ID is ${JSON.stringify(declared)} but the API key belongs to project ${JSON.stringify(me.projectId)}: unset NOBURN_PROJECT_ID or use a key of that project`,
      );
    }
    return me.projectId;
  } catch (e) {
    // Server away: show the mirror under the declared (or default) project; the dashboard
    // says the pull fails and retries (a bad or contradicted key is an error at once).
    if (e instanceof NoburnTimeoutError || e instanceof NoburnUnreachableError) return declared ?? config.projectId;
    throw e;
  } finally {
    await http.close();
  }
}

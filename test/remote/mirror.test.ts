/** MirrorSync pulls the server's feed into a local mirror; applying twice, or on top of what the client mirrored itself, counts once. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/lib/config.js';
import { NoburnAuthError, NoburnUnreachableError } from '../../src/lib/errors.js';
import { MirrorSync } from '../../src/lib/remote/mirror-sync.js';
import type { NoburnConfig } from '../../src/lib/config.js';
import { call } from '../server/helpers.js';
import { startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { clientHome, remoteGuard, sql, sqlAll } from './helpers.js';

let t: TestServer;
let app: string;
let runId = '';
const homes: string[] = [];
const home = () => {
  const h = clientHome();
  homes.push(h);
  return h;
};
let homeA = '';
// One sync per mirror, server and key, kept between pulls as a dashboard keeps it.
const syncs = new Map<string, MirrorSync>();
const syncMirror = (c: NoburnConfig): Promise<number> => {
  const k = `${c.dbPath}\n${c.url}\n${c.apiKey}`;
  let s = syncs.get(k);
  if (!s) syncs.set(k, (s = new MirrorSync(c)));
  return s.sync();
};

beforeAll(async () => {
  t = await startTestServer();
  const admin = await t.key('feed', 'admin');
  app = await t.key('feed', 'app');
  homeA = home();
  const g = remoteGuard(t.url, admin, homeA, { projectId: 'feed' });
  try {
    await g.setBudget({ scope: 'project', capUsd: 0.01, period: 'total' });
    await g.setBudget({ scope: 'user', userId: 'carol', capUsd: 0.003, period: 'day' });
    const run = await g.startRun({ budgetCapUsd: 0.004, label: 'feed-run' });
    runId = run.runId;
    for (let i = 0; i < 4; i++) {
      const d = await g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 500, endUserId: 'carol', runId: run.runId });
      if (!d.blocked) g.record({ model: 'test-model', tokensIn: 900, tokensOut: 400, endUserId: 'carol', runId: run.runId, reservationId: d.reservationId });
    }
    g.record({ model: 'test-model', tokensIn: 1, tokensOut: 1, costUsd: 0.001, wasBlocked: true, endUserId: 'dave' });
    await g.flush();
    await g.endRun(run.runId);
  } finally {
    await g.close();
  }
});
afterAll(async () => {
  for (const s of syncs.values()) await s.close();
  await t.dispose();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const configFor = (h: string, key = app, url = t.url) => resolveConfig({ home: h, url, apiKey: key, projectId: 'feed' }, {});

function totals(dbPath: string, project: string) {
  return sqlAll(
    dbPath,
    "SELECT scope, subject, window, spent_nano, calls, blocked_calls, unpriced_calls, tokens_in, tokens_out FROM usage WHERE project_id = ? AND window = 'total' ORDER BY scope, subject",
    project,
  );
}

describe('MirrorSync', () => {
  it('pulls the whole feed into an empty mirror; usage, runs and caps match the server', async () => {
    const h = home();
    const serverEvents = sql<{ n: number }>(t.dbPath, "SELECT count(*) AS n FROM events WHERE project_id = 'feed'").n;
    expect(await syncMirror(configFor(h))).toBe(serverEvents);
    const mirror = join(h, 'noburn.db');
    expect(totals(mirror, 'feed')).toEqual(totals(t.dbPath, 'feed'));
    const cols = 'id, label, cap_nano, status, exhausted, spent_nano, calls, blocked_calls, unpriced_calls, started_at, ended_at';
    expect(sqlAll(mirror, `SELECT ${cols} FROM runs`)).toEqual(sqlAll(t.dbPath, `SELECT ${cols} FROM runs WHERE project_id = 'feed'`));
    expect(sqlAll(mirror, 'SELECT scope, subject, cap_nano, period FROM budgets ORDER BY scope')).toEqual(
      sqlAll(t.dbPath, "SELECT scope, subject, cap_nano, period FROM budgets WHERE project_id = 'feed' ORDER BY scope"),
    );
    expect(sqlAll(mirror, 'SELECT kind, blocked, reason FROM events ORDER BY seq')).toEqual(
      sqlAll(t.dbPath, "SELECT kind, blocked, reason FROM events WHERE project_id = 'feed' ORDER BY seq"),
    );
    // Nothing new: nothing applied.
    expect(await syncMirror(configFor(h))).toBe(0);
    // New events arrive incrementally.
    await call(t.url, 'POST', '/v1/check', { key: app, body: { model: 'test-model', estimatedTokensIn: 1, estimatedTokensOut: 1, runId } });
    expect(await syncMirror(configFor(h))).toBe(1);
    expect(totals(mirror, 'feed')).toEqual(totals(t.dbPath, 'feed'));
  });

  it('on top of what the client mirrored itself, each decision and record counts once', async () => {
    const mirror = join(homeA, 'noburn.db');
    // The client already mirrored its own records and blocked decisions.
    expect(sql<{ n: number }>(mirror, "SELECT count(*) AS n FROM events WHERE project_id = 'feed' AND kind = 'record'").n).toBeGreaterThan(0);
    expect(sql<{ n: number }>(mirror, "SELECT count(*) AS n FROM events WHERE project_id = 'feed' AND kind = 'check'").n).toBeGreaterThan(0);
    await syncMirror(configFor(homeA));
    expect(totals(mirror, 'feed')).toEqual(totals(t.dbPath, 'feed'));
    for (const kind of ['record', 'run_start', 'run_end']) {
      expect(sql<{ n: number }>(mirror, "SELECT count(*) AS n FROM events WHERE project_id = 'feed' AND kind = ?", kind).n).toBe(
        sql<{ n: number }>(t.dbPath, "SELECT count(*) AS n FROM events WHERE project_id = 'feed' AND kind = ?", kind).n,
      );
    }
    expect(sql<{ n: number }>(mirror, "SELECT count(*) AS n FROM events WHERE project_id = 'feed' AND kind = 'check' AND blocked = 1").n).toBe(
      sql<{ n: number }>(t.dbPath, "SELECT count(*) AS n FROM events WHERE project_id = 'feed' AND kind = 'check' AND blocked = 1").n,
    );
  });

  it('throws NoburnAuthError for a bad key and NoburnUnreachableError when nothing answers', async () => {
    await expect(syncMirror(configFor(home(), app.slice(0, -3) + 'zzz'))).rejects.toBeInstanceOf(NoburnAuthError);
    await expect(syncMirror(configFor(home(), app, 'http://127.0.0.1:9'))).rejects.toBeInstanceOf(NoburnUnreachableError);
  });
});

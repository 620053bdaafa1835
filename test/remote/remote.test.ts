/** The real client (NoburnGuard with NOBURN_URL) against a real server: every call, every error mapping, the mirror. */
import { rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NoburnAuthError,
  NoburnConflictError,
  NoburnForbiddenError,
  NoburnNotFoundError,
  NoburnValidationError,
} from '../../src/lib/errors.js';
import { serverKey, targetFor } from '../../src/lib/remote/target.js';
import { startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { clientHome, remoteGuard, sql, sqlAll, until } from './helpers.js';

let t: TestServer;
let admin: string;
let app: string;
const homes: string[] = [];
const home = () => {
  const h = clientHome();
  homes.push(h);
  return h;
};

beforeAll(async () => {
  t = await startTestServer();
  admin = await t.key('acme', 'admin');
  app = await t.key('acme', 'app');
});
afterAll(async () => {
  await t.dispose();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe('remote guard', () => {
  it('check, record, flush, runs, budgets, spend, events and prices go to the server', async () => {
    const h = home();
    const g = remoteGuard(t.url, admin, h, { projectId: 'acme' });
    try {
      await g.setBudget({ scope: 'project', capUsd: 0.005, period: 'day' });
      const d1 = await g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 500, endUserId: 'u1', runId: null });
      expect(d1).toMatchObject({ blocked: false, source: 'server', estimatedCostUsd: 0.002, remaining: { projectUsd: 0.003 } });
      g.record({ model: 'test-model', tokensIn: 1000, tokensOut: 500, endUserId: 'u1', reservationId: d1.reservationId, runId: null });
      await g.flush();
      const d2 = await g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 500, runId: null });
      expect(d2.blocked).toBe(false);
      const d3 = await g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 500, runId: null });
      expect(d3).toMatchObject({ blocked: true, blockReason: 'project_budget_exceeded', source: 'server' });

      const run = await g.startRun({ budgetCapUsd: 1, label: 'r' });
      expect(run).toMatchObject({ status: 'open', budgetCapUsd: 1, label: 'r' });
      expect(await g.getRun(run.runId)).toMatchObject({ runId: run.runId });
      expect((await g.listRuns('open')).map((r) => r.runId)).toContain(run.runId);
      g.record({ model: 'test-model', tokensIn: 10, tokensOut: 10, costUsd: 0.25, runId: run.runId });
      const ended = await g.endRun(run.runId);
      expect(ended).toMatchObject({ status: 'completed', spendUsd: 0.25, calls: 1 });

      const spend = await g.spend({ by: 'user' });
      expect(spend.totalUsd).toBe(0.252);
      // The query's runId reaches the server: only that run's spend.
      expect(await g.spend({ runId: run.runId, by: 'model' })).toMatchObject({ totalUsd: 0.25, calls: 1, rows: [{ key: 'test-model', spendUsd: 0.25, calls: 1 }] });
      expect((await g.getBudgets())[0]).toMatchObject({ scope: 'project', capUsd: 0.005 });
      expect((await g.listUsers()).map((u) => u.userId)).toContain('u1');
      expect(await g.price('test-model')).toMatchObject({ inputPerMTok: 1, source: 'config' });
      const a = await g.authority();
      expect((await a.events(0)).map((e) => e.kind)).toEqual(expect.arrayContaining(['budget', 'record', 'check', 'run_start', 'run_end']));
    } finally {
      await g.close();
    }
    // The outbox and the mirror are files of their own in NOBURN_HOME, owner-only.
    expect(statSync(join(h, 'outbox.db')).mode & 0o777).toBe(0o600);
    expect(statSync(join(h, 'noburn.db')).mode & 0o777).toBe(0o600);
    expect(sql<{ n: number }>(join(h, 'outbox.db'), 'SELECT count(*) AS n FROM outbox').n).toBe(0);
  });

  it('maps statuses to errors: 401 -> NoburnAuthError (check too), 403, 404, 409, 422', async () => {
    const bad = remoteGuard(t.url, app.slice(0, -3) + 'zzz', home());
    await expect(bad.check({ model: 'test-model', estimatedTokensIn: 1, estimatedTokensOut: 1 })).rejects.toBeInstanceOf(NoburnAuthError);
    await expect(bad.startRun({})).rejects.toBeInstanceOf(NoburnAuthError);
    await bad.close();

    const g = remoteGuard(t.url, app, home());
    try {
      await expect(g.setBudget({ scope: 'project', capUsd: 1 })).rejects.toBeInstanceOf(NoburnForbiddenError);
      await expect(g.getRun('run_nope')).rejects.toBeInstanceOf(NoburnNotFoundError);
      const r = await g.startRun({});
      await g.endRun(r.runId);
      await expect(g.endRun(r.runId)).rejects.toBeInstanceOf(NoburnConflictError);
      await expect(g.check({ model: 'test-model', estimatedTokensIn: -1, estimatedTokensOut: 1 })).rejects.toBeInstanceOf(NoburnValidationError);
      await expect(g.spend({ since: 'not-a-date' })).rejects.toBeInstanceOf(NoburnValidationError);
    } finally {
      await g.close();
    }
  });

  it('recordNow waits for the server; a repeated idempotency key counts once', async () => {
    const g = remoteGuard(t.url, app, home());
    try {
      const rec = { model: 'test-model', tokensIn: 1, tokensOut: 1, costUsd: 0.5, idempotencyKey: 'once-only', endUserId: 'idem' };
      await g.recordNow(rec);
      await g.recordNow(rec);
      g.record(rec);
      await g.flush();
      expect((await g.spend({ by: 'user' })).rows.find((x) => x.key === 'idem')).toMatchObject({ spendUsd: 0.5, calls: 1 });
    } finally {
      await g.close();
    }
  });
});

describe('outbox', () => {
  it('a record the server refuses (422) is set aside in outbox_dead; the others are delivered', async () => {
    const h = home();
    const errors: unknown[] = [];
    const g = remoteGuard(t.url, await t.key('poison', 'app'), h, { onRecordError: (e) => errors.push(e) });
    try {
      g.record({ model: 'test-model', tokensIn: 1, tokensOut: 1, costUsd: 0.001, idempotencyKey: 'good-1' });
      await g.flush();
      // A row an older or broken client left behind, for the same server and project.
      const db = new Database(join(h, 'outbox.db'));
      db.prepare('INSERT INTO outbox (target, idem_key, ts, body) VALUES (?, ?, ?, ?)').run(targetFor(serverKey(t.url), 'poison'), 'bad-1', Date.now(), JSON.stringify({ model: 'test-model', tokensIn: -5, tokensOut: 1, wasBlocked: false, idempotencyKey: 'bad-1' }));
      db.close();
      g.record({ model: 'test-model', tokensIn: 1, tokensOut: 1, costUsd: 0.001, idempotencyKey: 'good-2' });
      await g.flush();
    } finally {
      await g.close();
    }
    expect(sqlAll<{ idem_key: string }>(t.dbPath, "SELECT idem_key FROM records WHERE project_id = 'poison' ORDER BY idem_key").map((r) => r.idem_key)).toEqual(['good-1', 'good-2']);
    expect(sqlAll<{ idem_key: string; error: string }>(join(h, 'outbox.db'), 'SELECT idem_key, error FROM outbox_dead')).toEqual([{ idem_key: 'bad-1', error: expect.stringMatching(/tokensIn/) }]);
    expect(sql<{ n: number }>(join(h, 'outbox.db'), 'SELECT count(*) AS n FROM outbox').n).toBe(0);
    expect(errors.some((e) => e instanceof NoburnValidationError)).toBe(true);
    // The server saw how late the records arrived (the outbox lag).
    expect(await t.server.metrics.render()).toMatch(/noburn_record_delivery_lag_seconds_count [1-9]/);
  });
});

describe('mirror', () => {
  it('decisions, records and runs the client sees are written to the local ledger file', async () => {
    const h = home();
    const g = remoteGuard(t.url, await t.key('mirror-proj', 'app'), h, { projectId: 'local-name' });
    const mirror = join(h, 'noburn.db');
    try {
      const ok = await g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 500, endUserId: 'm1' });
      const run = await g.startRun({ budgetCapUsd: 0.001 });
      const blocked = await g.check({ model: 'test-model', estimatedTokensIn: 1000, estimatedTokensOut: 500, runId: run.runId });
      expect(blocked.blockReason).toBe('run_budget_exceeded');
      g.record({ model: 'test-model', tokensIn: 1000, tokensOut: 500, endUserId: 'm1', reservationId: ok.reservationId });
      await g.flush();
      await until(() => {
        try {
          return sql<{ n: number }>(mirror, "SELECT count(*) AS n FROM events WHERE kind = 'record'").n === 1;
        } catch {
          return false;
        }
      });
      const usage = sql<{ spent_nano: number; calls: number; blocked_calls: number }>(
        mirror,
        "SELECT spent_nano, calls, blocked_calls FROM usage WHERE project_id = 'local-name' AND scope = 'project' AND window = 'total'",
      );
      // The record was priced by the server (0.002) and mirrored with that cost.
      expect(usage).toEqual({ spent_nano: 2_000_000, calls: 1, blocked_calls: 1 });
      expect(sql<{ n: number }>(mirror, 'SELECT count(*) AS n FROM holds').n).toBe(0);
      expect(sql<{ exhausted: number; blocked_calls: number }>(mirror, 'SELECT exhausted, blocked_calls FROM runs WHERE id = ?', run.runId)).toEqual({ exhausted: 1, blocked_calls: 1 });
      const refs = sqlAll<{ ref: string }>(mirror, "SELECT ref FROM events WHERE kind = 'check'").map((r) => r.ref);
      expect(refs).toEqual([blocked.decisionId]);
    } finally {
      await g.close();
    }
  });
});

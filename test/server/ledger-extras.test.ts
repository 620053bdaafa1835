/**
 * release, nested runs, the server's clock and unpriced counts, against a real `noburn serve`
 * process (the built CLI) and real clients (remote guards, the CLI in remote mode).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NoburnGuard } from '../../src/lib/guard.js';
import type { Budget, RunInfo } from '../../src/lib/types.js';
import { runCli, serveCli, tempHome, useDist, writeConfig } from '../helpers/cli.js';
import { clientHome, remoteGuard, sql } from '../remote/helpers.js';
import { call, checkBody, recordBody } from './helpers.js';

const dist = useDist();
const homes: string[] = [];
const guards: NoburnGuard[] = [];
afterAll(async () => {
  for (const g of guards) await g.close().catch(() => {});
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

/** `noburn serve` on `port` (0: any free one); stop() is a graceful SIGTERM, after which the port can be served again. */
async function serve(home: string, port = 0): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const s = await serveCli(dist.cli, home, ['--port', String(port)]);
  return { url: s.url, port: Number(new URL(s.url).port), stop: () => s.stop('SIGTERM') };
}

/** A server home with test-model priced ($1 / $2 per million tokens) and an admin key. */
async function setup(): Promise<{ home: string; key: string }> {
  const home = tempHome('noburn-extras-');
  writeConfig(home, { prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 2 } } });
  const created = await runCli(dist.cli, ['keys', 'create', '--role', 'admin'], { home });
  return { home, key: created.stdout.trim() };
}

function guard(url: string, key: string): NoburnGuard {
  const h = clientHome();
  homes.push(h);
  const g = remoteGuard(url, key, h, { timeoutMs: 3000 });
  guards.push(g);
  return g;
}

const projectBudget = async (url: string, key: string) =>
  ((await call(url, 'GET', '/v1/budgets', { key })).body as { budgets: Budget[] }).budgets.find((b) => b.scope === 'project');

describe('noburn serve: ledger extras', () => {
  it("release frees the hold and counts no call; durable through an outage; flush() drains it", async () => {
    const { home, key } = await setup();
    let s = await serve(home);
    try {
      await call(s.url, 'PUT', '/v1/budgets/project', { key, body: { capUsd: 0.01, period: 'day' } });
      const g = guard(s.url, key);
      const d = await g.check({ model: 'test-model', estimatedTokensIn: 4000, estimatedTokensOut: 0 });
      expect(d).toMatchObject({ blocked: false, source: 'server' });
      expect(await projectBudget(s.url, key)).toMatchObject({ heldUsd: 0.004 });
      g.release(d.reservationId as string);
      await g.flush();
      expect(await projectBudget(s.url, key)).toMatchObject({ heldUsd: 0, spentUsd: 0 });
      expect((await call(s.url, 'GET', '/v1/spend', { key })).body).toMatchObject({ calls: 0, blockedCalls: 0, totalUsd: 0 });

      // While the server is down the release waits in the outbox, then is delivered once.
      const d2 = await g.check({ model: 'test-model', estimatedTokensIn: 3000, estimatedTokensOut: 0 });
      await s.stop();
      g.release(d2.reservationId as string);
      await expect(g.flush()).rejects.toThrow();
      // Read while the server is down: once it is back, the outbox's own retry may deliver
      // the release before any read over HTTP could see the hold.
      expect(sql<{ held_nano: number }>(join(home, 'noburn.db'), "SELECT held_nano FROM held WHERE scope = 'project'").held_nano).toBe(3_000_000);
      s = await serve(home, s.port);
      await g.flush();
      expect(await projectBudget(s.url, key)).toMatchObject({ heldUsd: 0, spentUsd: 0 });
      expect((await call(s.url, 'GET', '/v1/spend', { key })).body).toMatchObject({ calls: 0, blockedCalls: 0 });

      // The route: bad input is a 422 and changes nothing; unknown ids are skipped.
      expect((await call(s.url, 'POST', '/v1/releases', { key, body: { reservationIds: [] } })).status).toBe(422);
      expect((await call(s.url, 'POST', '/v1/releases', { key, body: { reservationIds: ['res_nope'] } })).body).toEqual({ released: 0 });
    } finally {
      await s.stop();
    }
  });

  it("the server dates spend by its own clock: records dated yesterday cannot pass a daily cap", async () => {
    const { home, key } = await setup();
    const s = await serve(home);
    try {
      await call(s.url, 'PUT', '/v1/budgets/project', { key, body: { capUsd: 0.01, period: 'day' } });
      const yesterday = Date.now() - 24 * 3600 * 1000;
      let allowed = 0;
      for (let i = 0; i < 3; i++) {
        const d = (await call(s.url, 'POST', '/v1/check', { key, body: checkBody({ estimatedTokensIn: 10_000, estimatedTokensOut: 0 }) })).body as { blocked: boolean; reservationId: string | null };
        if (d.blocked) continue;
        allowed++;
        const r = await call(s.url, 'POST', '/v1/records', { key, body: { records: [recordBody({ costUsd: 0.01, reservationId: d.reservationId, ts: yesterday })] } });
        expect(r.status).toBe(202);
      }
      expect(allowed).toBe(1);
      expect(await projectBudget(s.url, key)).toMatchObject({ spentUsd: 0.01, heldUsd: 0 });
      const today = new Date().toISOString().slice(0, 10);
      const byDay = (await call(s.url, 'GET', '/v1/spend?by=day', { key })).body as { rows: { key: string }[] };
      expect(byDay.rows.map((r) => r.key)).toEqual([today]);
      // The client's time is kept with the record, as data.
      expect(sql<{ called_at: number }>(join(home, 'noburn.db'), 'SELECT called_at FROM records').called_at).toBe(yesterday);
    } finally {
      await s.stop();
    }
  });

  it('records queued during an outage count exactly once, when they arrive', async () => {
    const { home, key } = await setup();
    let s = await serve(home);
    try {
      const g = guard(s.url, key);
      await s.stop();
      for (let i = 0; i < 5; i++) g.record({ model: 'test-model', tokensIn: 0, tokensOut: 0, costUsd: 0.001, idempotencyKey: `late-${i}` });
      await expect(g.flush()).rejects.toThrow();
      s = await serve(home, s.port);
      await g.flush();
      await g.flush();
      const spend = (await call(s.url, 'GET', '/v1/spend', { key })).body as { totalUsd: number; calls: number };
      expect(spend).toMatchObject({ totalUsd: 0.005, calls: 5 });
    } finally {
      await s.stop();
    }
  });

  it('nested runs over HTTP and the CLI: parent cap applies to the child, spend counts once, run show lists children', async () => {
    const { home, key } = await setup();
    const s = await serve(home);
    try {
      expect((await call(s.url, 'POST', '/v1/runs', { key, body: { parentRunId: 'run_nope' } })).status).toBe(404);
      const g = guard(s.url, key);
      const parent = await g.startRun({ budgetCapUsd: 0.005, label: 'outer' });
      const child = await g.startRun({ label: 'inner', parentRunId: parent.runId });
      expect(child.parentRunId).toBe(parent.runId);
      const d = await g.check({ model: 'test-model', estimatedTokensIn: 4000, estimatedTokensOut: 0, runId: child.runId });
      expect(d.blocked).toBe(false);
      expect(await g.check({ model: 'test-model', estimatedTokensIn: 2000, estimatedTokensOut: 0, runId: child.runId })).toMatchObject({ blocked: true, blockReason: 'run_budget_exceeded' });
      g.record({ model: 'test-model', tokensIn: 4000, tokensOut: 0, runId: child.runId, reservationId: d.reservationId });
      await g.flush();
      expect((await call(s.url, 'GET', '/v1/spend', { key })).body).toMatchObject({ totalUsd: 0.004, calls: 1 });
      const env = { NOBURN_URL: s.url, NOBURN_API_KEY: key };
      const client = tempHome('noburn-extras-cli-');
      const shown = await runCli(dist.cli, ['run', 'show', parent.runId, '--json'], { home: client, env });
      expect(shown.code).toBe(0);
      const j = JSON.parse(shown.stdout) as RunInfo & { children: RunInfo[] };
      expect(j).toMatchObject({ runId: parent.runId, spendUsd: 0.004, calls: 1, blockedCalls: 1, exhausted: true });
      expect(j.children.map((c) => [c.runId, c.spendUsd, c.parentRunId])).toEqual([[child.runId, 0.004, parent.runId]]);
      const text = await runCli(dist.cli, ['run', 'show', parent.runId], { home: client, env });
      expect(text.stdout).toContain(child.runId);
      const started = await runCli(dist.cli, ['run', 'start', '--parent', 'run_nope'], { home: client, env });
      expect(started.code).toBe(5);
      const kid2 = await runCli(dist.cli, ['run', 'start', '--parent', parent.runId], { home: client, env });
      expect(kid2.code).toBe(0);
      // Ending the parent ends its children.
      await g.endRun(parent.runId);
      expect((await g.getRun(child.runId)).status).toBe('ended');
      expect((await g.getRun(kid2.stdout.trim())).status).toBe('ended');
    } finally {
      await s.stop();
    }
  });

  it('GET /v1/budgets, budget show and run list show the unpriced count', async () => {
    const { home, key } = await setup();
    const s = await serve(home);
    try {
      await call(s.url, 'PUT', '/v1/budgets/project', { key, body: { capUsd: 1, period: 'day' } });
      const run = (await call(s.url, 'POST', '/v1/runs', { key, body: {} })).body as RunInfo;
      await call(s.url, 'POST', '/v1/records', { key, body: { records: [recordBody({ model: 'nb-unpriced-zz9', runId: run.runId })] } });
      expect(await projectBudget(s.url, key)).toMatchObject({ unpricedCalls: 1, spentUsd: 0 });
      const env = { NOBURN_URL: s.url, NOBURN_API_KEY: key };
      const client = tempHome('noburn-extras-cli-');
      const shown = await runCli(dist.cli, ['budget', 'show'], { home: client, env });
      expect(shown.stdout).toMatch(/UNPRICED/);
      expect(shown.stdout.split('\n').find((l) => l.startsWith('project'))).toMatch(/\s1\s/);
      const list = await runCli(dist.cli, ['run', 'list'], { home: client, env });
      expect(list.stdout).toMatch(/UNPRICED/);
      expect(list.stdout.split('\n').find((l) => l.startsWith(run.runId))).toMatch(/\s1\s/);
    } finally {
      await s.stop();
    }
  });
});

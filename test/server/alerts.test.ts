/**
 * docs/api.md "GET /v1/alerts" and docs/semantics.md "Alerts", served: thresholds set with
 * `alertAt` on a budget body, fired by POST /v1/records, listed by GET /v1/alerts, and
 * delivered by the server's own deliverer to a real webhook receiver on 127.0.0.1.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { call, recordBody, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer | null = null;
afterEach(async () => {
  await t?.dispose();
  t = null;
});

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('alerts, served', () => {
  it('alertAt on PUT /v1/budgets/project, fired by records, listed by GET /v1/alerts, POSTed once by the server', async () => {
    const got: Record<string, unknown>[] = [];
    const rx = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        got.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', () => r()));
    const hook = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/`;
    try {
      t = await startTestServer({ alerts: { webhook: hook, command: null, intervalMs: 50 } });
      const admin = await t.key('acme', 'admin');
      const app = await t.key('acme', 'app');
      const set = await call(t.url, 'PUT', '/v1/budgets/project', { key: admin, body: { capUsd: 1, period: 'total', alertAt: [80, 50, 50] } });
      expect(set.body).toEqual({ scope: 'project', userId: null, capUsd: 1, period: 'total', alertAt: [50, 80] });
      expect((await call(t.url, 'PUT', '/v1/budgets/project', { key: admin, body: { capUsd: 1, alertAt: [0] } })).status).toBe(422);
      expect(((await call(t.url, 'GET', '/v1/budgets', { key: app })).body as { budgets: unknown[] }).budgets).toMatchObject([{ alertAt: [50, 80] }]);
      for (const cost of [0.3, 0.3, 0.3]) {
        expect((await call(t.url, 'POST', '/v1/records', { key: app, body: { records: [recordBody({ costUsd: cost })] } })).status).toBe(202);
      }
      const list = (await call(t.url, 'GET', '/v1/alerts', { key: app })).body as { alerts: { id: string; threshold: number; spentUsd: number }[]; cursor: number };
      expect(list.alerts.map((a) => [a.threshold, a.spentUsd])).toEqual([[50, 0.6], [80, 0.9]]);
      const after = (await call(t.url, 'GET', `/v1/alerts?after=${list.cursor}`, { key: app })).body as { alerts: unknown[] };
      expect(after.alerts).toEqual([]);
      // Another project's key sees none of them.
      const other = await t.key('other', 'app');
      expect(((await call(t.url, 'GET', '/v1/alerts', { key: other })).body as { alerts: unknown[] }).alerts).toEqual([]);
      await until('both alerts POSTed', () => got.length >= 2);
      expect(got.map((g) => g['id']).sort()).toEqual(list.alerts.map((a) => a.id).sort());
      const feed = (await call(t.url, 'GET', '/v1/events?kind=alert', { key: app })).body as { events: { kind: string }[] };
      expect(feed.events.map((e) => e.kind)).toEqual(['alert', 'alert']);
    } finally {
      await new Promise<void>((r) => rx.close(() => r()));
    }
  });
});

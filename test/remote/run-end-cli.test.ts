/**
 * Remote `noburn run end`: the server's end answer carries the whole run, so the command
 * makes one request (not end + two reads) and still prints the unpriced count.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../../src/server/log.js';
import { runCli, tempHome, useDist } from '../helpers/cli.js';
import { call, startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';

let t: TestServer;
const dist = useDist();
const requests: { method: string; route: string }[] = [];

beforeAll(async () => {
  // Every request the server answers, as its debug log tells them.
  const logger = createLogger('debug', (line) => {
    const j = JSON.parse(line) as { msg: string; method?: string; route?: string };
    if (j.method !== undefined && j.route !== undefined) requests.push({ method: j.method, route: j.route });
  });
  t = await startTestServer({ logger });
});
afterAll(async () => {
  await t.dispose();
});

it('ends the run in one request, with the unpriced count from the answer', async () => {
  const key = await t.key('end-one', 'app');
  const run = (await call(t.url, 'POST', '/v1/runs', { key, body: { budgetCapUsd: 1 } })).body as { runId: string };
  // One call the server cannot price: the end answer's run must carry it.
  await call(t.url, 'POST', '/v1/records', { key, body: { records: [{ model: 'nb-unpriced-zz9', tokensIn: 5, tokensOut: 5, wasBlocked: false, idempotencyKey: 'u-1', runId: run.runId }] } });
  requests.length = 0;
  const r = await runCli(dist.cli, ['run', 'end', run.runId, '--json'], { home: tempHome(), env: { NOBURN_URL: t.url, NOBURN_API_KEY: key } });
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ runId: run.runId, status: 'completed', calls: 1, unpricedCalls: 1 });
  expect(requests).toEqual([{ method: 'POST', route: '/v1/runs/:id/end' }]);
});

it('the end answer is the end result plus the run as GET /v1/runs/:id then shows it', async () => {
  const key = await t.key('end-body', 'app');
  const run = (await call(t.url, 'POST', '/v1/runs', { key, body: { label: 'x' } })).body as { runId: string };
  const end = (await call(t.url, 'POST', `/v1/runs/${run.runId}/end`, { key })).body as { run: unknown; status: string };
  expect(end.status).toBe('completed');
  expect(end.run).toEqual((await call(t.url, 'GET', `/v1/runs/${run.runId}`, { key })).body);
});

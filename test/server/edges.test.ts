/** Small server edges: HEAD /healthz, GET /v1/whoami, the no-keys warning of serve. */
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli, serveCli, tempHome, useDist } from '../helpers/cli.js';
import { call, startTestServer } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;
const dist = useDist();
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.dispose();
});

it('HEAD /healthz is 200 with the GET headers and no body', async () => {
  const r = await request(`${t.url}/healthz`, { method: 'HEAD' });
  expect(r.statusCode).toBe(200);
  expect(r.headers['content-type']).toMatch(/json/);
  expect(await r.body.text()).toBe('');
});

it('GET /v1/whoami names the key, its project and role; a bad key is 401', async () => {
  const key = await t.key('acme', 'app');
  const r = await call(t.url, 'GET', '/v1/whoami', { key });
  expect(r.status).toBe(200);
  expect(r.body).toEqual({ keyId: expect.stringMatching(/^key_/), projectId: 'acme', role: 'app' });
  expect((await call(t.url, 'GET', '/v1/whoami', { key: 'nb_key_nosuchkey000.' + 'a'.repeat(43) })).status).toBe(401);
});

it('serve warns at start when its store has no API keys, and not once it has one', async () => {
  const home = tempHome();
  const store = join(home, 'empty.db');
  const s = await serveCli(dist.cli, home, ['--store', store]);
  try {
    await new Promise((r) => setTimeout(r, 300));
    expect(s.stderr()).toMatch(/"level":"warn","msg":"this store has no API keys.*keys create --store/);
  } finally {
    await s.stop();
  }
  expect((await runCli(dist.cli, ['keys', 'create', '--store', store], { home })).code).toBe(0);
  const again = await serveCli(dist.cli, home, ['--store', store]);
  try {
    await new Promise((r) => setTimeout(r, 300));
    expect(again.stderr()).not.toMatch(/no API keys/);
  } finally {
    await again.stop();
  }
});

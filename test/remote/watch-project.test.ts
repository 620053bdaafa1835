/**
 * `watch --remote` shows the project the API key names (the server says which: GET
 * /v1/whoami), with its spend; NOBURN_PROJECT_ID equal to it is fine, a contradicting one
 * is refused with one line and exit 3.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli, tempHome, useDist } from '../helpers/cli.js';
import { startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { remoteGuard } from './helpers.js';

let t: TestServer;
const dist = useDist();
let key: string;
beforeAll(async () => {
  t = await startTestServer();
  key = await t.key('acme', 'app');
  const g = remoteGuard(t.url, key, tempHome());
  try {
    await g.recordNow({ model: 'test-model', tokensIn: 10, tokensOut: 1, costUsd: 0.25, endUserId: 'u1' });
  } finally {
    await g.close();
  }
});
afterAll(async () => {
  await t.dispose();
});

const watch = (env: Record<string, string>) => runCli(dist.cli, ['watch', '--remote', '--once', '--json'], { home: tempHome(), env: { NOBURN_URL: t.url, NOBURN_API_KEY: key, ...env } });

it("with a project key and no NOBURN_PROJECT_ID it shows the key's project and its spend", async () => {
  const r = await watch({});
  expect(r.code).toBe(0);
  const snap = JSON.parse(r.stdout) as { projectId: string; users: { userId: string; spentUsd?: number }[] };
  expect(snap.projectId).toBe('acme');
  expect(JSON.stringify(snap)).toMatch(/"u1"/);
  expect(r.stdout).toMatch(/"spentUsd": 0\.25/);
});

it("NOBURN_PROJECT_ID equal to the key's project shows the same spend", async () => {
  const r = await watch({ NOBURN_PROJECT_ID: 'acme' });
  expect(r.code).toBe(0);
  expect((JSON.parse(r.stdout) as { projectId: string }).projectId).toBe('acme');
  expect(r.stdout).toMatch(/"spentUsd": 0\.25/);
});

it('a contradicting NOBURN_PROJECT_ID is refused: exit 3, one line naming both projects', async () => {
  const r = await watch({ NOBURN_PROJECT_ID: 'other' });
  expect(r.code).toBe(3);
  expect(r.stdout).toBe('');
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/"other".*"acme"/);
});

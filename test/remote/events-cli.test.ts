/**
 * docs/cli.md "Exports", remote mode: `noburn events` against a real `noburn serve` pages
 * through GET /v1/events with the cursor (the feed is longer than the server's 1000-event
 * page) and prints each of the key's project's events once, as embedded mode would; the
 * filters go to the server; a bad --since is the server's 400, exit 2, nothing on stdout.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lines, runCli, serveCli, tempHome, useDist } from '../helpers/cli.js';
import type { ServeChild } from '../helpers/cli.js';
import { expectedCsvRow, ledgerEvents, parseCsv, writeExportLedger } from '../helpers/export-ledger.js';
import type { LedgerEvent } from '../../src/lib/types.js';

const dist = useDist();
let serve: ServeChild | undefined;
let dbPath: string;
let serverHome: string;
let client: string;
let env: Record<string, string>;

beforeAll(async () => {
  serverHome = tempHome('noburn-events-server-');
  dbPath = join(serverHome, 'noburn.db');
  await writeExportLedger(dbPath, 2600);
  const key = (await runCli(dist.cli, ['keys', 'create', '--project', 'default'], { home: serverHome })).stdout.trim();
  serve = await serveCli(dist.cli, serverHome);
  client = tempHome('noburn-events-client-');
  env = { NOBURN_URL: serve.url, NOBURN_API_KEY: key };
});
afterAll(async () => {
  await serve?.stop('SIGTERM');
});

it('events --format csv pages through the whole feed: every event of the project once, in seq order', async () => {
  const r = await runCli(dist.cli, ['events', '--format', 'csv'], { home: client, env });
  expect(r.code, r.stderr).toBe(0);
  const want = ledgerEvents(dbPath);
  expect(want.length).toBeGreaterThan(2000);
  expect(parseCsv(r.stdout).slice(1)).toEqual(want.map(expectedCsvRow));
});

it('the filters are applied by the server; jsonl lines are the events of the feed', async () => {
  const since = '2026-11-25T06:00:00Z';
  const r = await runCli(dist.cli, ['events', '--kind', 'record', '--since', since], { home: client, env });
  expect(r.code, r.stderr).toBe(0);
  const want = ledgerEvents(dbPath, "kind = 'record' AND ts >= ?", Date.parse(since));
  expect(want.length).toBeGreaterThan(1000);
  const got = lines(r.stdout).map((l) => JSON.parse(l) as LedgerEvent);
  expect(got.map((e) => [e.seq, e.ts, e.ref])).toEqual(want.map((w) => [w.seq, new Date(w.ts).toISOString(), w.ref]));
});

it('spend --format csv is the same in remote mode as on the server\'s own file', async () => {
  const remote = await runCli(dist.cli, ['spend', '--by', 'model', '--format', 'csv'], { home: client, env });
  expect(remote.code, remote.stderr).toBe(0);
  const local = await runCli(dist.cli, ['spend', '--by', 'model', '--format', 'csv'], { home: serverHome });
  expect(remote.stdout).toBe(local.stdout);
  expect(parseCsv(remote.stdout).map((x) => x[0]).sort()).toEqual(['claude-x', 'gpt-4o', 'model']);
});

it('bad --since: exit 2, one line on stderr, nothing on stdout', async () => {
  const r = await runCli(dist.cli, ['events', '--format', 'csv', '--since', 'tomorrow'], { home: client, env });
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(lines(r.stderr)).toHaveLength(1);
});

/**
 * contract §3/§7 at scale, serve half (issue 6 item 3; the embedded half is
 * overshoot-scale.test.ts): 256 concurrent HTTP connections to one `noburn serve` (the
 * built CLI as a child process, on 127.0.0.1) fire checks against one cap; approvals are
 * exactly floor(cap / estimate), for a project cap, a user cap and a run cap.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import { cleanEnv, removeHomes, runCli, snapshotDist, tempHome, writeConfig } from '../helpers/cli.js';
import type { Dist } from '../helpers/cli.js';
import { prng } from '../helpers/reliability/procs.js';
import { call } from '../server/helpers.js';

const CONNECTIONS = 256;
const PER_CONNECTION = 32;
const ATTEMPTS = CONNECTIONS * PER_CONNECTION;
const MODEL = 'serve-scale-m';
const TOKENS_IN = 733;
const TOKENS_OUT = 61;
/** $1 / $4 per million tokens in / out (config.json override): 733 * 1,000 + 61 * 4,000 nano-dollars. */
const ESTIMATE = TOKENS_IN * 1_000 + TOKENS_OUT * 4_000;
const SEED = Number(process.env['OVERSHOOT_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const DEADLINE_MS = 120_000;

type Scope = 'project' | 'user' | 'run';

let dist: Dist;
let home: string;
let serve: ChildProcessWithoutNullStreams | null = null;
let exit: Promise<number | null>;
let url = '';

beforeAll(async () => {
  dist = await snapshotDist();
  home = tempHome('noburn-serve-scale-');
  writeConfig(home, { prices: { [MODEL]: { inputPerMTok: 1, outputPerMTok: 4 } } });
  const child = spawn(process.execPath, [dist.cli, 'serve', '--port', '0'], { env: cleanEnv({ NOBURN_HOME: home, HOME: home }) });
  serve = child;
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout.resume();
  exit = new Promise((r) => child.on('close', (code) => r(code)));
  const deadline = Date.now() + 20_000;
  while (!/"msg":"listening"/.test(err)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  url = (JSON.parse(err.split('\n').find((l) => l.includes('"listening"')) as string) as { url: string }).url;
});
afterAll(() => {
  serve?.kill('SIGKILL');
  dist?.dispose();
  removeHomes();
});

interface Outcome {
  status: number;
  blocked: boolean;
  blockReason: string | null;
  reservationId: string | null;
}

/**
 * Opens CONNECTIONS clients of one socket each, waits until every socket is connected,
 * then has each send PER_CONNECTION checks back to back: CONNECTIONS checks in flight at
 * every moment until the end.
 */
async function burst(key: string, body: Record<string, unknown>): Promise<{ outcomes: Outcome[]; connects: number }> {
  let connects = 0;
  const clients = Array.from({ length: CONNECTIONS }, () => {
    const c = new Client(url, { pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 });
    c.on('connect', () => connects++);
    return c;
  });
  const payload = JSON.stringify({ model: MODEL, estimatedTokensIn: TOKENS_IN, estimatedTokensOut: TOKENS_OUT, ...body });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      await Promise.all(clients.map(async (c) => (await c.request({ method: 'GET', path: '/healthz' })).body.text()));
      const perClient = await Promise.all(
        clients.map(async (c) => {
          const out: Outcome[] = [];
          for (let i = 0; i < PER_CONNECTION; i++) {
            const res = await c.request({ method: 'POST', path: '/v1/check', headers, body: payload });
            const d = (await res.body.json()) as Omit<Outcome, 'status'>;
            out.push({ status: res.statusCode, blocked: d.blocked, blockReason: d.blockReason, reservationId: d.reservationId });
          }
          return out;
        }),
      );
      return perClient.flat();
    })();
    const outcomes = await Promise.race([
      work,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`burst took over ${DEADLINE_MS} ms`)), DEADLINE_MS))),
    ]);
    return { outcomes, connects };
  } finally {
    clearTimeout(timer);
    await Promise.all(clients.map((c) => c.destroy()));
  }
}

describe(`${CONNECTIONS} connections x ${PER_CONNECTION} checks against one cap on one noburn serve`, () => {
  const rnd = prng(SEED);
  // Caps of 3,000-6,000 estimates (of 8,192 attempts) plus a random remainder below one
  // estimate: thousands must be refused, and the last approval fits exactly or nearly.
  const cases = (['project', 'user', 'run'] as const).map((scope: Scope) => ({
    scope,
    k: 3_000 + rnd(3_001),
    remainder: rnd(4) === 0 ? 0 : rnd(ESTIMATE),
  }));
  const projects: string[] = [];

  it.each(cases)('$scope cap: approvals are exactly floor(cap / estimate)', async ({ scope, k, remainder }) => {
    const project = `scale-${scope}`;
    projects.push(project);
    const cap = k * ESTIMATE + remainder;
    const expected = Math.floor(cap / ESTIMATE);
    console.log(`overshoot over serve: OVERSHOOT_SEED=${SEED} scope=${scope} cap=${k} x estimate + ${remainder}`);

    const made = await runCli(dist.cli, ['keys', 'create', '--role', 'admin', '--project', project, '--store', join(home, 'noburn.db')], { home });
    expect(made.code).toBe(0);
    const admin = made.stdout.trim();
    const app = ((await call(url, 'POST', '/v1/keys', { key: admin, body: { role: 'app' } })).body as { key: string }).key;
    const capUsd = cap / 1e9;
    const body: Record<string, unknown> = {};
    if (scope === 'project') expect((await call(url, 'PUT', '/v1/budgets/project', { key: admin, body: { capUsd, period: 'total' } })).status).toBe(200);
    if (scope === 'user') {
      expect((await call(url, 'PUT', '/v1/budgets/users/scale-user', { key: admin, body: { capUsd, period: 'total' } })).status).toBe(200);
      body['endUserId'] = 'scale-user';
    }
    if (scope === 'run') {
      const run = await call(url, 'POST', '/v1/runs', { key: app, body: { budgetCapUsd: capUsd } });
      expect(run.status).toBe(201);
      body['runId'] = (run.body as { runId: string }).runId;
    }

    const t0 = performance.now();
    const { outcomes, connects } = await burst(app, body);
    console.log(`  ${ATTEMPTS} checks over ${connects} connections in ${Math.round(performance.now() - t0)} ms`);
    expect(connects).toBe(CONNECTIONS);
    expect(outcomes).toHaveLength(ATTEMPTS);
    expect(new Set(outcomes.map((o) => o.status))).toEqual(new Set([200]));
    const approved = outcomes.filter((o) => !o.blocked);
    expect(approved).toHaveLength(expected);
    expect(new Set(approved.map((o) => o.reservationId)).size).toBe(expected);
    const reasons: Record<string, number> = {};
    for (const o of outcomes) if (o.blocked) reasons[o.blockReason ?? 'null'] = (reasons[o.blockReason ?? 'null'] ?? 0) + 1;
    expect(reasons).toEqual({ [`${scope}_budget_exceeded`]: ATTEMPTS - expected });

    // The server agrees: exactly the approved estimates are held, never more than the cap.
    const heldUsd =
      scope === 'run'
        ? ((await call(url, 'GET', `/v1/runs/${body['runId'] as string}`, { key: app })).body as { heldUsd: number }).heldUsd
        : ((await call(url, 'GET', '/v1/budgets', { key: app })).body as { budgets: { heldUsd: number }[] }).budgets[0]?.heldUsd;
    expect(Math.round((heldUsd ?? -1) * 1e9)).toBe(expected * ESTIMATE);
  });

  it('after a graceful stop, the ledger file holds exactly those holds and is intact', async () => {
    expect(projects).toHaveLength(cases.length);
    serve?.kill('SIGTERM');
    expect(await exit).toBe(0);
    serve = null;
    const store = new SqliteStore(join(home, 'noburn.db'));
    try {
      for (const [i, project] of projects.entries()) {
        const c = cases[i] as (typeof cases)[number];
        const expected = Math.floor((c.k * ESTIMATE + c.remainder) / ESTIMATE);
        const h = store.db.prepare('SELECT count(*) AS n, coalesce(sum(amount_nano), 0) AS held FROM holds WHERE project_id = ?').get(project);
        expect(h).toEqual({ n: expected, held: expected * ESTIMATE });
        const blocked = store.db.prepare("SELECT count(*) FROM events WHERE project_id = ? AND kind = 'check' AND blocked = 1").pluck().get(project);
        expect(blocked).toBe(ATTEMPTS - expected);
      }
      expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      await store.close();
    }
  });
});

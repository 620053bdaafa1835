/** `noburn run start|end|show|list`, `budget set|show`, `spend`, `prices`: the built CLI as a real process. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cleanEnv, lines } from '../helpers/cli.js';
import { ISO, M1, m1Nano, nano, useM1Suite } from '../helpers/e2e.js';

const suite = useM1Suite('noburn-e2e-');

interface Run {
  runId: string;
  label: string | null;
  parentRunId: string | null;
  status: string;
  exhausted: boolean;
  budgetCapUsd: number | null;
  spendUsd: number;
  heldUsd: number;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  clampedCalls: number;
  overHolds: number;
  startedAt: string;
  endedAt: string | null;
}

const check = (runId: string, tokensIn = 1000) => ['check', '--model', 'm1', '--tokens-in', String(tokensIn), '--tokens-out', '300', '--run', runId];

describe('noburn run', () => {
  it('ID=$(noburn run start --cap 1) captures the id alone, usable by the next command', () => {
    const script = `set -e; ID=$("$NODE" "$CLI" run start --cap 1 --label nightly); echo "id=[$ID]"; "$NODE" "$CLI" run show "$ID" --json`;
    const r = spawnSync('sh', ['-c', script], {
      encoding: 'utf8',
      env: cleanEnv({ NOBURN_HOME: suite.home, HOME: suite.home, NODE: process.execPath, CLI: suite.dist.cli }),
    });
    expect(r.status, r.stderr).toBe(0);
    const m = /^id=\[(run_[\w-]+)\]\n/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const shown = JSON.parse(r.stdout.slice(m?.[0].length)) as Run;
    expect(shown.runId).toBe(m?.[1]);
    expect(shown.label).toBe('nightly');
  });

  it('run start: stdout is exactly the id; --json is the run', async () => {
    const r = await suite.cli(['run', 'start', '--cap', '0.5']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^run_[\w-]+\n$/);
    expect(r.stderr).toBe('');
    const j = await suite.cli.json<Run>(['run', 'start', '--cap', '0.25', '--label', 'x']);
    expect(j).toEqual({
      runId: expect.stringMatching(/^run_/) as unknown as string,
      label: 'x',
      parentRunId: null,
      status: 'open',
      exhausted: false,
      budgetCapUsd: 0.25,
      spendUsd: 0,
      heldUsd: 0,
      calls: 0,
      blockedCalls: 0,
      unpricedCalls: 0,
      clampedCalls: 0,
      overHolds: 0,
      startedAt: expect.stringMatching(ISO) as unknown as string,
      endedAt: null,
    });
  });

  it('a run cap blocks (run_budget_exceeded); run end reports exhausted with its totals', async () => {
    const id = (await suite.cli(['run', 'start', '--cap', '0.002'])).stdout.trim();
    const res = (await suite.cli(check(id))).stdout.trim();
    const blocked = await suite.cli(check(id));
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain('run_budget_exceeded');
    await suite.cli(['record', '--model', 'm1', '--tokens-in', '900', '--tokens-out', '300', '--run', id, '--reservation', res]);

    const shown = await suite.cli.json<Run>(['run', 'show', id]);
    expect(shown).toMatchObject({ runId: id, status: 'open', exhausted: true, calls: 1, blockedCalls: 1, heldUsd: 0 });
    expect(nano(shown.spendUsd)).toBe(m1Nano(900, 300));

    const plain = await suite.cli(['run', 'show', id]);
    expect(plain.stdout).toContain(`run      ${id}`);
    expect(plain.stdout).toMatch(/^status\s+open \(exhausted\)$/m);

    const end = await suite.cli.json<Record<string, unknown>>(['run', 'end', id]);
    expect(Object.keys(end).sort()).toEqual(['blockedCalls', 'budgetCapUsd', 'calls', 'endedAt', 'runId', 'spendUsd', 'startedAt', 'status', 'unpricedCalls']);
    expect(end).toMatchObject({ runId: id, status: 'exhausted', budgetCapUsd: 0.002, calls: 1, blockedCalls: 1 });
    expect(nano(end['spendUsd'])).toBe(m1Nano(900, 300));
    expect(end['endedAt']).toMatch(ISO);
    expect(Date.parse(end['endedAt'] as string)).toBeGreaterThanOrEqual(Date.parse(end['startedAt'] as string));
  });

  it('run end (plain) prints one summary line; a run without blocks is completed', async () => {
    const id = (await suite.cli(['run', 'start', '--cap', '1'])).stdout.trim();
    const r = await suite.cli(['run', 'end', id]);
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([`${id} completed: spent $0.000000 of $1.000000, 0 calls, 0 blocked, 0 unpriced`]);
    expect((await suite.cli.json<Run>(['run', 'show', id])).status).toBe('ended');
  });

  it('run list: every run, filtered by --status', async () => {
    const a = (await suite.cli(['run', 'start', '--cap', '1', '--label', 'a'])).stdout.trim();
    const b = (await suite.cli(['run', 'start'])).stdout.trim();
    await suite.cli(['run', 'end', a]);
    const all = await suite.cli.json<Run[]>(['run', 'list']);
    expect(all.map((r) => r.runId).sort()).toEqual([a, b].sort());
    expect((await suite.cli.json<Run[]>(['run', 'list', '--status', 'open'])).map((r) => r.runId)).toEqual([b]);
    expect((await suite.cli.json<Run[]>(['run', 'list', '--status', 'ended'])).map((r) => r.runId)).toEqual([a]);
    const plain = await suite.cli(['run', 'list']);
    expect(lines(plain.stdout)[0]).toMatch(/^RUN\s+LABEL\s+STATUS/);
    expect(lines(plain.stdout)).toHaveLength(3);
  });

  it('run list on an empty ledger: [] with --json, a message on stderr without', async () => {
    expect(await suite.cli.json(['run', 'list'])).toEqual([]);
    const r = await suite.cli(['run', 'list']);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(lines(r.stderr)).toHaveLength(1);
  });
});

interface Budget {
  scope: string;
  userId: string | null;
  capUsd: number;
  period: string;
  spentUsd: number;
  heldUsd: number;
  windowStart: string;
}

describe('noburn budget', () => {
  it('set: --json echoes the cap; plain says it on stderr with nothing on stdout', async () => {
    expect(await suite.cli.json(['budget', 'set', '--project', '2.5', '--period', 'day'])).toEqual({ scope: 'project', userId: null, capUsd: 2.5, period: 'day' });
    expect(await suite.cli.json(['budget', 'set', '--user', 'u1', '0.75', '--period', 'week'])).toEqual({ scope: 'user', userId: 'u1', capUsd: 0.75, period: 'week' });
    expect(await suite.cli.json(['budget', 'set', '--default-user', '0.1'])).toEqual({ scope: 'default_user', userId: null, capUsd: 0.1, period: 'month' });
    const plain = await suite.cli(['budget', 'set', '--user', 'u2', '1', '--period', 'total']);
    expect(plain).toMatchObject({ code: 0, stdout: '' });
    expect(lines(plain.stderr)).toEqual(['user u2: cap $1.00 per all time']);
  });

  it('show: every cap with its spend and holds in the current UTC window', async () => {
    await suite.cli(['budget', 'set', '--project', '2.5', '--period', 'day']);
    await suite.cli(['budget', 'set', '--user', 'u1', '0.75', '--period', 'month']);
    await suite.cli(['record', '--model', 'm1', '--tokens-in', '100', '--tokens-out', '10', '--user', 'u1']);
    await suite.cli(['check', '--model', 'm1', '--tokens-in', '1000', '--tokens-out', '300', '--user', 'u1']);
    const bs = await suite.cli.json<Budget[]>(['budget', 'show']);
    const now = new Date();
    const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())).toISOString();
    const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
    const byScope = Object.fromEntries(bs.map((b) => [b.scope, b]));
    expect(byScope['project']).toMatchObject({ userId: null, capUsd: 2.5, period: 'day', windowStart: day });
    expect(byScope['user']).toMatchObject({ userId: 'u1', capUsd: 0.75, period: 'month', windowStart: month });
    for (const b of bs) {
      expect(nano(b.spentUsd)).toBe(m1Nano(100, 10));
      expect(nano(b.heldUsd)).toBe(m1Nano(1000, 300));
    }
    const plain = await suite.cli(['budget', 'show']);
    expect(lines(plain.stdout)[0]).toMatch(/^SCOPE\s+USER\s+CAP\s+PERIOD\s+SPENT\s+HELD/);
    expect(plain.stdout).toMatch(/^user\s+u1\s+\$0\.750000\s+month\s+\$0\.000120\s+\$0\.001600/m);
  });

  it("set --model GLOB [--user ID]: a model cap blocks that model's calls with model_budget_exceeded; show adds a MODEL column", async () => {
    expect(await suite.cli.json(['budget', 'set', '--model', 'm*', '0.0001', '--period', 'minute'])).toEqual({ scope: 'model', userId: null, model: 'm*', capUsd: 0.0001, period: 'minute' });
    expect(await suite.cli.json(['budget', 'set', '--model', 'm1', '--user', 'u1', '0', '--period', 'day'])).toMatchObject({ scope: 'model', userId: 'u1', model: 'm1' });
    const blocked = await suite.cli.json<{ blocked: boolean; blockReason: string }>(['check', '--model', 'm1', '--tokens-in', '1000', '--tokens-out', '300'], { code: 1 });
    expect(blocked).toMatchObject({ blocked: true, blockReason: 'model_budget_exceeded' });
    const plain = await suite.cli(['budget', 'show']);
    expect(lines(plain.stdout)[0]).toMatch(/^SCOPE\s+USER\s+MODEL\s+CAP\s+PERIOD/);
    expect(plain.stdout).toMatch(/^model\s+u1\s+m1\s+\$0\.000000\s+day/m);
    const bad = await suite.cli(['budget', 'set', '--model', 'm1', '--project', '1']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--model caps the project/);
  });

  it('set none removes a cap', async () => {
    await suite.cli(['budget', 'set', '--project', '1']);
    expect(await suite.cli.json(['budget', 'set', '--project', 'none'])).toMatchObject({ capUsd: null });
    expect(await suite.cli.json(['budget', 'show'])).toEqual([]);
  });
});

interface SpendReport {
  by: string | null;
  since: string | null;
  until: string | null;
  totalUsd: number;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  rows: { key: string | null; spendUsd: number; calls: number; blockedCalls: number; unpricedCalls: number; tokensIn: number; tokensOut: number }[];
}

describe('noburn spend', () => {
  it('totals and groups by model, user, run and day; --since/--until filter', async () => {
    const run = (await suite.cli(['run', 'start'])).stdout.trim();
    await suite.cli(['record', '--model', 'm1', '--tokens-in', '100', '--tokens-out', '10', '--user', 'u1', '--run', run]);
    await suite.cli(['record', '--model', 'm1', '--tokens-in', '200', '--tokens-out', '20', '--user', 'u2']);
    await suite.cli(['record', '--model', 'gpt-4o', '--tokens-in', '0', '--tokens-out', '0', '--cost', '0.5', '--user', 'u1']);
    const total = m1Nano(300, 30) + 500_000_000;

    const all = await suite.cli.json<SpendReport>(['spend']);
    expect(all).toMatchObject({ by: null, since: null, until: null, calls: 3, blockedCalls: 0, unpricedCalls: 0, rows: [] });
    expect(nano(all.totalUsd)).toBe(total);

    const byModel = await suite.cli.json<SpendReport>(['spend', '--by', 'model']);
    expect(byModel.by).toBe('model');
    const m = Object.fromEntries(byModel.rows.map((r) => [r.key, r]));
    expect(nano(m['m1']?.spendUsd)).toBe(m1Nano(300, 30));
    expect(m['m1']).toMatchObject({ calls: 2, tokensIn: 300, tokensOut: 30 });
    expect(nano(m['gpt-4o']?.spendUsd)).toBe(500_000_000);

    const byUser = await suite.cli.json<SpendReport>(['spend', '--by', 'user']);
    expect(Object.fromEntries(byUser.rows.map((r) => [r.key, nano(r.spendUsd)]))).toEqual({ u1: m1Nano(100, 10) + 500_000_000, u2: m1Nano(200, 20) });
    const byRun = await suite.cli.json<SpendReport>(['spend', '--by', 'run']);
    expect(byRun.rows.find((r) => r.key === run)?.calls).toBe(1);
    const today = new Date().toISOString().slice(0, 10);
    const byDay = await suite.cli.json<SpendReport>(['spend', '--by', 'day']);
    expect(byDay.rows.map((r) => [r.key, nano(r.spendUsd)])).toEqual([[today, total]]);

    expect(nano((await suite.cli.json<SpendReport>(['spend', '--since', today])).totalUsd)).toBe(total);
    expect(nano((await suite.cli.json<SpendReport>(['spend', '--since', `${today}T00:00:00+00:00`])).totalUsd)).toBe(total);
    expect((await suite.cli.json<SpendReport>(['spend', '--until', `${today}T00:00:00.000Z`])).calls).toBe(0);
    const future = await suite.cli.json<SpendReport>(['spend', '--since', '2999-01-01']);
    expect(future).toMatchObject({ totalUsd: 0, calls: 0 });
    expect(future.since).toMatch(/^2999-01-01/);
    expect((await suite.cli.json<SpendReport>(['spend', '--until', '2000-01-01'])).calls).toBe(0);

    const plain = await suite.cli(['spend', '--by', 'user']);
    expect(lines(plain.stdout)[0]).toMatch(/^USER\s+SPEND\s+CALLS/);
    expect(lines(plain.stdout).at(-1)).toBe(`total $${(total / 1e9).toFixed(6)}  calls 3  blocked 0  unpriced 0`);
  });
});

describe('noburn prices', () => {
  it('a model from the price data, with its source and match', async () => {
    const p = await suite.cli.json<Record<string, unknown>>(['prices', 'gpt-4o']);
    expect(p).toMatchObject({ model: 'gpt-4o', source: 'genai-prices', matched: expect.stringContaining('gpt-4o') as unknown as string });
    expect(p['inputPerMTok']).toBeGreaterThan(0);
    expect(p['outputPerMTok']).toBeGreaterThan(p['inputPerMTok'] as number);
    const plain = await suite.cli(['prices', 'gpt-4o']);
    expect(plain.stdout).toMatch(new RegExp(`^input\\s+\\$${p['inputPerMTok']} / MTok$`, 'm'));
    expect(plain.stdout).toMatch(/^source\s+genai-prices$/m);
  });

  it('a config override wins; an unknown model exits 5', async () => {
    expect(await suite.cli.json(['prices', 'm1'])).toEqual({ model: 'm1', ...M1, cacheReadPerMTok: null, cacheWritePerMTok: null, source: 'config', matched: null });
    const unknown = await suite.cli(['prices', 'no-such-model-xyz']);
    expect(unknown).toMatchObject({ code: 5, stdout: '' });
    expect(lines(unknown.stderr)).toHaveLength(1);
    expect(await suite.cli.json(['prices', 'no-such-model-xyz'], { code: 5 })).toMatchObject({ source: 'unknown' });
  });

  it('without a model: the configured overrides', async () => {
    expect(await suite.cli.json(['prices'])).toEqual({ overrides: { m1: M1 }, fallbackPrice: null, unknownModel: 'block' });
    expect((await suite.cli(['prices'])).stdout).toContain('m1: in $1/MTok, out $2/MTok (config)');
  });
});

/**
 * serve's /metrics spend gauges equal `budget show` and `run list` after a burst of records
 * (docs/operations.md "Metrics"): a real `noburn serve` on 127.0.0.1:0 (the built CLI), caps
 * and runs set through the CLI in remote mode, records sent concurrently over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveCli, tempHome, useDist, writeConfig } from '../helpers/cli.js';
import type { ServeChild } from '../helpers/cli.js';
import { bindCli, M1 } from '../helpers/e2e.js';
import type { Cli } from '../helpers/e2e.js';

const dist = useDist();
let serve: ServeChild;
let cli: Cli;
let key: string;

interface Budget {
  scope: string;
  userId: string | null;
  model?: string;
  capUsd: number;
  period: string;
  spentUsd: number;
  heldUsd: number;
}
interface Run {
  runId: string;
  label: string | null;
  status: string;
  budgetCapUsd: number | null;
  spendUsd: number;
  clampedCalls: number;
  overHolds: number;
}

beforeAll(async () => {
  const home = tempHome('noburn-gauges-');
  writeConfig(home, { prices: { m1: M1, m2: M1 } });
  const local = bindCli(dist.cli, home);
  const k = await local(['keys', 'create', '--role', 'admin', '--project', 'acme']);
  expect(k.code, k.stderr).toBe(0);
  key = k.stdout.trim();
  serve = await serveCli(dist.cli, home);
  const remote = { NOBURN_URL: serve.url, NOBURN_API_KEY: key };
  const run = (args: string[], o: Parameters<Cli>[1] = {}) => local(args, { ...o, env: { ...remote, ...o.env } });
  cli = Object.assign(run, { json: <T>(args: string[], o: Parameters<Cli['json']>[1] = {}) => local.json<T>(args, { ...o, env: { ...remote, ...o.env } }) });
}, 60_000);

afterAll(async () => {
  await serve.stop('SIGTERM');
});

async function post(path: string, body: unknown): Promise<unknown> {
  const res = await fetch(serve.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.ok, await res.clone().text()).toBe(true);
  return res.json();
}

/** Every sample of a gauge: the label set as JSON -> value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const labels: Record<string, string> = {};
    for (const l of (m[1] as string).matchAll(/(\w+)="([^"]*)"/g)) labels[l[1] as string] = l[2] as string;
    out.set(JSON.stringify(labels), Number(m[2]));
  }
  return out;
}

const scopeKey = (b: Budget) => JSON.stringify({ project: 'acme', scope: b.scope, user: b.userId ?? '', model: b.model ?? '', tag: '', period: b.period });
const runKey = (r: Run) => JSON.stringify({ project: 'acme', run: r.runId, label: r.label ?? '' });
const close = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) < 1e-12;

describe('serve /metrics spend gauges', () => {
  it('after a burst of records the gauges equal budget show --json and run list --status open --json', async () => {
    for (const args of [['--project', '5'], ['--user', 'u1', '0.05', '--period', 'day'], ['--user', 'u2', '2'], ['--model', 'm2', '1', '--period', 'week'], ['--default-user', '3']]) {
      const r = await cli(['budget', 'set', ...args]);
      expect(r.code, r.stderr).toBe(0);
    }
    const capped = (await cli(['run', 'start', '--cap', '0.5', '--label', 'nightly'])).stdout.trim();
    const free = (await cli(['run', 'start'])).stdout.trim();
    const ended = (await cli(['run', 'start', '--cap', '1'])).stdout.trim();
    expect((await cli(['run', 'end', ended])).code).toBe(0);

    // A clamped check on the capped run (its output bound does not fit the 0.5 cap), then the burst.
    const d = (await post('/v1/check', { model: 'm1', estimatedTokensIn: 1000, estimatedTokensOut: 1_000_000, runId: capped, clamp: true })) as { clamped: boolean };
    expect(d.clamped).toBe(true);
    const users = ['u1', 'u2', 'u3', null];
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        post('/v1/records', {
          records: [{ model: i % 3 === 0 ? 'm2' : 'm1', tokensIn: 1000 + i, tokensOut: 500 + 7 * i, endUserId: users[i % 4], runId: i % 5 === 0 ? capped : i % 5 === 1 ? free : null, idempotencyKey: `burst-${i}`, wasBlocked: false }],
        }),
      ),
    );

    const budgets = await cli.json<Budget[]>(['budget', 'show']);
    const runs = await cli.json<Run[]>(['run', 'list', '--status', 'open']);
    expect(budgets.filter((b) => b.scope !== 'default_user')).toHaveLength(4);
    expect(runs.map((r) => r.runId).sort()).toEqual([capped, free].sort());
    // The gauges are read at most once a second: wait (bounded) for a read after the burst.
    let text = '';
    const deadline = Date.now() + 20_000;
    const matches = (t: string) => {
      const spend = samples(t, 'noburn_budget_spend_usd');
      return budgets.every((b) => b.scope === 'default_user' || close(spend.get(scopeKey(b)), b.spentUsd));
    };
    while (!matches((text = await (await fetch(`${serve.url}/metrics`)).text()))) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const spend = samples(text, 'noburn_budget_spend_usd');
    const cap = samples(text, 'noburn_budget_cap_usd');
    const held = samples(text, 'noburn_budget_held_usd');
    const ratio = samples(text, 'noburn_budget_used_ratio');
    const shown = budgets.filter((b) => b.scope !== 'default_user');
    // Capped scopes only: default_user (a rule, no spend of its own) and uncapped users have no series.
    expect([...spend.keys()].sort()).toEqual(shown.map(scopeKey).sort());
    for (const b of shown) {
      const k = scopeKey(b);
      expect(spend.get(k), k).toBeCloseTo(b.spentUsd, 12);
      expect(cap.get(k), k).toBe(b.capUsd);
      expect(held.get(k), k).toBeCloseTo(b.heldUsd, 12);
      expect(ratio.get(k), k).toBeCloseTo(b.spentUsd / b.capUsd, 12);
    }
    expect(shown.find((b) => b.scope === 'project')?.spentUsd).toBeGreaterThan(0);

    // Open runs only; cap and ratio only for the run that has a cap.
    const runSpend = samples(text, 'noburn_run_spend_usd');
    expect([...runSpend.keys()].sort()).toEqual(runs.map(runKey).sort());
    for (const r of runs) expect(runSpend.get(runKey(r))).toBeCloseTo(r.spendUsd, 12);
    const c = runs.find((r) => r.runId === capped) as Run;
    expect([...samples(text, 'noburn_run_cap_usd').entries()]).toEqual([[runKey(c), 0.5]]);
    expect(samples(text, 'noburn_run_used_ratio').get(runKey(c))).toBeCloseTo(c.spendUsd / 0.5, 12);
    expect(samples(text, 'noburn_run_clamped_calls').get(runKey(c))).toBe(c.clampedCalls);
    expect(c.clampedCalls).toBe(1);
    expect(samples(text, 'noburn_run_over_holds').get(runKey(c))).toBe(c.overHolds);
    expect(text).toMatch(/^noburn_checks_clamped_total 1$/m);
    expect(text).toMatch(/^noburn_gauge_series_dropped 0$/m);
  });
  it('noburn_alerts_fired counts the alerts fired, by scope and threshold, as alerts list shows them', async () => {
    const set = await cli(['budget', 'set', '--user', 'ualert', '1', '--alert-at', '10,50,90']);
    expect(set.code, set.stderr).toBe(0);
    // Two records of $0.30 for the user: 60 % of the cap, past 10 and 50, short of 90.
    for (const i of [1, 2]) {
      const r = await cli(['record', '--model', 'm1', '--tokens-in', '1', '--tokens-out', '1', '--cost', '0.3', '--user', 'ualert', '--idempotency-key', `alert-${i}`]);
      expect(r.code, r.stderr).toBe(0);
    }
    const listed = await cli.json<{ scope: string; userId: string | null; threshold: number }[]>(['alerts', 'list']);
    const mine = listed.filter((a) => a.userId === 'ualert');
    expect(mine.map((a) => a.threshold).sort((a, b) => a - b)).toEqual([10, 50]);
    const want = new Map<string, number>();
    for (const a of listed) {
      const k = JSON.stringify({ project: 'acme', scope: a.scope, threshold: String(a.threshold) });
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    const text = await (await fetch(`${serve.url}/metrics`)).text();
    expect(samples(text, 'noburn_alerts_fired')).toEqual(want);
  });
});

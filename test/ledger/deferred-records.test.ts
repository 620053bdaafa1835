/**
 * One commit per call (docs/performance.md, "The proxy"): in a long-lived process a record
 * waits up to recordDelayMs for the next check, which writes it in its own transaction.
 * Its hold stays in the ledger until then, so another process never sees room that is not
 * there; an idle process writes it on the timer; flush()/endRun()/close() write what
 * waits; spend is the sum of the records.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { LocalAuthority } from '../../src/lib/authority/local-authority.js';
import { resolveConfig } from '../../src/lib/config.js';
import { NoburnGuard } from '../../src/lib/guard.js';

const ROOT = new URL('../..', import.meta.url).pathname;
// $1 per million tokens each way: 1000 nano-dollars a token.
const PRICES = { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } };

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(recordDelayMs: number): { home: string; guard: NoburnGuard; read: () => { spent: number; holds: number; records: number } } {
  const home = mkdtempSync(join(tmpdir(), 'nb-deferred-'));
  dirs.push(home);
  writeFileSync(join(home, 'config.json'), JSON.stringify({ prices: PRICES }));
  const config = resolveConfig({ home }, {});
  const guard = new NoburnGuard({ home, env: {}, authority: LocalAuthority.open(config, { longLived: true, recordDelayMs }) });
  // Another connection, as another process sees the file.
  const read = () => {
    const db = new Database(config.dbPath, { readonly: true });
    try {
      const spent = (db.prepare('SELECT coalesce(sum(cost_nano), 0) AS n FROM records').get() as { n: number }).n;
      const holds = (db.prepare('SELECT count(*) AS n FROM holds').get() as { n: number }).n;
      const records = (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
      return { spent, holds, records };
    } finally {
      db.close();
    }
  };
  return { home, guard, read };
}

async function call(guard: NoburnGuard, runId: string, tokensOut: number): Promise<void> {
  const d = await guard.check({ model: 'test-model', estimatedTokensIn: 100, estimatedTokensOut: 1000, runId, clamp: true });
  expect(d.blocked).toBe(false);
  guard.record({ model: 'test-model', tokensIn: 100, tokensOut, runId, reservationId: d.reservationId });
}

const tick = () => new Promise<void>((r) => setImmediate(r));

it('a record waits for the next check and is written in its transaction, its hold standing until then', async () => {
  const { guard, read } = setup(60_000);
  try {
    const { runId } = await guard.startRun({ budgetCapUsd: 1 });
    await call(guard, runId, 10);
    await tick();
    // Not written yet (the timer is a minute away): the hold still counts the call.
    expect(read()).toEqual({ spent: 0, holds: 1, records: 0 });
    await call(guard, runId, 20);
    // The second check wrote the first record (and holds its own call).
    expect(read()).toEqual({ spent: 110_000, holds: 1, records: 1 });
    await guard.flush();
    expect(read()).toEqual({ spent: 230_000, holds: 0, records: 2 });
  } finally {
    await guard.close();
  }
});

it('an idle process writes its waiting record on the timer', async () => {
  const { guard, read } = setup(50);
  try {
    const { runId } = await guard.startRun({ budgetCapUsd: 1 });
    await call(guard, runId, 10);
    await tick();
    expect(read().records).toBe(0);
    // No check comes: the timer writes it (polled: a loaded machine may run the timer late).
    const until = Date.now() + 10_000;
    while (read().records === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(read()).toEqual({ spent: 110_000, holds: 0, records: 1 });
  } finally {
    await guard.close();
  }
});

it('records waiting at run end are all written, and spend is the sum of the records (16 calls in flight)', async () => {
  const { guard, read } = setup(60_000);
  try {
    const { runId } = await guard.startRun({ budgetCapUsd: 10 });
    let sum = 0;
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 20; i++) {
          const out = 1 + ((w * 31 + i * 7) % 900);
          sum += (100 + out) * 1000;
          await call(guard, runId, out);
        }
      }),
    );
    const ended = await guard.endRun(runId);
    expect(read()).toEqual({ spent: sum, holds: 0, records: 320 });
    expect(Math.round(ended.spendUsd * 1e9)).toBe(sum);
    expect(ended.calls).toBe(320);
  } finally {
    await guard.close();
  }
});

it('another process checking while a record waits sees the hold: no room that is not there', async () => {
  const { home, guard, read } = setup(60_000);
  const script = join(home, 'other.mts');
  // The other process: one check of 600 output tokens under the same run, printed as JSON.
  writeFileSync(
    script,
    `import { NoburnGuard } from ${JSON.stringify(join(ROOT, 'src/lib/guard.ts'))};
const g = new NoburnGuard({ home: process.argv[2], env: {} });
const d = await g.check({ model: 'test-model', estimatedTokensIn: 100, estimatedTokensOut: 600, runId: process.argv[3] });
await g.close();
process.stdout.write(JSON.stringify({ blocked: d.blocked, reason: d.blockReason, source: d.source }));`,
  );
  const other = (runId: string) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, home, runId], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { blocked: boolean; reason: string | null; source: string };
  };
  try {
    // A run cap of $0.0012: this process holds $0.0011 (100 in + 1000 out), then uses $0.00011.
    const { runId } = await guard.startRun({ budgetCapUsd: 0.0012 });
    await call(guard, runId, 10);
    await tick();
    expect(read()).toEqual({ spent: 0, holds: 1, records: 0 });
    // $0.0007 does not fit beside the hold, though it would beside the record's real cost.
    expect(other(runId)).toEqual({ blocked: true, reason: 'run_budget_exceeded', source: 'ledger' });
    await guard.flush();
    expect(read()).toEqual({ spent: 110_000, holds: 0, records: 1 });
    expect(other(runId)).toMatchObject({ blocked: false, source: 'ledger' });
  } finally {
    await guard.close();
  }
}, 120_000);

it('checks that arrive together are decided in one transaction, in order, as one by one', async () => {
  const { guard, read } = setup(60_000);
  try {
    // Room for exactly 3 holds of $0.0011 under a $0.0035 run cap: 16 checks at once, 3 allowed.
    const { runId } = await guard.startRun({ budgetCapUsd: 0.0035 });
    const ds = await Promise.all(Array.from({ length: 16 }, () => guard.check({ model: 'test-model', estimatedTokensIn: 100, estimatedTokensOut: 1000, runId })));
    expect(ds.filter((d) => !d.blocked)).toHaveLength(3);
    expect(ds.slice(0, 3).every((d) => !d.blocked)).toBe(true);
    expect(new Set(ds.slice(3).map((d) => d.blockReason))).toEqual(new Set(['run_budget_exceeded']));
    expect(read().holds).toBe(3);
  } finally {
    await guard.close();
  }
});

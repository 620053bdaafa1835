/**
 * Ledger.rehearse (the warm-up of a long-lived process): a check and its record are run
 * through the SQLite store's real path inside a transaction that is rolled back, so every
 * table is byte for byte as it was, holds and spend included, and the next real check is
 * decided as if no rehearsal had happened.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Ledger } from '../../src/lib/ledger/ledger.js';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import { P, PRICES, T0, rec, record } from './harness.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dump(store: SqliteStore): Record<string, unknown[]> {
  const tables = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
  return Object.fromEntries(tables.map(({ name }) => [name, store.db.prepare(`SELECT * FROM "${name}"`).all()]));
}

it('rehearse changes no table, and the next check decides as without it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nb-rehearse-'));
  dirs.push(dir);
  const store = new SqliteStore(join(dir, 'l.db'), { checkpointEveryMs: 1000 });
  const ledger = new Ledger(store, { prices: PRICES, fallbackPrice: null, unknownModel: 'block', holdTtlMs: 600_000 }, { now: () => T0 });
  try {
    await ledger.setBudget(P, { scope: 'project', capUsd: 1, period: 'month' });
    await ledger.setBudget(P, { scope: 'default_user', capUsd: 0.5, period: 'day' });
    const run = await ledger.startRun(P, { budgetCapUsd: 0.01 });
    const held = await ledger.check(P, { model: 'test-model', tokensIn: 4000, tokensOut: 0, userId: 'u1', runId: run.runId });
    expect(held.blocked).toBe(false);
    const before = dump(store);

    await ledger.rehearse(P, { model: 'noburn-rehearsal', tokensIn: 1, tokensOut: 1, userId: null, runId: run.runId, clamp: true, minTokensOut: null, provider: null, tokensInSource: 'tokenizer', tags: [] });

    expect(dump(store)).toEqual(before);
    // $0.004 held of the run's $0.01: $0.006 still fits, $0.007 does not.
    expect((await ledger.check(P, { model: 'test-model', tokensIn: 7000, tokensOut: 0, userId: 'u1', runId: run.runId })).blockReason).toBe('run_budget_exceeded');
    expect((await ledger.check(P, { model: 'test-model', tokensIn: 6000, tokensOut: 0, userId: 'u1', runId: run.runId })).blocked).toBe(false);
  } finally {
    await store.close();
  }
});

it('rehearse settles its record as a real one is settled, alerts included, and keeps none of it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nb-rehearse-'));
  dirs.push(dir);
  const store = new SqliteStore(join(dir, 'l.db'), { checkpointEveryMs: 1000 });
  const ledger = new Ledger(store, { prices: PRICES, fallbackPrice: null, unknownModel: 'block', holdTtlMs: 600_000 }, { now: () => T0 });
  try {
    // A run whose 1 % threshold any recorded cent reaches: the rehearsal's record (2 tokens at $1 per million) would fire it.
    const run = await ledger.startRun(P, { budgetCapUsd: 0.000001, alertAt: [1] });
    const before = dump(store);
    await ledger.rehearse(P, { model: 'noburn-rehearsal', tokensIn: 1, tokensOut: 1, userId: null, runId: run.runId, clamp: true, minTokensOut: null, provider: null, tokensInSource: 'tokenizer', tags: [] });
    expect(dump(store)).toEqual(before);
    expect(await ledger.alerts(P)).toEqual([]);
    // Control: a real record of that cost fires the run's alert.
    await record(ledger, rec({ usd: 0.000002, runId: run.runId }));
    expect((await ledger.alerts(P)).map((a) => a.threshold)).toEqual([1]);
  } finally {
    await store.close();
  }
});

it('rehearse of an owned run (leased) takes, raises, settles and ends a lease in the rolled-back transaction: no table changes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nb-rehearse-'));
  dirs.push(dir);
  const store = new SqliteStore(join(dir, 'l.db'), { checkpointEveryMs: 1000 });
  const ledger = new Ledger(store, { prices: PRICES, fallbackPrice: null, unknownModel: 'block', holdTtlMs: 600_000 }, { now: () => T0 });
  try {
    const run = await ledger.startRun(P, { budgetCapUsd: 1 });
    const before = dump(store);
    // Inside the rehearsal the lease is really granted: its rows are seen within the transaction.
    const seen: number[] = [];
    const inserts = store.db.prepare("SELECT count(*) AS n FROM holds WHERE id LIKE 'L\\_%' ESCAPE '\\'");
    const settle = store.runLeases.rehearse.bind(store.runLeases);
    store.runLeases.rehearse = (c, s) => settle(c, (id) => {
      seen.push((inserts.get() as { n: number }).n);
      s(id);
    });
    await ledger.rehearse(P, { model: 'noburn-rehearsal', tokensIn: 1, tokensOut: 1, userId: null, runId: run.runId, clamp: true, minTokensOut: null, provider: null, tokensInSource: 'tokenizer', tags: [] }, true);
    expect(seen).toEqual([2]);
    expect(dump(store)).toEqual(before);
  } finally {
    await store.close();
  }
});

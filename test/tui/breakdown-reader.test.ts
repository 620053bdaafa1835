/**
 * The dashboard reader's spend by model on a real SQLite ledger written by the real store:
 * the models panel (the project's window), a user's breakdown (the window of the cap that
 * applies to them, from the per-user-and-model usage rows), and a run's (its whole life,
 * nested runs included, blocked checks counted per model).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DashboardReader } from '../../src/lib/dashboard/reader.js';
import { MIN, NOW, USD, tempLedger } from './fixtures.js';
import type { TempLedger } from './fixtures.js';

const DAY = 86_400_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function populated(): Promise<{ l: TempLedger; r: DashboardReader }> {
  const l = tempLedger();
  cleanups.push(() => l.dispose());
  const s = l.store;
  await s.setBudget({ projectId: 'default', scope: 'project', userId: null, capNano: 50 * USD, period: 'month', now: NOW - 2 * DAY });
  await s.setBudget({ projectId: 'default', scope: 'default_user', userId: null, capNano: 5 * USD, period: 'day', now: NOW - 2 * DAY });
  await s.startRun({ projectId: 'default', runId: 'run_a', capNano: 1 * USD, label: 'parent', now: NOW - 2 * DAY });
  // yesterday: in the month (the project's window), not in alice's day
  await l.record({ userId: 'alice', model: 'gpt-4o', costNano: 4 * USD, ts: NOW - DAY });
  await s.startRun({ projectId: 'default', runId: 'run_b', capNano: null, label: null, parentRunId: 'run_a', now: NOW - 20 * MIN });
  await l.record({ userId: 'alice', model: 'gpt-4o', costNano: 1 * USD, ts: NOW - 10 * MIN });
  await l.record({ userId: 'alice', model: 'gpt-4o-mini', costNano: 0.5 * USD, ts: NOW - 9 * MIN, unpriced: false });
  // "al" is a prefix of "alice": its rows are not alice's
  await l.record({ userId: 'al', model: 'claude-3-5-haiku', costNano: 0.25 * USD, ts: NOW - 8 * MIN });
  await l.record({ userId: 'bob', runId: 'run_a', model: 'gpt-4o', costNano: 0.3 * USD, ts: NOW - 7 * MIN });
  await l.record({ userId: 'bob', runId: 'run_b', model: 'claude-3-5-haiku', costNano: 0.2 * USD, ts: NOW - 6 * MIN });
  // blocked: alice's day cap ($5) on gpt-4o-mini; run_a's cap ($1) on gpt-4o through run_b
  const blocked = (userId: string, runId: string | null, model: string, estimateNano: number, now: number) =>
    s.check({ projectId: 'default', userId, runId, model, tokensIn: 10, tokensOut: 10, unpriced: false, holdTtlMs: MIN, estimateNano, now });
  expect((await blocked('alice', null, 'gpt-4o-mini', 4 * USD, NOW - 5 * MIN)).blockReason).toBe('user_budget_exceeded');
  expect((await blocked('bob', 'run_b', 'gpt-4o', 0.6 * USD, NOW - 4 * MIN)).blockReason).toBe('run_budget_exceeded');
  // another project's spend is not ours
  await l.record({ projectId: 'other', userId: 'alice', runId: null, model: 'gpt-4o', costNano: 9 * USD, ts: NOW - MIN });
  const r = new DashboardReader({ dbPath: l.dbPath, projectId: 'default' });
  cleanups.push(() => r.close());
  return { l, r };
}

describe('DashboardReader: spend by model', () => {
  it('the models panel: the project window (the month), most spent first', async () => {
    const { r } = await populated();
    const s = r.read(NOW);
    expect(s.models.map((m) => [m.model, m.spentNano, m.calls, m.blockedCalls])).toEqual([
      ['gpt-4o', 5.3 * USD, 3, 1],
      ['gpt-4o-mini', 0.5 * USD, 1, 1],
      ['claude-3-5-haiku', 0.45 * USD, 2, 0],
    ]);
    expect(s.modelsTotal).toBe(3);
    expect(s.detail).toBeNull();
    // the panel's limit keeps the most spent; the total still counts them all
    const small = new DashboardReader({ dbPath: s.dbPath, projectId: 'default', modelLimit: 1 });
    cleanups.push(() => small.close());
    const t = small.read(NOW);
    expect([t.models.map((m) => m.model), t.modelsTotal]).toEqual([['gpt-4o'], 3]);
  });

  it("a user's breakdown: the window of their cap (today), their rows only", async () => {
    const { r } = await populated();
    const d = r.read(NOW, { detail: { kind: 'user', id: 'alice' } }).detail;
    expect(d).toMatchObject({ kind: 'user', id: 'alice', found: true, period: 'day', spentNano: 1.5 * USD, capNano: 5 * USD });
    expect(d?.models.map((m) => [m.model, m.spentNano, m.calls, m.blockedCalls, m.lastAt])).toEqual([
      ['gpt-4o', 1 * USD, 1, 0, NOW - 10 * MIN],
      ['gpt-4o-mini', 0.5 * USD, 1, 1, NOW - 5 * MIN],
    ]);
    expect(r.read(NOW, { detail: { kind: 'user', id: 'al' } }).detail?.models.map((m) => m.model)).toEqual(['claude-3-5-haiku']);
    expect(r.read(NOW, { detail: { kind: 'user', id: 'nobody' } }).detail).toMatchObject({ found: false, models: [] });
  });

  it("a run's breakdown: its whole life, its nested run's records and blocked checks included", async () => {
    const { l, r } = await populated();
    const a = r.read(NOW, { detail: { kind: 'run', id: 'run_a' } }).detail;
    expect(a).toMatchObject({ kind: 'run', id: 'run_a', found: true, spentNano: 0.5 * USD, capNano: 1 * USD });
    expect(a?.models.map((m) => [m.model, m.spentNano, m.calls, m.blockedCalls])).toEqual([
      ['gpt-4o', 0.3 * USD, 1, 1],
      ['claude-3-5-haiku', 0.2 * USD, 1, 0],
    ]);
    const b = r.read(NOW, { detail: { kind: 'run', id: 'run_b' } }).detail;
    expect(b?.models.map((m) => [m.model, m.spentNano, m.blockedCalls])).toEqual([
      ['claude-3-5-haiku', 0.2 * USD, 0],
      ['gpt-4o', 0, 1],
    ]);
    // a new record moves the run's figures: the breakdown is read again
    await l.record({ userId: 'bob', runId: 'run_a', model: 'gpt-4o-mini', costNano: 0.1 * USD, ts: NOW - MIN });
    expect(r.changed()).toBe(true);
    const again = r.read(NOW, { detail: { kind: 'run', id: 'run_a' } }).detail;
    expect(again?.models.map((m) => [m.model, m.spentNano])).toEqual([
      ['gpt-4o', 0.3 * USD],
      ['claude-3-5-haiku', 0.2 * USD],
      ['gpt-4o-mini', 0.1 * USD],
    ]);
    expect(r.read(NOW, { detail: { kind: 'run', id: 'run_gone' } }).detail).toMatchObject({ found: false, models: [] });
  });

  it('by tag: a user\'s window and a run\'s life, a call under each of its tags, untagged calls as ""', async () => {
    const { l, r } = await populated();
    await l.record({ userId: 'carol', runId: 'run_a', model: 'gpt-4o', costNano: 0.04 * USD, ts: NOW - 3 * MIN, tags: ['feature=chat', 'team=core'] });
    await l.record({ userId: 'carol', runId: 'run_b', model: 'gpt-4o-mini', costNano: 0.02 * USD, ts: NOW - 2 * MIN, tags: ['feature=search'] });
    await l.record({ userId: 'carol', model: 'gpt-4o', costNano: 0.01 * USD, ts: NOW - MIN });
    // yesterday: outside carol's day (the default cap's window)
    await l.record({ userId: 'carol', model: 'gpt-4o', costNano: 1 * USD, ts: NOW - DAY + MIN, tags: ['feature=old'] });
    const user = r.read(NOW, { detail: { kind: 'user', id: 'carol' } }).detail;
    expect(user?.tags).toEqual([
      { tag: 'feature=chat', spentNano: 0.04 * USD, calls: 1 },
      { tag: 'team=core', spentNano: 0.04 * USD, calls: 1 },
      { tag: 'feature=search', spentNano: 0.02 * USD, calls: 1 },
      { tag: '', spentNano: 0.01 * USD, calls: 1 },
    ]);
    const run = r.read(NOW, { detail: { kind: 'run', id: 'run_a' } }).detail;
    expect(run?.tags).toEqual([
      { tag: '', spentNano: 0.5 * USD, calls: 2 },
      { tag: 'feature=chat', spentNano: 0.04 * USD, calls: 1 },
      { tag: 'team=core', spentNano: 0.04 * USD, calls: 1 },
      { tag: 'feature=search', spentNano: 0.02 * USD, calls: 1 },
    ]);
    // the models of a run add up across its tag groups
    expect(run?.models.find((m) => m.model === 'gpt-4o')).toMatchObject({ spentNano: 0.34 * USD, calls: 2, blockedCalls: 1 });
  });
});

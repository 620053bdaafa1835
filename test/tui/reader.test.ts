import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DashboardReader } from '../../src/lib/dashboard/reader.js';
import { MIN, NOW, USD, tempLedger } from './fixtures.js';
import type { TempLedger } from './fixtures.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function ledger(): TempLedger {
  const l = tempLedger();
  cleanups.push(() => l.dispose());
  return l;
}

function reader(dbPath: string, projectId = 'default'): DashboardReader {
  const r = new DashboardReader({ dbPath, projectId });
  cleanups.push(() => r.close());
  return r;
}

const check = (l: TempLedger, over: { userId?: string | null; runId?: string | null; estimateNano: number; now: number; projectId?: string }) =>
  l.store.check({ projectId: 'default', userId: null, runId: null, model: 'gpt-4o', tokensIn: 10, tokensOut: 10, unpriced: false, holdTtlMs: 10 * MIN, ...over });

describe('DashboardReader: missing, empty and broken ledgers', () => {
  it('a missing ledger is a message, and the reader does not create the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'noburn-tui-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'noburn.db');
    const r = reader(path);
    expect(r.changed()).toBe(true);
    expect(r.changed()).toBe(false);
    const s = r.read(NOW);
    expect(s.status).toBe('missing');
    expect(s.message).toBe(`No ledger at ${path} yet: it is created by the first noburn check, record or run.`);
    expect(existsSync(path)).toBe(false);
  });

  it('an empty file (not migrated yet) is an empty ledger; a new ledger with no spend too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'noburn-tui-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'noburn.db');
    writeFileSync(path, '');
    const r = reader(path);
    expect(r.read(NOW).status).toBe('empty');
    const l = ledger();
    const s = reader(l.dbPath).read(NOW);
    expect(s.status).toBe('empty');
    expect(s.message).toBe('No spend recorded yet for project "default".');
  });

  it('a file that is not a database is an error message, never a throw', () => {
    const dir = mkdtempSync(join(tmpdir(), 'noburn-tui-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'noburn.db');
    writeFileSync(path, 'this is not sqlite '.repeat(100));
    const s = reader(path).read(NOW);
    expect(s.status).toBe('error');
    expect(s.message).toMatch(/^Cannot (open|read) the ledger .*noburn\.db: file is not a database$/);
  });

  it('notices the ledger appearing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'noburn-tui-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const r = reader(join(dir, 'noburn.db'));
    r.changed();
    expect(r.changed()).toBe(false);
    const { SqliteStore } = await import('../../src/lib/ledger/sqlite/sqlite-store.js');
    const store = new SqliteStore(join(dir, 'noburn.db'));
    cleanups.push(() => store.close());
    expect(r.changed()).toBe(true);
    expect(r.read(NOW).status).toBe('empty');
  });
});

describe('DashboardReader: the figures', () => {
  async function populated(): Promise<TempLedger> {
    const l = ledger();
    const s = l.store;
    await s.setBudget({ projectId: 'default', scope: 'project', userId: null, capNano: 50 * USD, period: 'month', now: NOW - DAY });
    await s.setBudget({ projectId: 'default', scope: 'default_user', userId: null, capNano: 5 * USD, period: 'day', now: NOW - DAY });
    await s.setBudget({ projectId: 'default', scope: 'user', userId: 'alice', capNano: 20 * USD, period: 'week', now: NOW - DAY });
    await s.setBudget({ projectId: 'default', scope: 'user', userId: 'zoe', capNano: 1 * USD, period: 'day', now: NOW - DAY });
    // Written in time order, as writers append (the burn rate's first read relies on it).
    await s.startRun({ projectId: 'default', runId: 'run_old', capNano: null, label: null, now: NOW - 2 * DAY });
    // yesterday: counts in the week and the month, not today
    await l.record({ userId: 'alice', costNano: 3 * USD, ts: NOW - DAY });
    await l.record({ userId: 'bob', costNano: 2 * USD, ts: NOW - DAY });
    await s.endRun('default', 'run_old', NOW - DAY + HOUR);
    await s.startRun({ projectId: 'default', runId: 'run_tight', capNano: 0.1 * USD, label: null, now: NOW - 2 * HOUR });
    await s.startRun({ projectId: 'default', runId: 'run_open', capNano: 1 * USD, label: 'nightly', now: NOW - HOUR });
    // today
    await l.record({ runId: 'run_tight', costNano: 0.09 * USD, ts: NOW - 30 * MIN });
    await l.record({ userId: 'carol', costNano: 0, unpriced: true, ts: NOW - 20 * MIN });
    await l.record({ userId: 'bob', costNano: 2 * USD, ts: NOW - 10 * MIN });
    await l.record({ userId: 'bob', costNano: 1 * USD, ts: NOW - 4 * MIN });
    await l.record({ userId: 'alice', runId: 'run_open', costNano: 0.5 * USD, ts: NOW - 1 * MIN });
    // an open hold for alice, a blocked check for bob (day cap), one for the tight run
    await check(l, { userId: 'alice', estimateNano: 0.25 * USD, now: NOW - 30_000 });
    expect((await check(l, { userId: 'bob', estimateNano: 3 * USD, now: NOW - 20_000 })).blockReason).toBe('user_budget_exceeded');
    expect((await check(l, { runId: 'run_tight', estimateNano: 0.05 * USD, now: NOW - 10_000 })).blockReason).toBe('run_budget_exceeded');
    // another project's spend is not ours
    await l.record({ projectId: 'other', userId: 'alice', costNano: 9 * USD, ts: NOW - MIN });
    return l;
  }

  it('project spend vs cap in the current window, holds, counts, unpriced', async () => {
    const s = reader((await populated()).dbPath).read(NOW);
    expect(s.status).toBe('ok');
    expect(s.project).toEqual({
      capNano: 50 * USD,
      period: 'month',
      windowStart: Date.UTC(2026, 10, 1),
      windowEnd: Date.UTC(2026, 11, 1),
      spentNano: 8.59 * USD,
      heldNano: 0.25 * USD,
      calls: 7,
      blockedCalls: 2,
      unpricedCalls: 1,
      lastAt: NOW - 10_000, // blocked checks are activity too
    });
    expect(s.unpricedTotal).toBe(1);
  });

  it('users: the window of the cap that applies (own, default, none), held, blocked, last activity', async () => {
    const s = reader((await populated()).dbPath).read(NOW);
    const byId = Object.fromEntries(s.users.map((u) => [u.userId, u]));
    expect(Object.keys(byId).sort()).toEqual(['alice', 'bob', 'carol', 'zoe']);
    // alice: own weekly cap; the week (Mon 23 Nov) holds yesterday's and today's spend
    expect(byId['alice']).toEqual({ userId: 'alice', spentNano: 3.5 * USD, heldNano: 0.25 * USD, capNano: 20 * USD, period: 'week', capSource: 'user', calls: 2, blockedCalls: 0, unpricedCalls: 0, lastAt: NOW - MIN });
    // bob: the default daily cap; today only
    expect(byId['bob']).toMatchObject({ spentNano: 3 * USD, capNano: 5 * USD, period: 'day', capSource: 'default', calls: 2, blockedCalls: 1, lastAt: NOW - 20_000 });
    expect(byId['carol']).toMatchObject({ spentNano: 0, calls: 1, unpricedCalls: 1, capSource: 'default' });
    // zoe has a cap and no spend yet
    expect(byId['zoe']).toMatchObject({ spentNano: 0, capNano: 1 * USD, capSource: 'user', calls: 0, lastAt: null });
  });

  it('runs: open first (newest first), then ended; exhausted; filter by id or label', async () => {
    const l = await populated();
    const r = reader(l.dbPath);
    const s = r.read(NOW);
    expect(s.runs.map((x) => [x.runId, x.status])).toEqual([
      ['run_open', 'open'],
      ['run_tight', 'exhausted'],
      ['run_old', 'ended'],
    ]);
    expect(s.runsTotal).toBe(3);
    expect(s.runsOpen).toBe(2);
    expect(s.runs[0]).toMatchObject({ label: 'nightly', open: true, capNano: 1 * USD, spentNano: 0.5 * USD, calls: 1, startedAt: NOW - HOUR, endedAt: null });
    expect(s.runs[1]).toMatchObject({ open: true, exhausted: true, spentNano: 0.09 * USD, blockedCalls: 1 });
    expect(s.runs[2]).toMatchObject({ open: false, endedAt: NOW - DAY + HOUR, spentNano: 0 });
    expect(r.read(NOW, { runFilter: 'NIGHT' }).runs.map((x) => x.runId)).toEqual(['run_open']);
    expect(r.read(NOW, { runFilter: 'run_' }).runs).toHaveLength(3);
  });

  it('runs not open (ended and abandoned alike) follow the open ones newest first, within the run limit', async () => {
    const l = ledger();
    const s = l.store;
    // Started an hour apart, oldest first; run_0 and run_3 are then abandoned, run_1, 2, 4
    // and 5 ended, and the last two stay open.
    for (let i = 0; i < 8; i++) await s.startRun({ projectId: 'default', runId: `run_${i}`, capNano: null, label: null, now: NOW - (8 - i) * HOUR });
    for (const i of [1, 2, 4, 5]) await s.endRun('default', `run_${i}`, NOW - MIN);
    // Abandoned the way the ledger's idle-TTL sweep writes it.
    const db = new Database(l.dbPath);
    db.prepare("UPDATE runs SET status = 'abandoned', ended_at = ? WHERE id IN ('run_0', 'run_3')").run(NOW - MIN);
    db.close();
    const all = reader(l.dbPath).read(NOW);
    expect(all.runs.map((x) => [x.runId, x.status])).toEqual([
      ['run_7', 'open'],
      ['run_6', 'open'],
      ['run_5', 'ended'],
      ['run_4', 'ended'],
      ['run_3', 'ended'],
      ['run_2', 'ended'],
      ['run_1', 'ended'],
      ['run_0', 'ended'],
    ]);
    const limited = new DashboardReader({ dbPath: l.dbPath, projectId: 'default', runLimit: 5 });
    cleanups.push(() => limited.close());
    expect(limited.read(NOW).runs.map((x) => x.runId)).toEqual(['run_7', 'run_6', 'run_5', 'run_4', 'run_3']);
    expect(limited.read(NOW, { runFilter: 'run_' }).runs.map((x) => x.runId)).toEqual(['run_7', 'run_6', 'run_5', 'run_4', 'run_3']);
  });

  it('blocked feed: newest first, with reasons (an exhausted run ending is not a decision)', async () => {
    const l = await populated();
    await l.store.endRun('default', 'run_tight', NOW - 5000);
    const s = reader(l.dbPath).read(NOW);
    expect(s.blocked.map((b) => [b.reason, b.userId, b.runId, b.amountNano, b.ts])).toEqual([
      ['run_budget_exceeded', null, 'run_tight', 0.05 * USD, NOW - 10_000],
      ['user_budget_exceeded', 'bob', null, 3 * USD, NOW - 20_000],
    ]);
  });

  it('burn rate over the last 5 minutes, sparkline over 15, projected exhaustion', async () => {
    const s = reader((await populated()).dbPath).read(NOW);
    // last 5 min: $0.50 + $1.00; the $2.00 (10 min ago) and $0.09 (30 min ago) are older
    expect(s.burn.rateNanoPerMin).toBe(0.3 * USD);
    expect(s.burn.buckets).toHaveLength(30);
    expect(s.burn.buckets.reduce((a, b) => a + b, 0)).toBe(3.5 * USD);
    // left: 50 - 8.59 - 0.25 = 41.16 at $0.30/min = 137.2 min
    expect(s.burn.exhaustion).toEqual({ kind: 'at', atMs: NOW + 137.2 * MIN });
  });
});

describe('DashboardReader: live updates', () => {
  it('notices another connection\'s commit with data_version and re-reads only what changed', async () => {
    const l = ledger();
    await l.store.setBudget({ projectId: 'default', scope: 'default_user', userId: null, capNano: 5 * USD, period: 'day', now: NOW - DAY });
    for (let i = 0; i < 50; i++) await l.record({ userId: `u${i}`, costNano: (i + 1) * 1000, ts: NOW - 20 * MIN });
    const r = reader(l.dbPath);
    expect(r.changed()).toBe(true);
    const first = r.read(NOW);
    expect(first.users).toHaveLength(50);
    expect(r.changed()).toBe(false);

    await l.record({ userId: 'u7', runId: null, costNano: 1.25 * USD, ts: NOW + 1000 });
    await l.record({ userId: 'newcomer', costNano: 0.5 * USD, ts: NOW + 2000 });
    expect(r.changed()).toBe(true);
    const s = r.read(NOW + 3000);
    const byId = new Map(s.users.map((u) => [u.userId, u]));
    expect(byId.get('u7')).toMatchObject({ spentNano: 1.25 * USD + 8000, calls: 2, lastAt: NOW + 1000 });
    expect(byId.get('newcomer')).toMatchObject({ spentNano: 0.5 * USD, calls: 1 });
    expect(byId.get('u3')).toEqual(first.users.find((u) => u.userId === 'u3'));
    expect(s.users).toHaveLength(51);
    expect(s.burn.rateNanoPerMin).toBe(1.75 * USD / 5);
    expect(r.changed()).toBe(false);
  });

  it('a new UTC day starts the daily windows again', async () => {
    const l = ledger();
    await l.store.setBudget({ projectId: 'default', scope: 'default_user', userId: null, capNano: 5 * USD, period: 'day', now: NOW - DAY });
    await l.record({ userId: 'u1', costNano: 2 * USD, ts: NOW });
    const r = reader(l.dbPath);
    expect(r.read(NOW).users[0]?.spentNano).toBe(2 * USD);
    const tomorrow = Date.UTC(2026, 10, 29, 0, 0, 1);
    expect(r.read(tomorrow).users[0]).toMatchObject({ spentNano: 0, calls: 0, lastAt: NOW });
    await l.record({ userId: 'u1', costNano: 1 * USD, ts: tomorrow });
    expect(r.read(tomorrow).users[0]).toMatchObject({ spentNano: 1 * USD, calls: 1 });
  });

  it('holds stop counting when they expire, without any write', async () => {
    const l = ledger();
    await l.store.setBudget({ projectId: 'default', scope: 'project', userId: null, capNano: 5 * USD, period: 'day', now: NOW - DAY });
    await check(l, { userId: 'u1', estimateNano: 1 * USD, now: NOW });
    const r = reader(l.dbPath);
    expect(r.read(NOW).project.heldNano).toBe(1 * USD);
    expect(r.read(NOW + 10 * MIN).project.heldNano).toBe(0);
  });

  it('never takes a write lock: a writer holding BEGIN IMMEDIATE does not stop it, and it cannot write', async () => {
    const l = ledger();
    await l.record({ userId: 'u1', costNano: 1 * USD, ts: NOW });
    const r = reader(l.dbPath);
    r.read(NOW);
    expect(r.changed()).toBe(true); // the first call
    const w = new Database(l.dbPath);
    cleanups.push(() => {
      w.close();
    });
    w.exec('BEGIN IMMEDIATE');
    w.prepare("UPDATE usage SET spent_nano = spent_nano + 1 WHERE scope = 'project'").run();
    expect(r.changed()).toBe(false); // uncommitted: not visible
    expect(r.read(NOW).project.spentNano).toBe(1 * USD);
    w.exec('COMMIT');
    expect(r.changed()).toBe(true);
    expect(r.read(NOW).project.spentNano).toBe(1 * USD + 1);
    // the reader's own connection is read-only
    const ro = new Database(l.dbPath, { readonly: true, fileMustExist: true });
    cleanups.push(() => {
      ro.close();
    });
    expect(() => ro.exec('DELETE FROM usage')).toThrow(/readonly/);
  });
});

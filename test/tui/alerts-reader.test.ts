/**
 * The dashboard reader's alert thresholds and fired alerts per scope. A ledger that keeps
 * alerts has `alert_at` on budgets and runs and an `alerts` table (one row per cap, window
 * and threshold fired); the rows are written here with SQL in that shape (created if this
 * build's migrations do not have them), beside a real ledger written by the real store.
 * A ledger without them shows no thresholds (the reader tests' toEqual on the project).
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { parseThresholds } from '../../src/lib/dashboard/alerts.js';
import { DashboardReader } from '../../src/lib/dashboard/reader.js';
import { windowKey } from '../../src/lib/periods.js';
import { MIN, NOW, USD, tempLedger } from './fixtures.js';

const DAY = 86_400_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function withAlertColumns(db: Database.Database): void {
  const has = (t: string, c: string) => (db.pragma(`table_info(${t})`) as { name: string }[]).some((x) => x.name === c);
  if (!has('budgets', 'alert_at')) db.exec('ALTER TABLE budgets ADD COLUMN alert_at TEXT');
  if (!has('runs', 'alert_at')) db.exec('ALTER TABLE runs ADD COLUMN alert_at TEXT');
  db.exec(`CREATE TABLE IF NOT EXISTS alerts (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL,
    scope TEXT NOT NULL, subject TEXT NOT NULL, window TEXT NOT NULL, threshold INTEGER NOT NULL, spent_nano INTEGER NOT NULL,
    cap_nano INTEGER NOT NULL, period TEXT NOT NULL, fired_at INTEGER NOT NULL, next_at INTEGER NOT NULL,
    UNIQUE (project_id, scope, subject, window, threshold))`);
}

let n = 0;
function fire(db: Database.Database, scope: string, subject: string, window: string, threshold: number, projectId = 'default'): void {
  db.prepare('INSERT INTO alerts (id, project_id, scope, subject, window, threshold, spent_nano, cap_nano, period, fired_at, next_at) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?)').run(
    `alr_${++n}`, projectId, scope, subject, window, threshold, 'day', NOW, NOW,
  );
}

describe('DashboardReader: alert thresholds per scope', () => {
  it('parses thresholds: ascending, deduplicated, nothing valid is none', () => {
    expect(parseThresholds('80,50,80,100')).toEqual([50, 80, 100]);
    expect([parseThresholds(''), parseThresholds(null), parseThresholds('x,')]).toEqual([undefined, undefined, undefined]);
  });

  it("project, users (own cap, else the default's) and runs: thresholds, and what fired in the current window", async () => {
    const l = tempLedger();
    cleanups.push(() => l.dispose());
    const s = l.store;
    await s.setBudget({ projectId: 'default', scope: 'project', userId: null, capNano: 10 * USD, period: 'month', now: NOW - DAY });
    await s.setBudget({ projectId: 'default', scope: 'default_user', userId: null, capNano: 5 * USD, period: 'day', now: NOW - DAY });
    await s.setBudget({ projectId: 'default', scope: 'user', userId: 'alice', capNano: 2 * USD, period: 'day', now: NOW - DAY });
    await s.startRun({ projectId: 'default', runId: 'run_a', capNano: 1 * USD, label: null, now: NOW - DAY });
    await s.startRun({ projectId: 'default', runId: 'run_b', capNano: 1 * USD, label: null, now: NOW - DAY });
    await l.record({ userId: 'alice', costNano: 1.7 * USD, ts: NOW - 2 * MIN });
    await l.record({ userId: 'bob', runId: 'run_a', costNano: 0.9 * USD, ts: NOW - MIN });
    await l.record({ userId: 'carol', costNano: 0.1 * USD, ts: NOW - MIN });

    const db = new Database(l.dbPath);
    cleanups.push(() => {
      db.close();
    });
    withAlertColumns(db);
    db.prepare("UPDATE budgets SET alert_at = ? WHERE scope = 'project'").run('50,80');
    db.prepare("UPDATE budgets SET alert_at = ? WHERE scope = 'default_user'").run('50,90');
    db.prepare("UPDATE budgets SET alert_at = ? WHERE scope = 'user'").run('80');
    db.prepare("UPDATE runs SET alert_at = ? WHERE id = 'run_a'").run('50,90');
    const today = windowKey('day', NOW);
    fire(db, 'project', '', windowKey('month', NOW), 50);
    fire(db, 'user', 'alice', today, 80);
    fire(db, 'user', 'carol', windowKey('day', NOW - DAY), 50); // yesterday's: not this window
    fire(db, 'run', 'run_a', 'total', 50);
    fire(db, 'run', 'run_a', 'total', 90);
    fire(db, 'user', 'bob', today, 50, 'other'); // another project's

    const r = new DashboardReader({ dbPath: l.dbPath, projectId: 'default' });
    cleanups.push(() => r.close());
    const snap = r.read(NOW);
    expect([snap.project.thresholdsPct, snap.project.firedPct]).toEqual([[50, 80], [50]]);
    const user = (id: string) => snap.users.find((u) => u.userId === id);
    expect([user('alice')?.thresholdsPct, user('alice')?.firedPct]).toEqual([[80], [80]]); // her own cap's
    expect([user('bob')?.thresholdsPct, user('bob')?.firedPct]).toEqual([[50, 90], []]); // the default's
    expect([user('carol')?.thresholdsPct, user('carol')?.firedPct]).toEqual([[50, 90], []]);
    const run = (id: string) => snap.runs.find((x) => x.runId === id);
    expect([run('run_a')?.thresholdsPct, run('run_a')?.firedPct]).toEqual([[50, 90], [50, 90]]);
    expect(run('run_b')).not.toHaveProperty('thresholdsPct');

    // an alert fired after the last read shows on the next one (read after the last seq seen)
    fire(db, 'user', 'bob', today, 50);
    expect(r.changed()).toBe(true);
    expect(r.read(NOW).users.find((u) => u.userId === 'bob')?.firedPct).toEqual([50]);
  });

  it('end to end on the real store: thresholds set with the caps, fired by the records that reach them, shown per scope', async () => {
    const l = tempLedger();
    cleanups.push(() => l.dispose());
    const s = l.store;
    await s.setBudget({ projectId: 'default', scope: 'project', userId: null, capNano: 10 * USD, period: 'month', now: NOW - DAY, alertAt: [50, 80] });
    await s.setBudget({ projectId: 'default', scope: 'default_user', userId: null, capNano: 2 * USD, period: 'day', now: NOW - DAY, alertAt: [50, 90] });
    await s.startRun({ projectId: 'default', runId: 'run_a', capNano: 1 * USD, label: null, now: NOW - DAY, alertAt: [50] });
    const r = new DashboardReader({ dbPath: l.dbPath, projectId: 'default' });
    cleanups.push(() => r.close());
    expect(r.read(NOW).project).toMatchObject({ thresholdsPct: [50, 80], firedPct: [] });

    await l.record({ userId: 'bob', runId: 'run_a', costNano: 0.6 * USD, ts: NOW - 2 * MIN }); // bob 30 %, run 60 %
    await l.record({ userId: 'bob', costNano: 0.5 * USD, ts: NOW - MIN }); // bob 55 %
    await l.record({ userId: 'eve', costNano: 5 * USD, ts: NOW - MIN }); // eve 250 %, project 61 %
    const snap = r.read(NOW);
    expect(snap.project).toMatchObject({ thresholdsPct: [50, 80], firedPct: [50] });
    const user = (id: string) => snap.users.find((u) => u.userId === id);
    expect(user('bob')).toMatchObject({ thresholdsPct: [50, 90], firedPct: [50] });
    expect(user('eve')).toMatchObject({ thresholdsPct: [50, 90], firedPct: [50, 90] });
    expect(snap.runs.find((x) => x.runId === 'run_a')).toMatchObject({ thresholdsPct: [50], firedPct: [50] });
  });
});

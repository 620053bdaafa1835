/**
 * contract §7 "Nothing lost": writer processes (the built library: check, record, flush) are
 * killed with SIGKILL at random moments, 20 times, on one ledger file. After every kill the
 * file passes PRAGMA integrity_check and holds every acknowledged record exactly once;
 * at the end the summary rows equal the sum of the records, and the holds the killed
 * writers left behind expire after the configured TTL.
 * The kill schedule comes from a printed seed: CRASH_SEED=<seed> replays it.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { StoreCheck } from '../../src/lib/ledger/store.js';
import { NoburnGuard } from '../../src/lib/guard.js';
import { usdToNano } from '../../src/lib/money.js';
import { removeHomes, snapshotDist, tempHome } from '../helpers/cli.js';
import type { Dist } from '../helpers/cli.js';
import { runFromDetail, runRow, usageFromDetail, usageRows } from '../helpers/reliability/derive.js';
import { readJournal } from '../helpers/reliability/journal.js';
import type { Journal, JournalRecord } from '../helpers/reliability/journal.js';
import { prng, sleep, startWriter } from '../helpers/reliability/procs.js';

const ITERATIONS = 20;
const TTL_SECONDS = 3600;
const PROJECT = 'default';
const RUN = 'run_crash';
const SEED = Number(process.env['CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

let dist: Dist;
beforeAll(async () => {
  dist = await snapshotDist();
});
afterAll(() => {
  dist?.dispose();
  removeHomes();
});

/** What the ledger must hold for a record: the writer's price is $1 / $4 per million tokens in / out. */
function expectedCost(r: JournalRecord): number {
  if (r.wasBlocked) return 0;
  if (r.costUsd !== undefined) return usdToNano(r.costUsd);
  return r.tokensIn * 1_000 + r.tokensOut * 4_000;
}

interface Row {
  idem_key: string;
  n: number;
  cost_nano: number;
  was_blocked: number;
  user_id: string;
  run_id: string;
}

function recordsByKey(db: Database.Database): Map<string, Row> {
  const rows = db.prepare('SELECT idem_key, count(*) AS n, cost_nano, was_blocked, user_id, run_id FROM records WHERE project_id = ? GROUP BY idem_key').all(PROJECT) as Row[];
  return new Map(rows.map((r) => [r.idem_key, r]));
}

/** Every key of `keys` is in the ledger exactly once, as the writer promised it. */
function assertPresent(rows: Map<string, Row>, j: Journal, keys: Iterable<string>): void {
  const wrong: unknown[] = [];
  for (const k of keys) {
    const r = rows.get(k);
    const want = j.intents.get(k) as JournalRecord;
    const ok = r && r.n === 1 && r.cost_nano === expectedCost(want) && r.was_blocked === (want.wasBlocked ? 1 : 0) && r.user_id === want.endUserId && r.run_id === RUN;
    if (!ok) wrong.push({ key: k, stored: r ?? null, promised: want });
  }
  expect(wrong.slice(0, 5)).toEqual([]);
}

/** After a kill: the file is sound, every acknowledged record is there once, nothing unpromised is. */
function assertAfterCrash(dbPath: string, journal: string): { acked: number; records: number } {
  const j = readJournal(journal);
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const rows = recordsByKey(db);
    assertPresent(rows, j, j.acked);
    expect([...rows.keys()].filter((k) => !j.intents.has(k))).toEqual([]);
    return { acked: j.acked.size, records: rows.size };
  } finally {
    db.close();
  }
}

function probe(now: number, estimateNano: number): StoreCheck {
  return { projectId: PROJECT, userId: 'probe', runId: null, model: 'crash-m', estimateNano, tokensIn: 1, tokensOut: 0, unpriced: false, now, holdTtlMs: 1000 };
}

describe('kill -9 during a burst of checks and records', () => {
  it(`loses no acknowledged record, counts none twice, and keeps the file sound (${ITERATIONS} kills)`, async () => {
    console.log(`crash torture: CRASH_SEED=${SEED}`);
    const rnd = prng(SEED);
    const home = tempHome('noburn-crash-');
    const dbPath = join(home, 'noburn.db');
    const journal = join(home, 'journal.log');
    const env = { NOBURN_HOME: home, HOME: home, NOBURN_HOLD_TTL_SECONDS: String(TTL_SECONDS), NOBURN_RUN_ID: RUN };

    // Every call belongs to one run (its counters are summary rows too); u3 has a small cap so some checks block.
    const setup = new SqliteStore(dbPath);
    await setup.startRun({ projectId: PROJECT, runId: RUN, capNano: null, label: 'crash', now: Date.now() });
    await setup.setBudget({ projectId: PROJECT, scope: 'user', userId: 'u3', capNano: 30_000_000, period: 'total', now: Date.now() });
    await setup.close();

    let progress = { acked: 0, records: 0 };
    const cutShort: string[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      // Most kills land at random. Some land at the two places that matter most, on purpose:
      // a batch promised but not recorded (the retry must record it), and a batch recorded
      // but not acknowledged (the retry must not count it twice). Every fourth round two
      // writers race, and both replay the same unacknowledged batches.
      const stopAt = i % 5 === 1 ? 'intent' : i % 5 === 2 ? 'committed' : undefined;
      const ids = !stopAt && i % 4 === 3 ? [`w${i}a`, `w${i}b`] : [`w${i}`];
      const ws = ids.map((id) => startWriter({ index: dist.index, journal, id, seed: rnd(2 ** 31), mode: 'burst', stopAt, env }));
      if (stopAt) {
        await Promise.all(ws.map((w) => w.paused));
        // The writer stopped in its third batch: recorded already or not, as asked.
        const batch = `${ids[0] as string}.2`;
        const keys = [...readJournal(journal).intents.keys()].filter((k) => k.startsWith(`${batch}.`));
        const db = new Database(dbPath, { readonly: true });
        const stored = keys.filter((k) => db.prepare('SELECT 1 FROM records WHERE idem_key = ?').get(k) !== undefined);
        db.close();
        expect(keys.length).toBeGreaterThan(0);
        expect(stored).toEqual(stopAt === 'committed' ? keys : []);
        cutShort.push(batch);
      } else if (rnd(4) === 0) {
        await sleep(rnd(400)); // anywhere: start-up, replay, or the burst
      } else {
        await Promise.all(ws.map((w) => w.ready));
        await sleep(rnd(300));
      }
      for (const w of ws) w.child.kill('SIGKILL');
      for (const w of ws) {
        const e = await w.exit;
        expect(e.signal, `writer exited by itself: ${e.stderr}`).toBe('SIGKILL');
      }
      progress = assertAfterCrash(dbPath, journal);
    }
    // The kills must have landed inside bursts, after work was acknowledged.
    expect(progress.acked).toBeGreaterThan(100);
    expect(readJournal(journal).leaked.length).toBeGreaterThan(ITERATIONS / 2);

    // A last writer, not killed, replays what no one acknowledged: then every promise is kept, once.
    const drain = startWriter({ index: dist.index, journal, id: 'drain', seed: 1, mode: 'drain', env });
    const end = await drain.exit;
    expect(end.code, end.stderr).toBe(0);

    const store = new SqliteStore(dbPath);
    try {
      const db = store.db;
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const final = readJournal(journal);
      // Every batch cut short at a stop point was acknowledged by a later writer (or the drain).
      expect(cutShort.filter((b) => !final.replayed.has(b))).toEqual([]);
      const rows = recordsByKey(db);
      assertPresent(rows, final, final.intents.keys());
      expect(rows.size).toBe(final.intents.size);

      // No double count anywhere: the summary rows and the feed equal the records table.
      expect(usageRows(db, PROJECT)).toEqual(usageFromDetail(db, PROJECT));
      expect(runRow(db, RUN)).toEqual(runFromDetail(db, PROJECT, RUN));
      const refs = db.prepare("SELECT ref FROM events WHERE project_id = ? AND kind = 'record'").pluck().all(PROJECT) as string[];
      expect(refs.length).toBe(rows.size);
      expect(new Set(refs)).toEqual(new Set(rows.keys()));
      const blocked = db.prepare("SELECT count(*) FROM events WHERE kind = 'check' AND blocked = 1").pluck().get() as number;
      expect(blocked).toBeGreaterThan(0);

      // The holds the killed writers took on purpose are still there, with the configured TTL...
      const holds = db.prepare('SELECT id, amount_nano AS amount, created_at AS createdAt, expires_at AS expiresAt FROM holds').all() as { id: string; amount: number; createdAt: number; expiresAt: number }[];
      expect(holds.filter((h) => h.expiresAt - h.createdAt !== TTL_SECONDS * 1000)).toEqual([]);
      const ids = new Set(holds.map((h) => h.id));
      expect(final.leaked.filter((id) => !ids.has(id))).toEqual([]);

      // ...they count now, and stop counting once expired: a project cap that fits the probe
      // only without them blocks it now and allows it after the last expiry.
      const now = Date.now();
      const lastExpiry = Math.max(...holds.map((h) => h.expiresAt));
      const spent = db.prepare("SELECT spent_nano FROM usage WHERE project_id = ? AND scope = 'project' AND window = 'total'").pluck().get(PROJECT) as number;
      const held = holds.filter((h) => h.expiresAt > now).reduce((a, h) => a + h.amount, 0);
      expect(held).toBeGreaterThan(0);
      const e = 1_000_000;
      await store.setBudget({ projectId: PROJECT, scope: 'project', userId: null, capNano: spent + held + e - 1, period: 'total', now });
      const before = await store.check(probe(now, e));
      expect(before.blockReason).toBe('project_budget_exceeded');
      const after = await store.check(probe(lastExpiry, e));
      expect(after.blocked).toBe(false);
      expect(db.prepare('SELECT count(*) FROM holds WHERE expires_at <= ?').pluck().get(lastExpiry)).toBe(0);
      console.log(`crash torture: ${ITERATIONS} rounds, ${progress.acked} records acknowledged before the drain, ${rows.size} in the end, ${final.replayed.size} batches replayed, ${final.leaked.length} leaked holds`);
    } finally {
      await store.close();
    }
  });

  it('the holds of a killed writer stop counting once NOBURN_HOLD_TTL_SECONDS has passed (real clock)', async () => {
    const home = tempHome('noburn-ttl-');
    const dbPath = join(home, 'noburn.db');
    const e = 1_000_000; // 1,000 input tokens at $1 per million
    const setup = new SqliteStore(dbPath);
    await setup.setBudget({ projectId: PROJECT, scope: 'project', userId: null, capNano: 3 * e, period: 'total', now: Date.now() });
    await setup.close();

    const w = startWriter({ index: dist.index, journal: join(home, 'journal.log'), id: 'holder', seed: 1, mode: 'hold', env: { NOBURN_HOME: home, HOME: home, NOBURN_HOLD_TTL_SECONDS: '2' } });
    await w.ready;
    w.child.kill('SIGKILL');
    expect((await w.exit).signal).toBe('SIGKILL');

    const db = new Database(dbPath, { readonly: true });
    const holds = db.prepare('SELECT created_at AS c, expires_at AS x FROM holds').all() as { c: number; x: number }[];
    db.close();
    expect(holds.length).toBe(3);
    expect(holds.every((h) => h.x - h.c === 2_000)).toBe(true);

    const prices = { 'crash-m': { inputPerMTok: 1, outputPerMTok: 4 } };
    const req = { model: 'crash-m', estimatedTokensIn: 1_000, estimatedTokensOut: 0 };
    // While they live (the clock set to when they were taken) the cap is full...
    const then = new NoburnGuard({ home, prices, env: {}, now: () => Math.max(...holds.map((h) => h.c)) });
    expect((await then.check(req)).blockReason).toBe('project_budget_exceeded');
    await then.close();
    // ...and once the TTL has passed on the real clock, it is free again, hold by hold.
    while (Date.now() <= Math.max(...holds.map((h) => h.x))) await sleep(100);
    const guard = new NoburnGuard({ home, prices, env: {} });
    try {
      const ds = [];
      for (let i = 0; i < 4; i++) ds.push(await guard.check(req));
      expect(ds.map((d) => d.blocked)).toEqual([false, false, false, true]);
    } finally {
      await guard.close();
    }
  });
});

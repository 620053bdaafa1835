/** contract: tags on calls and per-tag caps (budget scope "tag", block reason tag_budget_exceeded), on every store. */
import { describe, expect, it } from 'vitest';
import { NoburnValidationError } from '../../src/lib/errors.js';
import type { LedgerBackend } from '../../src/lib/ledger/store.js';
import type { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import type { PostgresStore } from '../../src/lib/ledger/postgres/postgres-store.js';
import type { Period } from '../../src/lib/periods.js';
import { normalizeTags } from '../../src/lib/tags.js';
import { P, TTL, rec, record, useEnv, utc } from './harness.js';
import type { Env, StoreFactory } from './harness.js';

/** The usage rows of scope 'tag' (subject, window) straight from the store's tables. */
async function tagRows(store: LedgerBackend): Promise<string[]> {
  if (store.kind === 'sqlite') {
    const rows = (store as SqliteStore).db.prepare(`SELECT subject, window FROM usage WHERE scope = 'tag' ORDER BY subject, window`).all() as { subject: string; window: string }[];
    return rows.map((r) => `${r.subject} ${r.window}`);
  }
  const { rows } = await (store as PostgresStore).pool.query<{ subject: string; win: string }>(`SELECT subject, win FROM usage WHERE scope = 'tag' ORDER BY subject COLLATE "C", win COLLATE "C"`);
  return rows.map((r) => `${r.subject} ${r.win}`);
}

export function defineTagTests(factory: StoreFactory): void {
  const env = useEnv(factory);
  const tagCap = (ledger: Env['ledger'], usd: number | null, tag: string, period: Period = 'total') => ledger.setBudget(P, { scope: 'tag', tag, capUsd: usd, period });
  /** A check of `milli` thousandths of a dollar on test-model carrying `tags`. */
  const tcheck = (ledger: Env['ledger'], milli: number, tags: Record<string, string> = {}, o: { user?: string; clamp?: boolean; tout?: number } = {}) =>
    ledger.check(P, {
      model: 'test-model', tokensIn: milli * 1000, tokensOut: o.tout ?? 0, userId: o.user ?? null, runId: null, tags: normalizeTags(tags),
      ...(o.clamp ? { clamp: true, minTokensOut: 10 } : {}),
    });

  describe('tags and per-tag caps', () => {
    it('tag_budget_exceeded: a cap on feature=search blocks the calls carrying it and leaves other calls alone', async () => {
      const { ledger } = await env();
      await tagCap(ledger, 0.005, 'feature=search');
      await record(ledger, rec({ usd: 0.002, tags: normalizeTags({ feature: 'search' }) }));
      expect((await tcheck(ledger, 2, { feature: 'search' })).remaining).toEqual({ tagUsd: 0.001 }); // 5 - 2 spent - 2 held
      const over = await tcheck(ledger, 2, { feature: 'search', team: 'core' });
      expect(over).toMatchObject({ blocked: true, blockReason: 'tag_budget_exceeded', reservationId: null, remaining: { tagUsd: 0.001 } });
      expect(over.limit).toMatchObject({ scope: 'tag', capUsd: 0.005, spentUsd: 0.002, heldUsd: 0.002 });
      // Another value of the key, another key, no tags: not under the cap.
      for (const tags of [{ feature: 'chat' }, { team: 'core' }, {}] as Record<string, string>[]) expect((await tcheck(ledger, 50, tags)).blocked).toBe(false);
      // The blocked call took no hold: the cap still has its 0.001 of room.
      expect((await tcheck(ledger, 1, { feature: 'search' })).blocked).toBe(false);
    });

    it('a call with several tags counts toward each tag; the cap with the least room decides', async () => {
      const { ledger } = await env();
      await record(ledger, rec({ usd: 0.003, tags: normalizeTags({ feature: 'search', team: 'core' }) }));
      await tagCap(ledger, 0.01, 'feature=search', 'day'); // set mid-window: counts the spend already made
      await tagCap(ledger, 0.004, 'team=core');
      const d = await tcheck(ledger, 1, { feature: 'search', team: 'core' });
      expect(d).toMatchObject({ blocked: false, remaining: { tagUsd: 0 }, limit: { scope: 'tag', capUsd: 0.004 } });
      expect((await tcheck(ledger, 1, { team: 'core' })).blockReason).toBe('tag_budget_exceeded');
      expect((await tcheck(ledger, 1, { feature: 'search' })).blocked).toBe(false);
      const budgets = (await ledger.getBudgets(P)).filter((b) => b.scope === 'tag');
      expect(budgets).toEqual([
        { scope: 'tag', userId: null, tag: 'feature=search', capUsd: 0.01, period: 'day', spentUsd: 0.003, heldUsd: 0.002, unpricedCalls: 0, windowStart: '2026-11-25T00:00:00.000Z' },
        { scope: 'tag', userId: null, tag: 'team=core', capUsd: 0.004, period: 'total', spentUsd: 0.003, heldUsd: 0.001, unpricedCalls: 0, windowStart: '1970-01-01T00:00:00.000Z' },
      ]);
      await tagCap(ledger, null, 'team=core');
      expect((await ledger.getBudgets(P)).filter((b) => b.scope === 'tag').map((b) => b.tag)).toEqual(['feature=search']);
    });

    it('holds: a tagged hold counts under the tag cap until its record settles it or it expires', async () => {
      const { ledger, clock } = await env();
      await tagCap(ledger, 0.003, 'feature=search');
      const a = await tcheck(ledger, 2, { feature: 'search' });
      expect((await tcheck(ledger, 2, { feature: 'search' })).blockReason).toBe('tag_budget_exceeded');
      // Settled below its hold: the room is the cap less the real cost.
      await record(ledger, rec({ usd: 0.001, reservationId: a.reservationId, tags: normalizeTags({ feature: 'search' }) }));
      expect((await tcheck(ledger, 2, { feature: 'search' })).blocked).toBe(false);
      expect((await tcheck(ledger, 1, { feature: 'search' })).blockReason).toBe('tag_budget_exceeded');
      clock.t += TTL; // both holds expire
      expect((await tcheck(ledger, 2, { feature: 'search' })).blocked).toBe(false);
    });

    it('clamp: the output bound is lowered to fit a tag cap', async () => {
      const { ledger } = await env();
      await tagCap(ledger, 0.003, 'feature=search');
      // 1000 input tokens = $0.001; 2000 left = 1000 output tokens at $0.002 per 1000.
      const d = await tcheck(ledger, 1, { feature: 'search' }, { clamp: true, tout: 5000 });
      expect(d).toMatchObject({ blocked: false, clamped: true, tokensOut: 1000, limit: { scope: 'tag' } });
    });

    it('a minute tag cap rolls at the next UTC minute', async () => {
      const { ledger, clock } = await env();
      await tagCap(ledger, 0.001, 'feature=search', 'minute');
      clock.t = utc('2026-11-25T12:07:30.000Z');
      await record(ledger, rec({ usd: 0.001, tags: ['feature=search'] }));
      expect((await tcheck(ledger, 1, { feature: 'search' })).blockReason).toBe('tag_budget_exceeded');
      clock.t = utc('2026-11-25T12:08:00.000Z');
      expect((await tcheck(ledger, 1, { feature: 'search' })).blocked).toBe(false);
    });

    it('spend --by tag:KEY groups records and blocked checks by the tag value (null: calls without the key)', async () => {
      const { ledger } = await env();
      await tagCap(ledger, 0, 'feature=chat');
      await record(ledger, rec({ usd: 0.003, tags: normalizeTags({ feature: 'search', team: 'core' }) }), rec({ usd: 0.002, tags: ['feature=search'] }));
      await record(ledger, rec({ usd: 0.001, tags: ['team=core'] }), rec({ usd: 0.004 }));
      await tcheck(ledger, 1, { feature: 'chat' }); // blocked: counted under chat
      const r = await ledger.spend(P, { by: 'tag:feature' });
      expect(r).toMatchObject({ by: 'tag:feature', totalUsd: 0.01, calls: 4, blockedCalls: 1 });
      expect(r.rows.map((x) => [x.key, x.spendUsd, x.calls, x.blockedCalls])).toEqual([
        [null, 0.005, 2, 0],
        ['search', 0.005, 2, 0],
        ['chat', 0, 0, 1],
      ]);
      // A key that is a suffix of another is its own key ("eature" is not "feature").
      expect((await ledger.spend(P, { by: 'tag:eature' })).rows.map((x) => x.key)).toEqual([null]);
      expect((await ledger.spend(P, { by: 'tag:team' })).rows.map((x) => [x.key, x.spendUsd])).toEqual([[null, 0.006], ['core', 0.004]]);
      await expect(ledger.spend(P, { by: 'tag:bad key' })).rejects.toThrow(NoburnValidationError);
      await expect(ledger.spend(P, { by: 'tags' as 'user' })).rejects.toThrow(/by must be user, run, model, day or tag:KEY/);
    });

    it('usage rows of scope tag exist only for the calls that carry tags, one per tag and window', async () => {
      const { ledger, store } = await env();
      await record(ledger, rec({ usd: 0.001 }), rec({ usd: 0.001, userId: 'u' }));
      await tcheck(ledger, 1);
      expect(await tagRows(store)).toEqual([]);
      await record(ledger, rec({ usd: 0.001, tags: normalizeTags({ a: '1', b: '2' }) }));
      const rows = await tagRows(store);
      expect(rows.filter((r) => r.startsWith('a=1 ')).length).toBe(6); // one per period window
      expect(rows.filter((r) => r.startsWith('b=2 ')).length).toBe(6);
      expect(rows.length).toBe(12);
    });

    it('bad tags are refused with one message and change nothing', async () => {
      const { ledger } = await env();
      const bad: unknown[] = [{ 'bad key': 'x' }, { k: 'with space' }, { k: '' }, { k: 'a,b' }, { k: 'a=b' }, { ['x'.repeat(65)]: 'v' }, { k: 'v'.repeat(129) }, { k: 1 }, ['k=v'], 'k=v',
        Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v']))];
      for (const t of bad) {
        expect(() => normalizeTags(t)).toThrow(NoburnValidationError);
        expect(() => normalizeTags(t)).toThrow(/^[^\n]+$/);
      }
      await expect(tagCap(ledger, 1, 'feature')).rejects.toThrow(/must be key=value/);
      await expect(tagCap(ledger, 1, 'feature=a b')).rejects.toThrow(NoburnValidationError);
      expect((await ledger.getBudgets(P)).filter((b) => b.scope === 'tag')).toEqual([]);
      expect(normalizeTags(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, 'v'])))).toHaveLength(8);
      expect(normalizeTags({ z: '1', a: 'x:y/z@w+v-u.t_s' })).toEqual(['a=x:y/z@w+v-u.t_s', 'z=1']);
    });

    it('tags are kept on the check event and the record event', async () => {
      const { ledger } = await env();
      await tagCap(ledger, 0, 'feature=x');
      await tcheck(ledger, 1, { feature: 'x', team: 'core' });
      await record(ledger, rec({ usd: 0.001, tags: ['feature=y'] }));
      const evs = (await ledger.events(P, 0)).filter((e) => e.kind === 'check' || e.kind === 'record');
      expect(evs.map((e) => e.tags)).toEqual([{ feature: 'x', team: 'core' }, { feature: 'y' }]);
    });
  });
}

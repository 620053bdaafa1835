/** SqliteMirror applied directly: what the server sends back is taken as it is. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteMirror } from '../../src/lib/ledger/sqlite/mirror.js';
import type { LedgerEvent, RunInfo } from '../../src/lib/types.js';

let dir: string;
let mirror: SqliteMirror;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'noburn-mirror-'));
  mirror = new SqliteMirror(join(dir, 'noburn.db'));
});
afterEach(() => {
  mirror.close();
  rmSync(dir, { recursive: true, force: true });
});

const row = (sql: string, ...args: unknown[]) => mirror.db.prepare(sql).get(...args) as Record<string, unknown> | undefined;

describe('SqliteMirror', () => {
  it('takes a run summary whose spend is above the $1M input limit', () => {
    const run: RunInfo = {
      runId: 'run_big', label: null, parentRunId: null, status: 'ended', budgetCapUsd: null, spendUsd: 1_500_000.25, calls: 3, blockedCalls: 0,
      unpricedCalls: 0, clampedCalls: 0, overHolds: 0, heldUsd: 0, exhausted: false, startedAt: '2024-01-01T00:00:00.000Z', endedAt: '2024-01-01T01:00:00.000Z',
    };
    mirror.upsertRuns('p', [run], Date.now());
    expect(row('SELECT spent_nano FROM runs WHERE id = ?', 'run_big')).toEqual({ spent_nano: 1_500_000_250_000_000 });
    expect(row("SELECT amount_nano FROM events WHERE kind = 'run_end' AND run_id = ?", 'run_big')).toEqual({ amount_nano: 1_500_000_250_000_000 });
  });

  it("counts a server's blocked check once, on the project, the user and the run", () => {
    const e: LedgerEvent = {
      seq: 1, ts: '2024-01-01T00:00:00.000Z', kind: 'check', projectId: 'srv', userId: 'carol', runId: 'run_1', model: 'm',
      amountUsd: 0.002, blocked: true, reason: 'run_budget_exceeded', unpriced: false, tokensIn: 10, tokensOut: 5, ref: 'dec_1',
    };
    expect(mirror.applyEvents('p', [e, e], 'feed', 1)).toBe(1);
    expect(row("SELECT blocked_calls FROM usage WHERE project_id = 'p' AND scope = 'project' AND window = 'total'")).toEqual({ blocked_calls: 1 });
    expect(row("SELECT blocked_calls FROM usage WHERE project_id = 'p' AND scope = 'user' AND subject = 'carol' AND window = 'total'")).toEqual({ blocked_calls: 1 });
    expect(row('SELECT blocked_calls, exhausted FROM runs WHERE id = ?', 'run_1')).toEqual({ blocked_calls: 1, exhausted: 1 });
    expect(row("SELECT amount_nano, reason, ref FROM events WHERE kind = 'check'")).toEqual({ amount_nano: 2_000_000, reason: 'run_budget_exceeded', ref: 'dec_1' });
  });

  // Rule: a leased approval (L_...) kept in the mirror as a hold is freed by its record, though the mirror has no lease.
  it("frees its copy of a leased approval's hold when the record comes", () => {
    const id = 'L_abc.1.1000.7.0123456789abcdef';
    const d = { projectId: 'p', ts: Date.now(), model: 'm', userId: null, runId: null, tokensIn: 1, tokensOut: 1, estimateNano: 1000, blocked: false, reason: null, unpriced: false, reservationId: id, decisionId: id, holdTtlMs: 600_000 };
    mirror.applyLocal([{ kind: 'decision', d }]);
    expect(row('SELECT amount_nano FROM holds WHERE id = ?', id)).toEqual({ amount_nano: 1000 });
    const r = { projectId: 'p', userId: null, runId: null, model: 'm', tokensIn: 1, tokensOut: 1, cachedTokensIn: 0, cacheWriteTokensIn: 0, costNano: 900, unpriced: false, wasBlocked: false, reservationId: id, idempotencyKey: 'k1', ts: Date.now() };
    mirror.applyLocal([{ kind: 'record', r }]);
    expect(row('SELECT amount_nano FROM holds WHERE id = ?', id)).toBeUndefined();
  });
});

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
});

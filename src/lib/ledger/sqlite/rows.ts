import { nanoToUsd } from '../../money.js';
import type { BlockReason, EventKind, LedgerEvent, RunInfo } from '../../types.js';
import type { ApiKeyRow, KeyRole } from '../store.js';
import type { EventRow, RunRow } from './statements.js';

/** Row -> public shape mappers shared by the SQLite reads. */
export const iso = (ms: number): string => new Date(ms).toISOString();

export function runInfo(r: RunRow, heldNano: number): RunInfo {
  return {
    runId: r.id,
    label: r.label,
    parentRunId: r.parent_id ?? null,
    status: r.status,
    exhausted: r.exhausted === 1,
    budgetCapUsd: r.cap_nano === null ? null : nanoToUsd(r.cap_nano),
    spendUsd: nanoToUsd(r.spent_nano),
    heldUsd: nanoToUsd(heldNano),
    calls: r.calls,
    blockedCalls: r.blocked_calls,
    unpricedCalls: r.unpriced_calls,
    clampedCalls: Number(r.clamped_calls ?? 0),
    overHolds: Number(r.over_holds ?? 0),
    startedAt: iso(r.started_at),
    endedAt: r.ended_at === null ? null : iso(r.ended_at),
  };
}

export function eventOf(r: EventRow): LedgerEvent {
  return {
    seq: r.seq,
    ts: iso(r.ts),
    kind: r.kind as EventKind,
    projectId: r.project_id,
    userId: r.user_id,
    runId: r.run_id,
    model: r.model,
    amountUsd: nanoToUsd(r.amount_nano),
    blocked: r.blocked === 1,
    reason: r.reason as BlockReason | null,
    unpriced: r.unpriced === 1,
    tokensIn: r.tokens_in,
    tokensOut: r.tokens_out,
    ref: r.ref,
  };
}

export interface KeyDbRow {
  id: string;
  project_id: string;
  role: string;
  hash: string;
  label: string | null;
  created_at: number;
  revoked_at: number | null;
}

export function keyOf(r: KeyDbRow): ApiKeyRow {
  return {
    id: r.id,
    projectId: r.project_id,
    role: r.role as KeyRole,
    hash: r.hash,
    label: r.label,
    createdAt: iso(r.created_at),
    revokedAt: r.revoked_at === null ? null : iso(r.revoked_at),
  };
}

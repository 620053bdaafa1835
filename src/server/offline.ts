/**
 * What a PostgreSQL replica answers while its database is unreachable (docs/api.md
 * "Offline decisions and queued records"). An outage never lifts a cap: a check is allowed
 * only when a budget lease this replica holds decides it, else it is blocked
 * `noburn_unreachable`; a record is written to the replica's durable queue and
 * acknowledged as queued. Any other store error stays the error it is.
 */
import { nanoToUsd } from '../lib/money.js';
import { costNano } from '../lib/pricing/cost.js';
import type { Ledger, RecordedItem } from '../lib/ledger/ledger.js';
import type { Decision } from '../lib/types.js';
import type { NormalizedCheck, NormalizedRecord } from '../lib/validate.js';
import type { DecisionResponse, RecordsResponse } from '../lib/wire/responses.js';
import type { DbLink } from './db-link.js';
import type { ReplicaQueue } from './replica-queue.js';

export interface Offline {
  link: DbLink;
  queue: ReplicaQueue;
}

/** The wire form of a decision; `offline` marks one made without the database. */
export function decisionResponse(d: Decision, offline: boolean): DecisionResponse {
  return {
    blocked: d.blocked,
    blockReason: d.blockReason,
    estimatedCostUsd: d.estimatedCostUsd,
    reservationId: d.reservationId,
    decisionId: d.decisionId ?? d.reservationId,
    remaining: d.remaining,
    unpriced: d.unpriced,
    tokensIn: d.tokensIn,
    tokensOut: d.tokensOut,
    clamped: d.clamped,
    estimate: d.estimate,
    limit: d.limit,
    maxTokensOut: d.maxTokensOut,
    hint: d.hint,
    ...(offline ? { source: 'replica_offline' as const } : {}),
  };
}

/**
 * A check decided without the database: a lease's decision when one decides it, else a
 * block. The block carries no estimate (pricing may need the database too): 0.
 */
export function offlineCheck(ledger: Ledger, projectId: string, c: NormalizedCheck): Decision {
  const byLease = ledger.decideOffline(projectId, c);
  if (byLease) return { ...byLease, source: 'replica_offline' };
  return {
    blocked: true,
    blockReason: 'noburn_unreachable',
    estimatedCostUsd: 0,
    reservationId: null,
    remaining: {},
    source: 'replica_offline',
    unpriced: false,
    decisionId: null,
    tokensIn: c.tokensIn,
    tokensOut: c.tokensOut,
    clamped: false,
    estimate: { inputUsd: 0, outputUsd: 0 },
    limit: null,
    maxTokensOut: null,
    hint: null,
  };
}

/**
 * What a queued record will be charged, as far as this replica can tell without the
 * database (a config price, a price it already resolved, the record's own cost); else 0
 * and unpriced. The database settles the real figure on replay.
 */
async function queuedItem(ledger: Ledger, r: NormalizedRecord): Promise<RecordedItem> {
  const item = { idempotencyKey: r.idempotencyKey };
  if (r.wasBlocked) return { ...item, costUsd: 0, unpriced: false };
  if (r.costUsd !== null) return { ...item, costUsd: r.costUsd, unpriced: false };
  try {
    const price = await ledger.pricer.resolve(r.model, r.provider);
    if (price.source === 'unknown') return { ...item, costUsd: 0, unpriced: true };
    return { ...item, costUsd: nanoToUsd(costNano(price, r)), unpriced: false };
  } catch {
    return { ...item, costUsd: 0, unpriced: true };
  }
}

/** Stores records in the replica's queue (durably, before answering) and acknowledges them as queued. */
export async function queueRecords(o: Offline, ledger: Ledger, projectId: string, rs: readonly NormalizedRecord[], calledAt: readonly (number | null)[]): Promise<RecordsResponse> {
  o.queue.enqueue(projectId, rs, calledAt);
  const items = await Promise.all(rs.map((r) => queuedItem(ledger, r)));
  return { accepted: rs.length, duplicates: 0, queued: rs.length, items };
}

/**
 * What an outbox row holds: a record in its wire form (POST /v1/records), or the release
 * of a hold (POST /v1/releases), each under a key that makes a second write of it a no-op.
 */
import { tagsObject } from '../tags.js';
import type { NormalizedRecord } from '../validate.js';
import type { RecordItem } from '../wire/schemas.js';
import type { NewRow } from './outbox-db.js';

/** An outbox row that frees a hold (guard.release) rather than records a call. */
export interface ReleaseBody {
  release: string;
}

export function isRelease(b: unknown): b is ReleaseBody {
  return typeof (b as Partial<ReleaseBody>).release === 'string';
}

/** A record as the server takes it: zero and null fields left out. */
export function toWire(r: NormalizedRecord, ts: number): RecordItem {
  const w: RecordItem = { model: r.model, tokensIn: r.tokensIn, tokensOut: r.tokensOut, wasBlocked: r.wasBlocked, idempotencyKey: r.idempotencyKey, ts };
  if (r.cachedTokensIn > 0) w.cachedTokensIn = r.cachedTokensIn;
  if (r.cacheWriteTokensIn > 0) w.cacheWriteTokensIn = r.cacheWriteTokensIn;
  if (r.costUsd !== null) w.costUsd = r.costUsd;
  if (r.userId !== null) w.endUserId = r.userId;
  if (r.runId !== null) w.runId = r.runId;
  if (r.reservationId !== null) w.reservationId = r.reservationId;
  if (r.provider) w.provider = r.provider;
  if (r.tags !== undefined && r.tags.length > 0) w.tags = tagsObject(r.tags);
  return w;
}

export function recordRow(r: NormalizedRecord, ts: number): NewRow {
  return { key: r.idempotencyKey, ts, body: JSON.stringify(toWire(r, ts)) };
}

export function releaseRow(reservationId: string, ts: number): NewRow {
  return { key: `release:${reservationId}`, ts, body: JSON.stringify({ release: reservationId } satisfies ReleaseBody) };
}

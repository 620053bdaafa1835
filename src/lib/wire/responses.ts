/**
 * The HTTP API's response payloads (docs/api.md), one zod schema each; the requests and the
 * field schemas both use are in schemas.ts. The remote client imports only their inferred
 * types (`import type`), so zod never loads on the client's path.
 */
import { z } from 'zod';
import { ALERT_SCOPES, BUDGET_SCOPES, EVENT_KINDS, RUN_STATUSES, SPEND_GROUPS } from '../types.js';
import type { Alert, Budget, Decision, EndedRun, LedgerEvent, PriceInfo, RunInfo, SpendReport } from '../types.js';
import type { UserSummary } from '../ledger/store.js';
import { blockReason, period, tags } from './schemas.js';

export const Remaining = z.object({ projectUsd: z.number().optional(), userUsd: z.number().optional(), runUsd: z.number().optional(), modelUsd: z.number().optional(), tagUsd: z.number().optional() });

export const DecisionResponse = z.object({
  blocked: z.boolean(),
  blockReason: blockReason.nullable(),
  estimatedCostUsd: z.number(),
  reservationId: z.string().nullable(),
  /** The event ref of this decision: the reservation id when allowed, a dec_ id when blocked (mirrors dedupe by it). */
  decisionId: z.string().nullable(),
  remaining: Remaining,
  unpriced: z.boolean(),
  tokensIn: z.number().int(),
  tokensOut: z.number().int(),
  clamped: z.boolean(),
  estimate: z.object({ inputUsd: z.number(), outputUsd: z.number() }),
  limit: z
    .object({ scope: z.enum(['project', 'user', 'run', 'model', 'tag']), capUsd: z.number(), spentUsd: z.number(), heldUsd: z.number(), leftUsd: z.number() })
    .nullable(),
  maxTokensOut: z.number().int().nullable(),
  hint: z.string().nullable(),
  /** Present when a PostgreSQL replica decided without its database (docs/api.md "Offline decisions"). */
  source: z.literal('replica_offline').optional(),
});
export type DecisionResponse = z.infer<typeof DecisionResponse>;

export const RecordItemResult = z.object({ idempotencyKey: z.string(), costUsd: z.number(), unpriced: z.boolean() });
export const RecordsResponse = z.object({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  /** The cost the server settled for each record, in request order (mirrors use it). */
  items: z.array(RecordItemResult),
  /** Records a PostgreSQL replica stored in its queue (database unreachable), replayed when it is back. */
  queued: z.number().int().optional(),
});
export type RecordsResponse = z.infer<typeof RecordsResponse>;

export const ReleaseResponse = z.object({ released: z.number().int() });
export type ReleaseResponse = z.infer<typeof ReleaseResponse>;

export const RunResponse = z.object({
  runId: z.string(),
  label: z.string().nullable(),
  parentRunId: z.string().nullable(),
  status: z.enum(RUN_STATUSES),
  exhausted: z.boolean(),
  budgetCapUsd: z.number().nullable(),
  spendUsd: z.number(),
  heldUsd: z.number(),
  calls: z.number().int(),
  blockedCalls: z.number().int(),
  unpricedCalls: z.number().int(),
  clampedCalls: z.number().int(),
  overHolds: z.number().int(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  alertAt: z.array(z.number().int()).optional(),
});
export type RunResponse = z.infer<typeof RunResponse>;

export const RunsResponse = z.object({ runs: z.array(RunResponse) });
export type RunsResponse = z.infer<typeof RunsResponse>;

export const EndRunResponse = z.object({
  runId: z.string(),
  status: z.enum(['completed', 'exhausted']),
  spendUsd: z.number(),
  budgetCapUsd: z.number().nullable(),
  calls: z.number().int(),
  blockedCalls: z.number().int(),
  startedAt: z.string(),
  endedAt: z.string(),
  /** The whole run as it now stands (so a client needs no second request). */
  run: RunResponse,
});
export type EndRunResponse = z.infer<typeof EndRunResponse>;

export const BudgetResponse = z.object({
  scope: z.enum(BUDGET_SCOPES),
  userId: z.string().nullable(),
  // Scope "model" only.
  model: z.string().optional(),
  // Scope "tag" only.
  tag: z.string().optional(),
  capUsd: z.number(),
  period,
  spentUsd: z.number(),
  heldUsd: z.number(),
  unpricedCalls: z.number().int(),
  windowStart: z.string(),
  alertAt: z.array(z.number().int()).optional(),
});
export const BudgetsResponse = z.object({ budgets: z.array(BudgetResponse) });
export type BudgetsResponse = z.infer<typeof BudgetsResponse>;

export const SetBudgetResponse = z.object({
  scope: z.enum(BUDGET_SCOPES),
  userId: z.string().nullable(),
  model: z.string().optional(),
  tag: z.string().optional(),
  capUsd: z.number().nullable(),
  period,
  alertAt: z.array(z.number().int()).optional(),
});
export type SetBudgetResponse = z.infer<typeof SetBudgetResponse>;

export const UserResponse = z.object({
  userId: z.string(),
  spentUsd: z.number(),
  heldUsd: z.number(),
  capUsd: z.number().nullable(),
  period: period.nullable(),
  calls: z.number().int(),
  blockedCalls: z.number().int(),
  unpricedCalls: z.number().int(),
  lastAt: z.string().nullable(),
});
export const UsersResponse = z.object({ users: z.array(UserResponse) });
export type UsersResponse = z.infer<typeof UsersResponse>;

const SpendRowResponse = z.object({
  key: z.string().nullable(),
  spendUsd: z.number(),
  calls: z.number().int(),
  blockedCalls: z.number().int(),
  unpricedCalls: z.number().int(),
  tokensIn: z.number().int(),
  tokensOut: z.number().int(),
});
export const SpendResponse = z.object({
  by: z.union([z.enum(SPEND_GROUPS), z.templateLiteral(['tag:', z.string()])]).nullable(),
  since: z.string().nullable(),
  until: z.string().nullable(),
  totalUsd: z.number(),
  calls: z.number().int(),
  blockedCalls: z.number().int(),
  unpricedCalls: z.number().int(),
  rows: z.array(SpendRowResponse),
});
export type SpendResponse = z.infer<typeof SpendResponse>;

export const EventResponse = z.object({
  seq: z.number().int(),
  ts: z.string(),
  kind: z.enum(EVENT_KINDS),
  projectId: z.string(),
  userId: z.string().nullable(),
  runId: z.string().nullable(),
  model: z.string().nullable(),
  amountUsd: z.number(),
  blocked: z.boolean(),
  reason: blockReason.nullable(),
  unpriced: z.boolean(),
  tokensIn: z.number().int(),
  tokensOut: z.number().int(),
  ref: z.string().nullable(),
  tags: tags.optional(),
});
/** `cursor`: pass it as `after` next time; `more`: another page is waiting. */
export const EventsResponse = z.object({ events: z.array(EventResponse), cursor: z.number().int(), more: z.boolean() });
export type EventsResponse = z.infer<typeof EventsResponse>;

export const AlertResponse = z.object({
  seq: z.number().int(),
  id: z.string(),
  projectId: z.string(),
  scope: z.enum(ALERT_SCOPES),
  subject: z.string().nullable(),
  userId: z.string().nullable(),
  threshold: z.number().int(),
  spentUsd: z.number(),
  capUsd: z.number(),
  period,
  window: z.string(),
  firedAt: z.string(),
  deliveredAt: z.string().nullable(),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
});
/** GET /v1/alerts: `cursor`: pass it as `after` next time. */
export const AlertsResponse = z.object({ alerts: z.array(AlertResponse), cursor: z.number().int() });
export type AlertsResponse = z.infer<typeof AlertsResponse>;

export const PriceResponse = z.object({
  model: z.string(),
  inputPerMTok: z.number(),
  outputPerMTok: z.number(),
  cacheReadPerMTok: z.number().nullable(),
  cacheWritePerMTok: z.number().nullable(),
  source: z.enum(['config', 'genai-prices', 'fallback', 'unknown']),
  matched: z.string().nullable(),
});
export type PriceResponse = z.infer<typeof PriceResponse>;

export const KeyResponse = z.object({
  id: z.string(),
  projectId: z.string(),
  role: z.enum(['app', 'admin']),
  label: z.string().nullable(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type KeyResponse = z.infer<typeof KeyResponse>;
/** POST /v1/keys: the key itself is in this response only. */
/** GET /v1/whoami: which key is calling, the project it names and its role. */
export const WhoamiResponse = z.object({ keyId: z.string(), projectId: z.string(), role: z.enum(['app', 'admin']) });
export type WhoamiResponse = z.infer<typeof WhoamiResponse>;

export const CreatedKeyResponse = KeyResponse.extend({ key: z.string() });
export type CreatedKeyResponse = z.infer<typeof CreatedKeyResponse>;
export const KeysResponse = z.object({ keys: z.array(KeyResponse) });
export type KeysResponse = z.infer<typeof KeysResponse>;

export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ErrorBody = z.infer<typeof ErrorBody>;

// The wire shapes and the library's public types must not drift apart: these fail to
// compile if one gains or loses a field the other lacks.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _decisionSame: Same<Omit<DecisionResponse, 'decisionId' | 'source'>, Omit<Decision, 'source' | 'decisionId'>> = true;
const _runSame: Same<RunResponse, RunInfo> = true;
const _endSame: Same<EndRunResponse, EndedRun> = true;
const _budgetSame: Same<z.infer<typeof BudgetResponse>, Budget> = true;
const _spendSame: Same<SpendResponse, SpendReport> = true;
const _eventSame: Same<z.infer<typeof EventResponse>, LedgerEvent> = true;
const _priceSame: Same<PriceResponse, PriceInfo> = true;
const _userSame: Same<z.infer<typeof UserResponse>, UserSummary> = true;
const _alertSame: Same<z.infer<typeof AlertResponse>, Alert> = true;
void [_alertSame, _decisionSame, _runSame, _endSame, _budgetSame, _spendSame, _eventSame, _priceSame, _userSame];

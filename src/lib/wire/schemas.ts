import { z } from 'zod';
import { MAX_USD } from '../money.js';
import { PERIODS } from '../periods.js';
import { ALERT_SCOPES, BLOCK_REASONS, BUDGET_SCOPES, EVENT_KINDS, RUN_STATUSES, SPEND_GROUPS } from '../types.js';
import { MAX_THRESHOLD, MAX_THRESHOLDS } from '../alerts/thresholds.js';
import type {
  Alert,
  Budget,
  Decision,
  EndedRun,
  LedgerEvent,
  PriceInfo,
  RunInfo,
  SpendReport,
} from '../types.js';
import type { UserSummary } from '../ledger/store.js';
import { MAX_TOKENS, printable } from '../validate.js';

/**
 * The HTTP API's payloads (docs/api.md), one zod schema each. The server validates every
 * request body and query with these; the remote client imports only their inferred types
 * (`import type`), so zod never loads on the client's path.
 *
 * Request objects are strict: an unknown field is a 422, so that a misspelt optional field
 * (say `endUserID`) is reported instead of silently ignored.
 */
const id = z.string().min(1).max(256).refine(printable, 'must not contain control characters or lone surrogates');
const tokens = z.number().int().min(0).max(MAX_TOKENS);
const usd = z.number().finite().min(0).max(MAX_USD);
const period = z.enum(PERIODS);
const blockReason = z.enum(BLOCK_REASONS);
// A call's tags: the shape only; the syntax (tags.ts) is checked by the ledger, one rule for every entry point.
const tags = z.record(z.string(), z.string());
/** Alert thresholds: whole percents of the cap. */
const alertAt = z.array(z.number().int().min(1).max(MAX_THRESHOLD)).max(MAX_THRESHOLDS);

// ---- requests ----

/** POST /v1/check */
export const CheckBody = z.strictObject({
  model: id,
  estimatedTokensIn: tokens,
  estimatedTokensOut: tokens,
  endUserId: id.nullish(),
  runId: id.nullish(),
  clamp: z.boolean().nullish(),
  minTokensOut: tokens.nullish(),
  provider: id.nullish(),
  tokensInSource: z.enum(['exact', 'tokenizer']).nullish(),
  tags: tags.nullish(),
});
export type CheckBody = z.infer<typeof CheckBody>;

/** One record of POST /v1/records. `ts` (epoch ms) is when the call happened; delivery may come later (outbox). */
export const RecordItem = z
  .strictObject({
    model: id,
    tokensIn: tokens,
    tokensOut: tokens,
    cachedTokensIn: tokens.nullish(),
    cacheWriteTokensIn: tokens.nullish(),
    costUsd: usd.nullish(),
    wasBlocked: z.boolean(),
    endUserId: id.nullish(),
    runId: id.nullish(),
    reservationId: id.nullish(),
    idempotencyKey: id,
    ts: z.number().int().min(0).nullish(),
    provider: id.nullish(),
    tags: tags.nullish(),
  })
  .refine((r) => (r.cachedTokensIn ?? 0) + (r.cacheWriteTokensIn ?? 0) <= r.tokensIn, {
    message: 'cachedTokensIn + cacheWriteTokensIn must not exceed tokensIn (tokensIn counts all input tokens)',
    path: ['cachedTokensIn'],
  });
export type RecordItem = z.infer<typeof RecordItem>;

export const MAX_RECORDS_PER_BATCH = 1000;

/** POST /v1/records */
export const RecordBatchBody = z.strictObject({
  records: z.array(RecordItem).min(1).max(MAX_RECORDS_PER_BATCH),
});
export type RecordBatchBody = z.infer<typeof RecordBatchBody>;

/** POST /v1/runs */
export const RunBody = z.strictObject({
  budgetCapUsd: usd.nullish(),
  label: id.nullish(),
  /** Start a nested run of this one (unknown: 404; ended: 409). */
  parentRunId: id.nullish(),
  /** Alert thresholds of the run's cap (percents). */
  alertAt: alertAt.optional(),
});
export type RunBody = z.infer<typeof RunBody>;

export const MAX_RELEASES_PER_BATCH = 1000;

/** POST /v1/releases: free holds without counting a call (unknown or settled ids are skipped). */
export const ReleaseBody = z.strictObject({
  reservationIds: z.array(id).min(1).max(MAX_RELEASES_PER_BATCH),
});
export type ReleaseBody = z.infer<typeof ReleaseBody>;

/** PUT /v1/budgets/project | /v1/budgets/users/:id | /v1/budgets/default-user. capUsd null removes the cap. */
export const BudgetBody = z.strictObject({
  capUsd: usd.nullable(),
  period: period.optional(),
  /** Alert thresholds (percents of the cap); absent: the cap keeps its own; []: none. */
  alertAt: alertAt.optional(),
});
export type BudgetBody = z.infer<typeof BudgetBody>;

/** PUT /v1/budgets/models: a cap on the calls whose model matches a glob, project-wide or (userId) for one user. */
export const ModelBudgetBody = z.strictObject({
  model: id,
  userId: id.optional(),
  capUsd: usd.nullable(),
  period: period.optional(),
  alertAt: alertAt.optional(),
});
export type ModelBudgetBody = z.infer<typeof ModelBudgetBody>;

/** PUT /v1/budgets/tags: a cap on the calls that carry a tag (`feature=search`), project-wide. */
export const TagBudgetBody = z.strictObject({
  tag: z.string().max(256),
  capUsd: usd.nullable(),
  period: period.optional(),
  alertAt: alertAt.optional(),
});
export type TagBudgetBody = z.infer<typeof TagBudgetBody>;

/** POST /v1/keys (admin): a key for the caller's own project. */
export const KeyBody = z.strictObject({
  role: z.enum(['app', 'admin']).optional(),
  label: id.nullish(),
});
export type KeyBody = z.infer<typeof KeyBody>;

const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,15}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** GET /v1/events?after=&limit=&since=&until=&kind= */
export const EventsQuery = z.strictObject({
  after: intParam(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: intParam(1, 1000).optional(),
  since: z.string().max(64).optional(),
  until: z.string().max(64).optional(),
  kind: z.enum(EVENT_KINDS).optional(),
});

/** GET /v1/runs?status=&limit= */
export const RunsQuery = z.strictObject({
  status: z.enum(RUN_STATUSES).optional(),
  /** Only the children of this run. */
  parent: id.optional(),
  limit: intParam(1, 1000).optional(),
});

/** GET /v1/spend?by=&since=&until=&runId= */
export const SpendQuery = z.strictObject({
  // user, run, model, day or tag:KEY (the key is checked by the ledger).
  by: z.union([z.enum(SPEND_GROUPS), z.templateLiteral(['tag:', z.string()])]).optional(),
  runId: id.optional(),
  since: z.string().max(64).optional(),
  until: z.string().max(64).optional(),
});

/** GET /v1/users?limit= */
export const UsersQuery = z.strictObject({ limit: intParam(1, 1000).optional() });

// ---- responses (the client uses their types) ----

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

/** GET /v1/alerts?runId=&after=&limit= */
export const AlertsQuery = z.strictObject({
  runId: id.optional(),
  after: intParam(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: intParam(1, 1000).optional(),
});

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

import { z } from 'zod';
import { MAX_USD } from '../money.js';
import { PERIODS } from '../periods.js';
import { BLOCK_REASONS, EVENT_KINDS, RUN_STATUSES, SPEND_GROUPS } from '../types.js';
import { MAX_THRESHOLD, MAX_THRESHOLDS } from '../alerts/thresholds.js';
import { MAX_TOKENS, printable } from '../validate.js';

/**
 * The HTTP API's request payloads (docs/api.md; responses in responses.ts), one zod schema
 * each, and the field schemas both use. The server validates every
 * request body and query with these; the remote client imports only their inferred types
 * (`import type`), so zod never loads on the client's path.
 *
 * Request objects are strict: an unknown field is a 422, so that a misspelt optional field
 * (say `endUserID`) is reported instead of silently ignored.
 */
export const id = z.string().min(1).max(256).refine(printable, 'must not contain control characters or lone surrogates');
const tokens = z.number().int().min(0).max(MAX_TOKENS);
const usd = z.number().finite().min(0).max(MAX_USD);
export const period = z.enum(PERIODS);
export const blockReason = z.enum(BLOCK_REASONS);
// A call's tags: the shape only; the syntax (tags.ts) is checked by the ledger, one rule for every entry point.
export const tags = z.record(z.string(), z.string());
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

/** GET /v1/alerts?runId=&after=&limit= */
export const AlertsQuery = z.strictObject({
  runId: id.optional(),
  after: intParam(0, Number.MAX_SAFE_INTEGER).optional(),
  limit: intParam(1, 1000).optional(),
});

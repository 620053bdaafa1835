import type { Period } from './periods.js';

/**
 * Why a call was refused. Each vocabulary here (block reasons, run statuses, budget scopes,
 * spend groups) is defined once, as a const array that the wire schemas and validation use;
 * its type is derived from it.
 */
export const BLOCK_REASONS = [
  'project_budget_exceeded',
  'user_budget_exceeded',
  'run_budget_exceeded',
  'model_budget_exceeded',
  'tag_budget_exceeded',
  'run_not_found',
  'run_ended',
  'unknown_model_price',
  'local_budget_exceeded',
  'noburn_unreachable',
] as const;
export type BlockReason = (typeof BLOCK_REASONS)[number];

/**
 * Who decided: the local ledger, the remote server, a server replica that could not reach
 * its database (a lease, else blocked noburn_unreachable), or the in-memory fallback when
 * the server was unreachable.
 */
export type DecisionSource = 'ledger' | 'server' | 'replica_offline' | 'fallback';

export interface CheckRequest {
  model: string;
  estimatedTokensIn: number;
  estimatedTokensOut: number;
  endUserId?: string | undefined;
  /** Defaults to NOBURN_RUN_ID from the environment. Pass null to check without a run. */
  runId?: string | null | undefined;
  /**
   * Hold the largest output that fits every cap (at least minTokensOut) instead of refusing:
   * estimatedTokensOut is then the requested output bound (max_tokens). See docs/semantics.md.
   */
  clamp?: boolean | undefined;
  /** The floor for clamping; defaults to config minTokensOut (256). */
  minTokensOut?: number | undefined;
  /** 'openai' | 'anthropic' | 'google' | 'groq' | ...: prices the model by that provider's entry in the price data, and keys the input calibration. */
  provider?: string | undefined;
  /**
   * 'tokenizer': estimatedTokensIn is a local tokenizer count, scaled by the ledger (margin x
   * learnt ratio) to cover the provider's count. 'exact' (default): held as given.
   */
  tokensInSource?: 'exact' | 'tokenizer' | undefined;
  /** Free-form labels (`{ feature: 'search' }`, see src/lib/tags.ts for the syntax): tag caps apply, spend can be grouped by one. */
  tags?: Record<string, string> | undefined;
}

/** The cap with the least room for a decision (the one that blocked, when a cap blocked). */
export interface DecisionLimit {
  /** 'model': a per-model cap (project-wide or one user's); 'tag': a cap on the calls carrying a tag. */
  scope: 'project' | 'user' | 'run' | 'model' | 'tag';
  capUsd: number;
  /** Spent in the cap's current window. */
  spentUsd: number;
  /** Held by other open calls. */
  heldUsd: number;
  /** Room before this call: capUsd - spentUsd - heldUsd, never below 0. */
  leftUsd: number;
}

export interface Remaining {
  /** USD left under each cap that applies, after this call's hold; absent where no cap is set. */
  projectUsd?: number;
  userUsd?: number;
  runUsd?: number;
  /** The least room among the per-model caps that match the call's model. */
  modelUsd?: number;
  /** The least room among the caps on the call's tags. */
  tagUsd?: number;
}

export interface Decision {
  blocked: boolean;
  blockReason: BlockReason | null;
  estimatedCostUsd: number;
  /** The hold taken for an allowed call; pass it to record(). Null when blocked. */
  reservationId: string | null;
  remaining: Remaining;
  source: DecisionSource;
  /** True when the model has no known price (only allowed when unknownModel is "allow"). */
  unpriced: boolean;
  /** The id of this decision in the event feed (the reservation id when allowed); null when decided by the fallback. */
  decisionId?: string | null;
  /** Input tokens held (after the margin/calibration of tokensInSource 'tokenizer'). */
  tokensIn: number;
  /** Output tokens held: the clamped bound when clamped, else estimatedTokensOut. */
  tokensOut: number;
  /** The output bound was lowered to fit (clamp: true). */
  clamped: boolean;
  /** estimatedCostUsd split into its input and output parts (they sum to it to the nano-dollar). */
  estimate: { inputUsd: number; outputUsd: number };
  /** The cap with the least room (the one that blocked, when a cap blocked); null when no cap applies. */
  limit: DecisionLimit | null;
  /** The largest output bound that fits every cap with this input; null when no cap applies. */
  maxTokensOut: number | null;
  /** What to change when the output bound is what does not fit, e.g. "set max_tokens <= 1234". */
  hint: string | null;
}

export interface RecordRequest {
  model: string;
  tokensIn: number;
  tokensOut: number;
  /** Input tokens read from the provider's prompt cache (part of tokensIn). */
  cachedTokensIn?: number | undefined;
  /** Input tokens written to the provider's prompt cache (part of tokensIn). */
  cacheWriteTokensIn?: number | undefined;
  costUsd?: number | undefined;
  wasBlocked?: boolean | undefined;
  endUserId?: string | undefined;
  runId?: string | null | undefined;
  reservationId?: string | null | undefined;
  /** Recording the same key twice counts once. Generated when absent. */
  idempotencyKey?: string | undefined;
  /** As in CheckRequest: the provider whose price the model is charged at. */
  provider?: string | undefined;
  /** As in CheckRequest: the spend counts toward each tag's usage (pass the check's tags). */
  tags?: Record<string, string> | undefined;
}

export interface RecordResult {
  accepted: number;
  duplicates: number;
}

/** `abandoned`: ended by the ledger after the idle TTL (runIdleTtlMs) with no activity. */
export const RUN_STATUSES = ['open', 'ended', 'abandoned'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface RunInfo {
  runId: string;
  label: string | null;
  /** The run this one is nested in (its cap applies too; its spend includes this run's). */
  parentRunId: string | null;
  status: RunStatus;
  /** A call was blocked by this run's cap (or, for a nested run, by an ancestor's). */
  exhausted: boolean;
  budgetCapUsd: number | null;
  /** Includes the spend of nested runs (as do heldUsd, calls, blockedCalls, unpricedCalls). */
  spendUsd: number;
  heldUsd: number;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  /** Calls whose output bound was clamped to fit the caps. */
  clampedCalls: number;
  /** Records whose real cost exceeded their hold (the call cost more than was held). */
  overHolds: number;
  startedAt: string;
  endedAt: string | null;
  /** Alert thresholds of the run's cap (percents); absent when none. */
  alertAt?: number[];
}

export interface EndRunResult {
  runId: string;
  status: 'completed' | 'exhausted';
  spendUsd: number;
  budgetCapUsd: number | null;
  calls: number;
  blockedCalls: number;
  startedAt: string;
  endedAt: string;
}

/** What ending a run answers: its end result, and the whole run as it now stands (label, holds, unpriced calls...). */
export interface EndedRun extends EndRunResult {
  run: RunInfo;
}

export interface StartRunRequest {
  budgetCapUsd?: number | null | undefined;
  label?: string | undefined;
  /** Start a nested run: checks on it are checked against the parent's cap (and its ancestors') too. */
  parentRunId?: string | null | undefined;
  /** Alert thresholds of the run's cap, in percent of it (see docs/semantics.md, alerts). */
  alertAt?: readonly number[] | undefined;
}

/**
 * 'model': a cap on the calls whose model matches a glob, for the whole project or (with userId) one user.
 * 'tag': a cap on the calls that carry one tag (`feature=search`), project-wide.
 */
export const BUDGET_SCOPES = ['project', 'user', 'default_user', 'model', 'tag'] as const;
export type BudgetScope = (typeof BUDGET_SCOPES)[number];

export interface Budget {
  scope: BudgetScope;
  /** The end user id for scope "user" (and a per-user "model" cap); null otherwise. */
  userId: string | null;
  /** The model glob of scope "model" (`claude-opus-*`); absent for the other scopes. */
  model?: string;
  /** The tag of scope "tag" (`feature=search`); absent for the other scopes. */
  tag?: string;
  capUsd: number;
  period: Period;
  /** Spend in the current window of the period (UTC). */
  spentUsd: number;
  heldUsd: number;
  /** Calls recorded in the current window with no known price (counted at $0). */
  unpricedCalls: number;
  windowStart: string;
  /** Alert thresholds (percents of capUsd); absent when none. */
  alertAt?: number[];
}

export interface SetBudgetRequest {
  scope: BudgetScope;
  /** Scope "user"; with scope "model", makes the model cap that user's only. */
  userId?: string | undefined;
  /** Scope "model": the glob over model names (`*` any run of characters, `?` one). */
  model?: string | undefined;
  /** Scope "tag": the tag, `key=value`. */
  tag?: string | undefined;
  /** null removes the cap. */
  capUsd: number | null;
  period?: Period | undefined;
  /** Alert thresholds in percent of the cap (1..1000). Absent: the cap keeps the ones it has; []: none. */
  alertAt?: readonly number[] | undefined;
}

export const SPEND_GROUPS = ['user', 'run', 'model', 'day'] as const;
/** `tag:KEY` groups by the value of one tag key (calls without it: key null). */
export type SpendGroupBy = (typeof SPEND_GROUPS)[number] | `tag:${string}`;

export interface SpendQuery {
  by?: SpendGroupBy | undefined;
  /** Only the spend of this run (its nested runs' records carry their own run id). */
  runId?: string | undefined;
  /** ISO date or date-time, inclusive. */
  since?: string | undefined;
  /** ISO date or date-time, exclusive. */
  until?: string | undefined;
}

export interface SpendRow {
  key: string | null;
  spendUsd: number;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  tokensIn: number;
  tokensOut: number;
}

export interface SpendReport {
  by: SpendGroupBy | null;
  since: string | null;
  until: string | null;
  totalUsd: number;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  rows: SpendRow[];
}

export const EVENT_KINDS = ['check', 'record', 'run_start', 'run_end', 'budget', 'alert'] as const;
/** 'alert': a threshold of a cap was reached (ref: the alert id, amount: the window's spend). */
export type EventKind = (typeof EVENT_KINDS)[number];

/** The caps an alert can be of. */
export const ALERT_SCOPES = ['project', 'user', 'model', 'run', 'tag'] as const;
export type AlertScope = (typeof ALERT_SCOPES)[number];

/**
 * A threshold of a cap reached in a window: fired once per (scope, subject, window,
 * threshold), in the transaction of the record that reached it. See docs/semantics.md.
 */
export interface Alert {
  /** Firing order in the ledger (a polling cursor: AlertQuery.afterSeq). */
  seq: number;
  /** Stable: the idempotency id a receiver can dedupe deliveries by. */
  id: string;
  projectId: string;
  scope: AlertScope;
  /** What the cap is on: the user id, the model glob, the run id, the tag (key=value); null for the project. */
  subject: string | null;
  /** The user of a user cap or of a per-user model cap; null otherwise. */
  userId: string | null;
  threshold: number;
  /** Recorded spend in the window when it fired (holds are not counted). */
  spentUsd: number;
  capUsd: number;
  period: Period;
  /** The window's key (periods.ts windowKey: d2026-12-02, m2026-12, total...). */
  window: string;
  firedAt: string;
  /** null while it waits in the delivery queue (or when no webhook or command is configured). */
  deliveredAt: string | null;
  attempts: number;
  lastError: string | null;
}

export interface AlertQuery {
  runId?: string | undefined;
  /** Only alerts fired after this one (by firing order): a cursor for polling. */
  afterSeq?: number | undefined;
  limit?: number | undefined;
}

/** Which events of the feed to read (GET /v1/events, `noburn events`); absent = any. */
export interface EventQuery {
  /** ISO date or date-time, inclusive (the event's ts). */
  since?: string | undefined;
  /** ISO date or date-time, exclusive. */
  until?: string | undefined;
  kind?: EventKind | undefined;
}

/** One entry of the event feed (dashboard, mirror, GET /v1/events). */
export interface LedgerEvent {
  seq: number;
  ts: string;
  kind: EventKind;
  projectId: string;
  userId: string | null;
  runId: string | null;
  model: string | null;
  /** check: the estimate; record: the cost. */
  amountUsd: number;
  blocked: boolean;
  reason: BlockReason | null;
  unpriced: boolean;
  tokensIn: number;
  tokensOut: number;
  /** Stable across mirrors: the idempotency key of a record, the reservation/decision id of a check, the run id... */
  ref: string | null;
  /** check / record: the call's tags; absent when it has none. */
  tags?: Record<string, string>;
}

export interface UserSummary {
  userId: string;
  /** Spend in the window of the cap that applies (explicit or default), else all-time. */
  spentUsd: number;
  heldUsd: number;
  capUsd: number | null;
  period: Period | null;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
  lastAt: string | null;
}

export interface PriceInfo {
  model: string;
  /** USD per million tokens. */
  inputPerMTok: number;
  outputPerMTok: number;
  cacheReadPerMTok: number | null;
  cacheWritePerMTok: number | null;
  source: 'config' | 'genai-prices' | 'fallback' | 'unknown';
  /** The provider and model the price data matched, when it came from genai-prices. */
  matched: string | null;
}

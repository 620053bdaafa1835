import { formatUsd, nanoToUsd } from '../money.js';
import type { Decision, DecisionLimit } from '../types.js';
import type { StoreDecision, StoreLimit } from './store.js';

/** What the ledger knew about a check before the store decided it. */
export interface CheckContext {
  /** The estimate of the requested call (before any clamp). */
  estimate: number;
  tokensIn: number;
  /** The requested output bound. */
  tokensOut: number;
  unpriced: boolean;
  minTokensOut: number;
  clamp: boolean;
  /** The input part of the estimate (costNano of the input alone). */
  inputNano: number;
}

const BLOCKED_BY_CAP = new Set(['project_budget_exceeded', 'user_budget_exceeded', 'run_budget_exceeded', 'model_budget_exceeded', 'tag_budget_exceeded', 'local_budget_exceeded']);

export function limitOf(l: StoreLimit): DecisionLimit {
  return {
    scope: l.scope,
    capUsd: nanoToUsd(l.capNano),
    spentUsd: nanoToUsd(l.spentNano),
    heldUsd: nanoToUsd(l.heldNano),
    leftUsd: nanoToUsd(Math.max(0, l.capNano - l.spentNano - l.heldNano)),
  };
}

/**
 * The hint of a decision. Names the output bound `max_tokens` whatever the API calls it
 * (max_completion_tokens, max_output_tokens): the figure is what matters.
 */
export function hintOf(d: Pick<StoreDecision, 'blocked' | 'blockReason' | 'clamped' | 'maxTokensOut' | 'tokensOut' | 'limit'>, c: CheckContext): string | null {
  const max = d.maxTokensOut ?? null;
  const l = d.limit ?? null;
  if (max === null || l === null) return null;
  if (!d.blocked) return d.clamped ? `max_tokens clamped to ${max} to fit the ${l.scope} cap` : null;
  if (d.blockReason === null || !BLOCKED_BY_CAP.has(d.blockReason)) return null;
  const left = Math.max(0, l.capNano - l.spentNano - l.heldNano);
  if (c.inputNano > left) return `the input alone ($${formatUsd(c.inputNano)}) exceeds what is left under the ${l.scope} cap ($${formatUsd(left)}): shorten the prompt or raise the cap`;
  if (c.clamp && max < Math.min(c.minTokensOut, c.tokensOut)) {
    return `set max_tokens <= ${max} (below the clamp floor minTokensOut ${c.minTokensOut}) or raise the ${l.scope} cap`;
  }
  return `set max_tokens <= ${max}`;
}

/** The public decision from the store's answer. */
export function decisionOf(d: StoreDecision, c: CheckContext): Decision {
  const remaining: Decision['remaining'] = {};
  if (d.remainingNano.project !== undefined) remaining.projectUsd = nanoToUsd(d.remainingNano.project);
  if (d.remainingNano.user !== undefined) remaining.userUsd = nanoToUsd(d.remainingNano.user);
  if (d.remainingNano.run !== undefined) remaining.runUsd = nanoToUsd(d.remainingNano.run);
  if (d.remainingNano.model !== undefined) remaining.modelUsd = nanoToUsd(d.remainingNano.model);
  if (d.remainingNano.tag !== undefined) remaining.tagUsd = nanoToUsd(d.remainingNano.tag);
  const estimate = d.estimateNano ?? c.estimate;
  const inputNano = Math.min(estimate, c.inputNano);
  return {
    blocked: d.blocked,
    blockReason: d.blockReason,
    estimatedCostUsd: nanoToUsd(estimate),
    reservationId: d.reservationId,
    remaining,
    source: 'ledger',
    unpriced: c.unpriced,
    decisionId: d.decisionId ?? d.reservationId,
    tokensIn: c.tokensIn,
    tokensOut: d.tokensOut ?? c.tokensOut,
    clamped: d.clamped === true,
    estimate: { inputUsd: nanoToUsd(inputNano), outputUsd: nanoToUsd(estimate - inputNano) },
    limit: d.limit ? limitOf(d.limit) : null,
    maxTokensOut: d.maxTokensOut ?? null,
    hint: hintOf(d, c),
  };
}

import { readFileSync } from 'node:fs';
import { NoburnValidationError } from '../../lib/errors.js';
import { tagsObject } from '../../lib/tags.js';
import { ExitCodes } from '../exit-codes.js';
import { usd } from '../format.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { Decision } from '../../lib/types.js';
import type { CheckOptions } from '../specs.js';

/** The refusal figures in one line (docs/cli.md): the cap that blocked, this call's estimate, the hint. */
export function figuresLine(d: Decision): string | null {
  const parts: string[] = [];
  const l = d.limit;
  if (l) parts.push(`${l.scope} cap ${usd(l.capUsd)}: spent ${usd(l.spentUsd)}, held ${usd(l.heldUsd)}, left ${usd(l.leftUsd)}`);
  if (l || d.hint) parts.push(`this call ${usd(d.estimatedCostUsd)} = input ${usd(d.estimate.inputUsd)} (${d.tokensIn} tokens) + output ${usd(d.estimate.outputUsd)} (${d.tokensOut} tokens)`);
  if (d.hint) parts.push(d.hint);
  return parts.length ? `  ${parts.join('; ')}` : null;
}

async function readPrompt(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  // Sync: node:fs/promises costs ~3 ms to load on every `check`, and this is one read.
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new NoburnValidationError(`cannot read --prompt-file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** One line: the cause the guard gave (it names the ledger file or the server), without a trailing period. */
function fallbackReason(cause: unknown): string {
  const msg = cause instanceof Error ? cause.message : cause === null ? '' : String(cause);
  return msg === '' ? 'the noburn authority could not be reached' : `the noburn authority could not decide: ${msg.split('\n')[0]?.replace(/\.$/, '')}`;
}

/**
 * For a model with no price: `  did you mean M1, M2?` on stderr, from the config's prices
 * and the price data (loaded only on this path, so a priced check never pays for it).
 */
async function suggestModels(model: string, out: Output): Promise<void> {
  const [{ resolveConfig }, { didYouMeanLine }] = await Promise.all([import('../../lib/config.js'), import('../../lib/pricing/catalogue.js')]);
  const line = await didYouMeanLine(model, Object.keys(resolveConfig().prices));
  if (line !== null) out.err(`  ${line}`);
}

/** `noburn check`: exit 0 when the call may go ahead (its reservation id on stdout), 1 when blocked. */
export async function checkCommand(opts: CheckOptions, out: Output): Promise<number> {
  if (opts.promptFile !== undefined && opts.tokensIn !== undefined) {
    throw new NoburnValidationError('give either --tokens-in or --prompt-file, not both');
  }
  let tokensIn = opts.tokensIn;
  if (opts.promptFile !== undefined) {
    const { estimateTokens } = await import('../../lib/tokens.js');
    tokensIn = await estimateTokens(await readPrompt(opts.promptFile));
  }
  if (tokensIn === undefined) throw new NoburnValidationError('--tokens-in (or --prompt-file) is required');

  // Why the authority could not decide (the ledger's path and fault, or the server's address).
  let cause: unknown = null;
  const d = await withGuard(
    (g) =>
      g.check({
      model: opts.model,
      estimatedTokensIn: tokensIn,
      estimatedTokensOut: opts.tokensOut,
      endUserId: opts.user,
      runId: opts.run,
      clamp: opts.clamp === true,
      minTokensOut: opts.minTokensOut,
      tags: opts.tag === undefined ? undefined : tagsObject(opts.tag),
    }),
    { onFallback: (e) => (cause = e) },
  );
  if (opts.json) out.json({ ...d, estimatedTokensIn: tokensIn });
  if (d.source === 'fallback') out.err(`warning: ${fallbackReason(cause)}; decided locally (fallback cap, then onError) — see docs/cli.md`);
  if (d.blocked) {
    out.err(`blocked: ${d.blockReason} (${opts.model}, estimated ${usd(d.estimatedCostUsd)})`);
    const figures = figuresLine(d);
    if (figures !== null) out.err(figures);
    if (d.blockReason === 'unknown_model_price') await suggestModels(opts.model, out);
    return ExitCodes.BLOCKED;
  }
  if (!opts.json) {
    if (d.reservationId) out.out(d.reservationId);
    const left = Object.entries(d.remaining).map(([k, v]) => `${k.replace('Usd', '')} ${usd(v)} left`);
    const clamped = d.clamped ? `; clamped: hold ${d.tokensOut} output tokens (asked ${opts.tokensOut}): set max_tokens <= ${d.tokensOut}` : '';
    out.err(`allowed: ${opts.model}, estimated ${usd(d.estimatedCostUsd)}${left.length ? ` (${left.join(', ')})` : ''}${d.unpriced ? ' [unpriced model]' : ''}${clamped}`);
  }
  if (d.unpriced) await suggestModels(opts.model, out);
  return ExitCodes.OK;
}

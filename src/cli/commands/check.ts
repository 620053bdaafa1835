import { readFile } from 'node:fs/promises';
import { NoburnValidationError } from '../../lib/errors.js';
import { ExitCodes } from '../exit-codes.js';
import { usd } from '../format.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';

export interface CheckOptions {
  model: string;
  tokensIn?: number;
  tokensOut: number;
  promptFile?: string;
  user?: string;
  run?: string;
  json?: boolean;
}

async function readPrompt(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new NoburnValidationError(`cannot read --prompt-file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
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

  const d = await withGuard((g) =>
    g.check({ model: opts.model, estimatedTokensIn: tokensIn, estimatedTokensOut: opts.tokensOut, endUserId: opts.user, runId: opts.run }),
  );
  if (opts.json) out.json({ ...d, estimatedTokensIn: tokensIn });
  if (d.source === 'fallback') out.err('warning: the noburn authority could not be reached; decided by the fallback (onError)');
  if (d.blocked) {
    out.err(`blocked: ${d.blockReason} (${opts.model}, estimated ${usd(d.estimatedCostUsd)})`);
    return ExitCodes.BLOCKED;
  }
  if (!opts.json) {
    if (d.reservationId) out.out(d.reservationId);
    const left = Object.entries(d.remaining).map(([k, v]) => `${k.replace('Usd', '')} ${usd(v)} left`);
    out.err(`allowed: ${opts.model}, estimated ${usd(d.estimatedCostUsd)}${left.length ? ` (${left.join(', ')})` : ''}${d.unpriced ? ' [unpriced model]' : ''}`);
  }
  return ExitCodes.OK;
}

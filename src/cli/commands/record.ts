import { tagsObject } from '../../lib/tags.js';
import { ExitCodes } from '../exit-codes.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { RecordOptions } from '../specs.js';

/** `noburn record`: settles a call's real cost; waits until the authority has it. */
export async function recordCommand(opts: RecordOptions, out: Output): Promise<number> {
  const result = await withGuard(async (g) => {
    // An unknown run id is a user error here (exit 5), not a silently orphaned record.
    const runId = opts.run ?? g.config.runId;
    if (runId) await g.getRun(runId);
    return g.recordNow({
      model: opts.model,
      tokensIn: opts.tokensIn,
      tokensOut: opts.tokensOut,
      cachedTokensIn: opts.cachedTokensIn,
      costUsd: opts.cost,
      wasBlocked: opts.blocked === true,
      endUserId: opts.user,
      runId: opts.run,
      reservationId: opts.reservation,
      idempotencyKey: opts.idempotencyKey,
      tags: opts.tag === undefined ? undefined : tagsObject(opts.tag),
    });
  });
  if (opts.json) out.json(result);
  if (result.queued > 0) {
    out.err('the server could not be reached: the record waits in the outbox and will be delivered once (do not retry it)');
  } else if (!opts.json) {
    out.err(result.duplicates > 0 ? 'already recorded (same idempotency key): counted once' : 'recorded');
  }
  return ExitCodes.OK;
}

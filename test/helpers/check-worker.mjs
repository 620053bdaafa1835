// A worker process for the no-overshoot test: opens the ledger through the built library
// (dist/index.js), says "ready", waits for a line on stdin (the start signal, so that all
// workers hit the ledger at the same moment), runs its checks as fast as it can, and prints
// one JSON line with what it saw.
// usage: node check-worker.mjs <path of dist/index.js> '<json spec>'
import { pathToFileURL } from 'node:url';

const [indexPath, specText] = process.argv.slice(2);
const spec = JSON.parse(specText);
const { NoburnGuard } = await import(pathToFileURL(indexPath).href);

const guard = new NoburnGuard();
await guard.price(spec.model); // opens the ledger file before the start signal

process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.pause();

const result = { approved: 0, blocked: 0, reasons: {}, reservations: [], estimates: [], sources: [], clamped: 0, heldNano: 0 };
for (let i = 0; i < spec.attempts; i++) {
  const d = await guard.check({
    model: spec.model,
    estimatedTokensIn: spec.tokensIn,
    estimatedTokensOut: spec.tokensOut,
    endUserId: spec.endUserId,
    runId: spec.runId ?? null,
    clamp: spec.clamp === true,
    minTokensOut: spec.minTokensOut,
  });
  if (!result.estimates.includes(d.estimatedCostUsd)) result.estimates.push(d.estimatedCostUsd);
  if (!result.sources.includes(d.source)) result.sources.push(d.source);
  if (d.blocked) {
    result.blocked++;
    result.reasons[d.blockReason] = (result.reasons[d.blockReason] ?? 0) + 1;
  } else {
    result.approved++;
    result.reservations.push(d.reservationId);
    if (d.clamped) result.clamped++;
    result.heldNano += Math.round(d.estimatedCostUsd * 1e9);
  }
}
await guard.close();
process.stdout.write(JSON.stringify(result) + '\n');

import type { SpendReport, SpendRow } from '../../lib/types.js';
import { usd, table } from '../format.js';

/** What `noburn run -- CMD` reports when the child is gone (stderr as text, or stdout with --json). */
export interface ModelLine extends Pick<SpendRow, 'calls' | 'blockedCalls' | 'tokensIn' | 'tokensOut'> {
  model: string;
  /** Cache reads the proxy saw (the ledger's spend report does not split them out); 0 without the proxy. */
  cachedTokensIn: number;
  /** The ledger's spend of the model in the run; null when the model has no price. */
  spendUsd: number | null;
}

/**
 * The run's top models, from the ledger's spend of the run by model: the calls made through
 * the proxy and those made through the library with NOBURN_RUN_ID alike. Most spent first.
 */
export function modelLines(byModel: SpendReport, proxySaw: readonly { model: string; cachedTokensIn: number }[] = []): ModelLine[] {
  const cached = new Map(proxySaw.map((s) => [s.model, s.cachedTokensIn]));
  const lines = byModel.rows.map(
    (r): ModelLine => ({
      model: r.key ?? 'unknown',
      calls: r.calls,
      blockedCalls: r.blockedCalls,
      tokensIn: r.tokensIn,
      tokensOut: r.tokensOut,
      cachedTokensIn: cached.get(r.key ?? '') ?? 0,
      // Unpriced calls are recorded at $0: a model with only those has no price.
      spendUsd: r.unpricedCalls > 0 && r.spendUsd === 0 ? null : r.spendUsd,
    }),
  );
  return lines.sort((a, b) => (b.spendUsd ?? 0) - (a.spendUsd ?? 0) || b.calls - a.calls);
}

export interface RunSummary {
  runId: string;
  label: string | null;
  /** completed, or exhausted (a call was blocked by the run cap). */
  status: 'completed' | 'exhausted';
  command: string[];
  exitCode: number;
  /** The signal that ended the child, if one did. */
  signal: string | null;
  /** The child was stopped by --stop-on-exhaust. */
  stoppedOnExhaust: boolean;
  /** The authority could not be reached at the end: the run's end is queued, the figures are the wrapper's own. */
  endQueued?: boolean;
  spendUsd: number;
  budgetCapUsd: number | null;
  calls: number;
  blockedCalls: number;
  /** Calls of models with no price: recorded with their tokens, not in the spend. */
  unpricedCalls: number;
  durationMs: number;
  startedAt: string;
  endedAt: string;
  /** The metering proxy's address, or null with --no-proxy. */
  proxyUrl: string | null;
  /** The run's models, most spent first (at most 5). */
  topModels: ModelLine[];
  /** Calls whose output bound was clamped to fit the caps (the ledger's count for the run). */
  clampedCalls?: number;
  /** Records of the run that cost more than their hold (the ledger's count: input or output above the estimate). */
  overHolds?: number;
  /** Streams the proxy ended at their hold, and answers that reported more output than held (docs/run.md). */
  proxyBounds: { cutStreams: number; overHolds: number };
  /**
   * Through the proxy: calls the upstream failed (4xx/5xx, unreachable; not billed, not in
   * `calls`), and calls noburn could not price, forwarded (--allow-unmetered) or refused.
   */
  proxyCalls: { errors: number; unmeteredForwarded: number; unmeteredRefused: number };
}

/** The command as a shell would show it: arguments with spaces or quotes are quoted. */
export function shellQuote(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

function outcome(s: RunSummary): string {
  if (s.stoppedOnExhaust) return `stopped: run cap reached (exit ${s.exitCode})`;
  if (s.signal) return `killed by ${s.signal} (exit ${s.exitCode})`;
  return `exit ${s.exitCode}`;
}

export function formatSummary(s: RunSummary): string {
  const cap = s.budgetCapUsd === null ? 'no cap' : `of ${usd(s.budgetCapUsd)} cap`;
  const pct = s.budgetCapUsd ? ` (${((s.spendUsd / s.budgetCapUsd) * 100).toFixed(1)}%)` : '';
  const lines = [
    `noburn run ${s.runId}${s.label ? ` "${s.label}"` : ''}: ${s.status}${s.endQueued ? ' (end queued: the authority could not be reached)' : ''}`,
    `  command   ${shellQuote(s.command)}  ->  ${outcome(s)}`,
    `  spend     ${usd(s.spendUsd)} ${cap}${pct}`,
    `  calls     ${s.calls}, ${s.blockedCalls} blocked, ${s.unpricedCalls} unpriced${s.unpricedCalls > 0 ? ' (not in the spend: see noburn prices)' : ''}`,
    `  duration  ${seconds(s.durationMs)}`,
  ];
  const { errors, unmeteredForwarded, unmeteredRefused } = s.proxyCalls;
  if (errors > 0) lines.push(`  errors    ${errors} call${errors === 1 ? '' : 's'} failed upstream (not billed, not counted as calls)`);
  if (unmeteredForwarded > 0 || unmeteredRefused > 0) {
    lines.push(`  unmetered ${unmeteredForwarded} forwarded without metering (not in the spend), ${unmeteredRefused} refused${unmeteredRefused > 0 ? ' (noburn run --allow-unmetered forwards them)' : ''}`);
  }
  const clamped = s.clampedCalls ?? 0;
  const over = s.overHolds ?? 0;
  if (clamped > 0 || over > 0) {
    lines.push(`  holds     ${clamped} call${clamped === 1 ? '' : 's'} clamped to fit the cap, ${over} record${over === 1 ? '' : 's'} cost more than held`);
  }
  const { cutStreams, overHolds } = s.proxyBounds;
  if (cutStreams > 0 || overHolds > 0) lines.push(`  bounds    ${cutStreams} stream${cutStreams === 1 ? '' : 's'} cut at the hold, ${overHolds} answer${overHolds === 1 ? '' : 's'} over the hold`);
  if (s.topModels.length > 0) {
    const rows = s.topModels.map((m) => [
      m.model,
      String(m.calls),
      String(m.blockedCalls),
      String(m.tokensIn),
      String(m.tokensOut),
      m.spendUsd === null ? 'unpriced' : usd(m.spendUsd),
    ]);
    const t = table(['model', 'calls', 'blocked', 'tokens in', 'tokens out', 'spend'], rows);
    lines.push('  top models', ...t.split('\n').map((l) => `    ${l}`));
  } else if (s.proxyUrl === null) {
    lines.push('  (no proxy: only calls made with NOBURN_RUN_ID through the noburn library were counted)');
  }
  return lines.join('\n');
}

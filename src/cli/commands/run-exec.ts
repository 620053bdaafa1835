import { NoburnConfigError, NoburnConflictError } from '../../lib/errors.js';
import type { NoburnGuard } from '../../lib/guard.js';
import { endRunResult } from '../../lib/ledger/ledger.js';
import { tagsObject } from '../../lib/tags.js';
import type { EndRunResult, RunInfo } from '../../lib/types.js';
import type { RunningProxy, Upstreams } from '../../proxy/index.js';
import { ExitCodes } from '../exit-codes.js';
import { cliGuard } from '../guard.js';
import type { Output } from '../output.js';
import { exitCodeOf, superviseChild, type ChildOutcome, type SupervisedChild } from '../run-exec/child.js';
import { resolveCommand } from '../run-exec/resolve-command.js';
import { watchRunAlerts } from '../run-exec/alert-lines.js';
import { formatSummary, modelLines, type ModelLine, type RunSummary } from '../run-exec/summary.js';
import type { RunExecOptions } from '../specs.js';

/** Set by `noburn run` for its child: the real upstreams behind its proxy, as JSON. */
const UPSTREAMS_ENV = 'NOBURN_UPSTREAMS';

// How often --stop-on-exhaust looks at the run for blocks the proxy did not see (calls
// the child checked itself through the library with NOBURN_RUN_ID).
const EXHAUST_POLL_MS = 500;

/**
 * `noburn run [--cap USD] [--alert-at 50,80] [--label S] [--no-proxy] [--no-clamp] [--stop-on-exhaust] -- COMMAND [ARGS...]`
 * (docs/run.md). Exit code: the child's own; 128+N when signal N ended it; 124 when
 * --stop-on-exhaust stopped it; 127 / 126 when COMMAND is not found / not executable.
 */
export async function runExecCommand(command: string[], opts: RunExecOptions, out: Output): Promise<number> {
  const name = command[0] ?? '';
  const resolved = resolveCommand(name, process.env, process.cwd());
  if (!resolved.ok) {
    out.err(`noburn: ${name}: ${resolved.reason === 'not_found' ? 'command not found' : 'cannot execute'} (${resolved.detail})`);
    return resolved.reason === 'not_found' ? ExitCodes.COMMAND_NOT_FOUND : ExitCodes.COMMAND_NOT_EXECUTABLE;
  }
  const upstreams = opts.proxy === false ? null : await upstreamsFromEnv(process.env);

  // Lives as long as the child, metering every call: a long-lived guard. In an outage it
  // enforces the run's cap itself (docs/contract.md, "Outages"); say so once.
  let warned = false;
  const onFallback = (cause: unknown): void => {
    if (warned) return;
    warned = true;
    out.err(`noburn: ${cause instanceof Error ? cause.message : String(cause)}; the run cap is enforced locally until the authority answers`);
  };
  const guard = cliGuard({ longLived: true, onFallback });
  // NOBURN_STOP_GRACE_MS / stopGraceMs: a bad value is a config error before any run starts.
  const graceMs = guard.config.stopGraceMs;
  try {
    // Inside another `noburn run`: this run is a child of that one, so both caps apply and
    // each call is recorded once (docs/run.md, "Nested runs").
    const parentRunId = process.env['NOBURN_RUN_ID'] || null;
    const run = await guard.startRun({ budgetCapUsd: opts.cap ?? null, label: opts.label, parentRunId, alertAt: opts.alertAt });
    // Its own cap's alerts, on stderr as they fire (the feed and the configured webhook get them too).
    const alerts = opts.alertAt !== undefined && opts.alertAt.length > 0 ? watchRunAlerts(guard, run.runId, (l) => out.err(l)) : null;
    let proxy: RunningProxy | null = null;
    let outcome: ChildOutcome;
    try {
      let child: SupervisedChild | null = null;
      const onExhausted = (): void => {
        if (opts.stopOnExhaust) child?.stop();
      };
      if (upstreams) {
        // Remote mode: the proxy decides the run's calls from leases of its room where they fit (docs/run.md).
        await guard.ownRun(run.runId);
        proxy = await openProxy(guard, run.runId, upstreams, onExhausted, opts);
      }
      child = superviseChild({ path: resolved.path, argv0: name, args: command.slice(1), env: childEnv(guard, run.runId, proxy, upstreams), graceMs });
      const poll = opts.stopOnExhaust ? pollExhaustion(guard, run.runId, onExhausted) : null;
      outcome = await child.done;
      poll?.stop();
    } catch (e) {
      // The command never ran: do not leave its run open.
      alerts?.stop();
      await proxy?.close(0);
      await guard.endRun(run.runId).catch(() => undefined);
      throw e;
    }
    // Requests still in flight are recorded before the run ends.
    await proxy?.close();
    const { result: ended, run: info, queued: endQueued } = await endRun(guard, run);
    alerts?.stop();
    await alerts?.drain();
    if (endQueued) out.err(`noburn: the authority cannot be reached: run ${run.runId} ends when it answers again (figures below are this wrapper's own)`);
    // Every report shows the unpriced count (contract §3): from the run the end answered with.
    const unpricedCalls = info?.unpricedCalls ?? 0;

    if (outcome.spawnError) {
      const e = outcome.spawnError;
      out.err(`noburn: ${name}: cannot be started (${e.code ?? e.message})`);
      return e.code === 'ENOENT' ? ExitCodes.COMMAND_NOT_FOUND : ExitCodes.COMMAND_NOT_EXECUTABLE;
    }
    const exitCode = outcome.stopped ? ExitCodes.EXHAUSTED : exitCodeOf(outcome.code, outcome.signal);
    const summary: RunSummary = {
      runId: ended.runId,
      label: run.label,
      status: ended.status,
      command,
      exitCode,
      signal: outcome.signal,
      stoppedOnExhaust: outcome.stopped,
      endQueued,
      spendUsd: ended.spendUsd,
      budgetCapUsd: ended.budgetCapUsd,
      calls: ended.calls,
      blockedCalls: ended.blockedCalls,
      unpricedCalls,
      clampedCalls: info?.clampedCalls ?? 0,
      overHolds: info?.overHolds ?? 0,
      durationMs: Math.round(outcome.durationMs),
      startedAt: ended.startedAt,
      endedAt: ended.endedAt,
      proxyUrl: proxy?.origin ?? null,
      topModels: await topModels(guard, run.runId, proxy),
      proxyBounds: boundsOf(proxy),
      proxyCalls: proxyCallsOf(proxy),
    };
    if (opts.json) out.json(summary);
    else out.err(formatSummary(summary));
    return exitCode;
  } finally {
    await guard.close();
  }
}

/** The run's top models from the ledger; none when it cannot be read (the summary still stands). */
async function topModels(guard: NoburnGuard, runId: string, proxy: RunningProxy | null): Promise<ModelLine[]> {
  const report = await guard.spend({ by: 'model', runId }).catch(() => null);
  return report ? modelLines(report, proxy?.stats()).slice(0, 5) : [];
}

function proxyCallsOf(proxy: RunningProxy | null): RunSummary['proxyCalls'] {
  if (!proxy) return { errors: 0, unmeteredForwarded: 0, unmeteredRefused: 0 };
  const u = proxy.unmetered();
  return { errors: proxy.stats().reduce((n, s) => n + s.errors, 0), unmeteredForwarded: u.forwarded, unmeteredRefused: u.refused };
}

async function openProxy(guard: NoburnGuard, runId: string, upstreams: Upstreams, onExhausted: () => void, opts: RunExecOptions): Promise<RunningProxy> {
  // Loaded only here: `noburn run --` is the one command that needs the proxy and tokenizer.
  const [{ startProxy, preconnectOrigins }, { estimateTokens }] = await Promise.all([import('../../proxy/index.js'), import('../../lib/tokens.js')]);
  return startProxy({
    guard,
    runId,
    upstreams,
    countTokens: estimateTokens,
    // Before the child starts, so its first call does not pay for the tokenizer and JIT.
    warmUp: true,
    // And its first call finds a connection to its upstream open.
    preconnect: preconnectOrigins(upstreams, process.env),
    clamp: opts.clamp !== false,
    defaultUser: opts.user ?? null,
    defaultTags: opts.tag === undefined ? undefined : tagsObject(opts.tag),
    allowUnmetered: opts.allowUnmetered === true || guard.config.allowUnmetered,
    azureDeployments: { ...guard.config.azureDeployments, ...Object.fromEntries(opts.azureDeployment ?? []) },
    onBlocked: (reason) => {
      if (reason === 'run_budget_exceeded') onExhausted();
    },
  });
}

function boundsOf(proxy: RunningProxy | null): RunSummary['proxyBounds'] {
  const stats = proxy?.stats() ?? [];
  return { cutStreams: stats.reduce((n, s) => n + s.cutStreams, 0), overHolds: stats.reduce((n, s) => n + s.overHolds, 0) };
}

/**
 * The run ends when the child does; if someone ended it meanwhile, report it as it stands;
 * if the authority cannot be reached, the end is queued (delivered after the run's records).
 */
async function endRun(guard: NoburnGuard, run: RunInfo): Promise<{ result: EndRunResult; run: RunInfo | null; queued: boolean }> {
  try {
    return await guard.endRunOrQueue(run.runId);
  } catch (e) {
    if (!(e instanceof NoburnConflictError)) throw e;
    const now = await guard.getRun(run.runId);
    return { result: endRunResult(now), run: now, queued: false };
  }
}

function pollExhaustion(guard: NoburnGuard, runId: string, onExhausted: () => void): { stop(): void } {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    guard.getRun(runId).then(
      (r) => {
        busy = false;
        if (r.exhausted) onExhausted();
      },
      () => {
        busy = false;
      },
    );
  }, EXHAUST_POLL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The child's environment: everything noburn has, plus the run and, with the proxy, the base URLs. */
function childEnv(guard: NoburnGuard, runId: string, proxy: RunningProxy | null, upstreams: Upstreams | null): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NOBURN_RUN_ID: runId, NOBURN_HOME: guard.config.home };
  // The real upstreams travel with the child, so that a nested `noburn run` forwards to them
  // instead of through this proxy (which would record every call a second time).
  if (proxy) Object.assign(env, proxy.env, { NOBURN_PROXY_URL: proxy.url, [UPSTREAMS_ENV]: JSON.stringify(upstreams) });
  return env;
}

/**
 * The upstreams are what each provider's base-URL variables (OPENAI_BASE_URL,
 * ANTHROPIC_BASE_URL... from the adapter table) named before noburn replaced them;
 * checked here, before the run starts, by the proxy's own route table.
 */
async function upstreamsFromEnv(env: NodeJS.ProcessEnv): Promise<Upstreams> {
  const routes = await import('../../proxy/routes.js');
  const upstreams = { ...routes.upstreamsFromEnv(env), ...outerUpstreams(env) };
  routes.routeTable(upstreams);
  return upstreams;
}

/** The real upstreams an outer `noburn run` passed down (its base URLs in the env are its own proxy's). */
function outerUpstreams(env: NodeJS.ProcessEnv): Upstreams {
  const raw = env[UPSTREAMS_ENV];
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) {
    throw new NoburnConfigError(`${UPSTREAMS_ENV} must be a JSON object of provider base URLs (it is set by an outer noburn run)`);
  }
  return parsed as Upstreams;
}


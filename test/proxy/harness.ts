/**
 * What the in-process proxy suites share: one fake upstream per file (its served list
 * emptied before each test), and per test a home with fixed prices, the real guard on its
 * SQLite ledger, a run and the proxy for it, closed and removed after the test.
 */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { estimateTokens } from '../../src/lib/tokens.js';
import type { RunInfo } from '../../src/lib/types.js';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../src/proxy/index.js';
import { startFakeUpstream, type FakeUpstream } from '../fixtures/fake-upstream.js';
import { makeHome, type TestPrice } from './helpers.js';

export interface ProxyRun {
  home: ReturnType<typeof makeHome>;
  guard: NoburnGuard;
  runId: string;
  proxy: RunningProxy;
}

export interface OpenOptions {
  prices?: Record<string, TestPrice>;
  /** The run's cap (default none). */
  capUsd?: number | null;
  /** Proxy options beyond the guard and run (default upstreams: the fake's OpenAI and Anthropic bases). */
  proxy?: Partial<Omit<ProxyOptions, 'guard' | 'runId'>>;
}

export interface ProxySuite {
  readonly upstream: FakeUpstream;
  readonly home: ProxyRun['home'];
  readonly runId: string;
  /** This test's guard and proxy. A test may replace them (closing the old ones itself): the last ones are closed after it. */
  guard: NoburnGuard;
  proxy: RunningProxy;
  /** Opens this test's run and its proxy (closed after the test). */
  open(opts?: OpenOptions): Promise<void>;
  /** Closes the proxy (its records are then in), flushes the guard and reads the run. */
  settled(): Promise<RunInfo>;
}

/** Call at the top of a test file. */
export function useProxySuite(upstreamOpts?: Parameters<typeof startFakeUpstream>[0]): ProxySuite {
  let upstream: FakeUpstream | undefined;
  let run: ProxyRun | undefined;
  beforeAll(async () => {
    upstream = await startFakeUpstream(upstreamOpts);
  });
  afterAll(async () => {
    await upstream?.close();
  });
  beforeEach(() => {
    if (upstream) upstream.served.length = 0;
  });
  afterEach(async () => {
    const r = run;
    run = undefined;
    if (!r) return;
    await r.proxy.close();
    await r.guard.close();
    r.home.cleanup();
  });
  const up = (): FakeUpstream => {
    if (!upstream) throw new Error('useProxySuite(): the upstream starts in beforeAll');
    return upstream;
  };
  const current = (): ProxyRun => {
    if (!run) throw new Error('useProxySuite(): open() the run first');
    return run;
  };
  return {
    get upstream() {
      return up();
    },
    get home() {
      return current().home;
    },
    get guard() {
      return current().guard;
    },
    set guard(g) {
      current().guard = g;
    },
    get runId() {
      return current().runId;
    },
    get proxy() {
      return current().proxy;
    },
    set proxy(p) {
      current().proxy = p;
    },
    async open(opts = {}) {
      const home = makeHome(opts.prices);
      const guard = new NoburnGuard({ home: home.home, env: {} });
      const runId = (await guard.startRun({ budgetCapUsd: opts.capUsd ?? null })).runId;
      const proxy = await startProxy({ countTokens: estimateTokens, ...opts.proxy, guard, runId, upstreams: opts.proxy?.upstreams ?? { openai: up().openaiBase, anthropic: up().anthropicBase } });
      run = { home, guard, runId, proxy };
    },
    async settled() {
      const r = current();
      await r.proxy.close();
      await r.guard.flush();
      return r.guard.getRun(r.runId);
    },
  };
}

/**
 * The proxy's warm-up (docs/performance.md, "first proxied call"): with warmUp, calls have
 * gone through the request path before startProxy resolves (and the guard warmed its own),
 * yet nothing reached the upstream, nothing was checked or counted, and the run's stats
 * are empty; the first real call is then
 * checked, forwarded and recorded once, as any other. With preconnect, one connection to
 * the upstream is opened at start (no request on it) and the first call goes over it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { estimateTokens } from '../../src/lib/tokens.js';
import { startProxy } from '../../src/proxy/index.js';
import type { ProxyGuard } from '../../src/proxy/index.js';
import { startFakeUpstream, type FakeUpstream } from '../fixtures/fake-upstream.js';
import { makeHome } from './helpers.js';

let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream.close();
});

describe('startProxy({ warmUp: true })', () => {
  it('takes calls through the request path before it resolves, touching neither the upstream nor the guard', async () => {
    const home = makeHome();
    const guard = new NoburnGuard({ home: home.home, env: {} });
    const seen = { check: 0, record: 0, release: 0, warmUp: 0 };
    const spy: ProxyGuard = {
      check: (c) => {
        seen.check++;
        return guard.check(c);
      },
      record: (r) => {
        seen.record++;
        guard.record(r);
      },
      release: (id) => {
        seen.release++;
        guard.release(id);
      },
      warmUp: (id, like) => {
        seen.warmUp++;
        return guard.warmUp(id, like);
      },
    };
    const counted: string[] = [];
    const countTokens = (t: string) => {
      counted.push(t);
      return estimateTokens(t);
    };
    try {
      const { runId } = await guard.startRun({ budgetCapUsd: 1 });
      const proxy = await startProxy({ guard: spy, runId, upstreams: { openai: upstream.openaiBase }, countTokens, warmUp: true, preconnect: [upstream.url], defaultUser: 'u-warm', defaultTags: { team: 'a' } });
      try {
        // The warm-up's own request text was estimated: its calls went through handleRequest.
        expect(counted.some((t) => t.includes('Say something warm.'))).toBe(true);
        expect(upstream.served).toHaveLength(0);
        // The preconnection: open, carrying nothing.
        for (let i = 0; i < 100 && upstream.connections === 0; i++) await new Promise((r) => setTimeout(r, 10));
        expect(upstream.connections).toBe(1);
        // The guard warmed its own path (rolled back): nothing checked, held or counted.
        expect(seen).toEqual({ check: 0, record: 0, release: 0, warmUp: 1 });
        expect(proxy.stats()).toEqual([]);
        const run = await guard.getRun(runId);
        expect([run.calls, run.blockedCalls, run.spendUsd]).toEqual([0, 0, 0]);
        // Rehearsed as the run's end user, rolled back: the ledger does not know that user.
        expect((await guard.listUsers()).map((u) => u.userId)).not.toContain('u-warm');

        const res = await fetch(`${proxy.url}/openai/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
          body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] }),
        });
        expect(res.status).toBe(200);
        await res.text();
      } finally {
        await proxy.close();
      }
      expect(upstream.served).toHaveLength(1);
      // The first call went over the connection opened at start.
      expect(upstream.connections).toBe(1);
      expect(seen).toEqual({ check: 1, record: 1, release: 0, warmUp: 1 });
      await guard.flush();
      expect((await guard.getRun(runId)).calls).toBe(1);
    } finally {
      await guard.close();
      home.cleanup();
    }
  });
});
